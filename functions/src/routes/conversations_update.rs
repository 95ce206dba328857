//! `PATCH /conversations/{id}`: rename or change the icon (any member).

use chathub_shared::http::{authenticate, body_json, json, path_param, Response};
use chathub_shared::{conversations, ApiError};
use http::StatusCode;
use lambda_http::Request;

rest_route!("PATCH" "/conversations/{id}" => "conversations-update", PushFiles);

pub async fn handle(ctx: Context, req: Request) -> Result<Response, ApiError> {
    let caller = authenticate(&ctx, &req)?;
    let id = path_param(&req, "id")?;
    let conversation = conversations::update(&ctx, &caller.sub, &id, body_json(&req)?).await?;
    Ok(json(StatusCode::OK, &conversation))
}
