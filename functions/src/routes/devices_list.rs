//! `GET /devices`: my devices, most recently registered first.

use chathub_shared::http::{authenticate, json, Response};
use chathub_shared::{notifications, ApiError};
use http::StatusCode;
use lambda_http::Request;

rest_route!("GET" "/devices" => "devices-list", StoreOnly);

pub async fn handle(ctx: Context, req: Request) -> Result<Response, ApiError> {
    let caller = authenticate(&ctx, &req)?;
    let items = notifications::list(&ctx, &caller.sub).await?;
    Ok(json(StatusCode::OK, &serde_json::json!({ "items": items })))
}
