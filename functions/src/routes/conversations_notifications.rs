//! `PUT /conversations/{id}/notifications`: my notification level and mute for a conversation.

use chathub_shared::http::{authenticate, body_json, conversation_id_param, json, Response};
use chathub_shared::{notifications, ApiError};
use http::StatusCode;
use lambda_http::Request;

rest_route!("PUT" "/conversations/{id}/notifications" => "conversations-notifications", StoreOnly);

pub async fn handle(ctx: Context, req: Request) -> Result<Response, ApiError> {
    let caller = authenticate(&ctx, &req)?;
    let id = conversation_id_param(&req)?;
    let settings = notifications::set(&ctx, &caller.sub, &id, body_json(&req)?).await?;
    Ok(json(StatusCode::OK, &settings))
}
