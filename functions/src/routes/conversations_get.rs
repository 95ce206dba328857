//! `GET /conversations/{id}`: a conversation with its members (members only).

use chathub_shared::http::{authenticate, json, path_param, Response};
use chathub_shared::{conversations, ApiError};
use http::StatusCode;
use lambda_http::Request;

rest_route!("GET" "/conversations/{id}" => "conversations-get", StoreOnly);

pub async fn handle(ctx: Context, req: Request) -> Result<Response, ApiError> {
    let caller = authenticate(&ctx, &req)?;
    let conversation = conversations::get(&ctx, &caller.sub, &path_param(&req, "id")?).await?;
    Ok(json(StatusCode::OK, &conversation))
}
