//! `PATCH /conversations/{id}`: rename or change the icon (any member).

use chathub_shared::http::{authenticate, body_json, json, path_param, Response};
use chathub_shared::{conversations, ApiError, Ctx};
use http::StatusCode;
use lambda_http::Request;

rest_route!("PATCH" "/conversations/{id}" => "conversations-update", chathub_shared::Clients::PUSH_FILES);

pub async fn handle(ctx: Ctx, req: Request) -> Result<Response, ApiError> {
    let caller = authenticate(&ctx, &req)?;
    let id = path_param(&req, "id")?;
    let conversation = conversations::update(&ctx, &caller.sub, &id, body_json(&req)?).await?;
    Ok(json(StatusCode::OK, &conversation))
}
