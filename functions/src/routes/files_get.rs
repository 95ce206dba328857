//! `GET /files/{file_id}`: 302 to a short-lived download URL (`?redirect=false`: the URL as JSON).

use chathub_shared::http::{authenticate, file_id_param, json, query_param, Response};
use chathub_shared::{files, ApiError};
use http::header::{CACHE_CONTROL, LOCATION};
use http::StatusCode;
use lambda_http::{Body, Request};

rest_route!("GET" "/files/{file_id}" => "files-get", Files);

pub async fn handle(ctx: Context, req: Request) -> Result<Response, ApiError> {
    let caller = authenticate(&ctx, &req)?;
    let download = files::download(&ctx, &caller.sub, &file_id_param(&req)?).await?;
    match query_param(&req, "redirect").as_deref() {
        Some("false") => Ok(json(StatusCode::OK, &download)),
        None | Some("true") => Ok(http::Response::builder()
            .status(StatusCode::FOUND)
            .header(LOCATION, download.url)
            .header(CACHE_CONTROL, "private, no-store")
            .body(Body::Empty)
            .map_err(ApiError::internal)?),
        Some(_) => Err(ApiError::invalid("redirect must be true or false")),
    }
}
