//! `PATCH /conversations/{id}/messages/{message_id}`: edit my message.

use chathub_shared::http::{authenticate, body_json, conversation_id_param, json, message_id_param, Response};
use chathub_shared::{messages, ApiError};
use http::StatusCode;
use lambda_http::Request;
use serde::Deserialize;

#[derive(Deserialize)]
struct Edit {
    content: String,
}

rest_route!("PATCH" "/conversations/{id}/messages/{message_id}" => "messages-edit", Push);

pub async fn handle(ctx: Context, req: Request) -> Result<Response, ApiError> {
    let caller = authenticate(&ctx, &req)?;
    let (id, message_id) = (conversation_id_param(&req)?, message_id_param(&req)?);
    let edit: Edit = body_json(&req)?;
    let message = messages::edit(&ctx, &caller.sub, &id, message_id, edit.content, None).await?;
    Ok(json(StatusCode::OK, &message))
}
