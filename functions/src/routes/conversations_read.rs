//! `POST /conversations/{id}/read`: move my read marker forward.

use chathub_shared::http::{authenticate, body_json, conversation_id_param, no_content, Response};
use chathub_shared::MessageId;
use chathub_shared::{messages, ApiError};
use lambda_http::Request;
use serde::Deserialize;

#[derive(Deserialize)]
struct Read {
    message_id: MessageId,
}

rest_route!("POST" "/conversations/{id}/read" => "conversations-read", Push);

pub async fn handle(ctx: Context, req: Request) -> Result<Response, ApiError> {
    let caller = authenticate(&ctx, &req)?;
    let read: Read = body_json(&req)?;
    messages::mark_read(&ctx, &caller.sub, &conversation_id_param(&req)?, read.message_id, None).await?;
    Ok(no_content())
}
