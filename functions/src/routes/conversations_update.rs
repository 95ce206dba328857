//! `PATCH /conversations/{id}`: rename or change the icon (any member).

use chathub_shared::http::{authenticate, body_json, conversation_id_param, json, Response};
use chathub_shared::{conversations, ApiError};
use http::StatusCode;
use lambda_http::Request;

rest_route!("PATCH" "/conversations/{id}" => "conversations-update", PushFiles);

pub async fn handle(ctx: Context, req: Request) -> Result<Response, ApiError> {
    let caller = authenticate(&ctx, &req)?;
    let id = conversation_id_param(&req)?;
    let conversation = conversations::update(&ctx, &caller.sub, &id, body_json(&req)?).await?;
    Ok(json(StatusCode::OK, &conversation))
}
