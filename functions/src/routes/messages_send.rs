//! `POST /conversations/{id}/messages`: send a message (201; 200 with the original on a repeated `client_id`).

use chathub_shared::http::{authenticate, body_json, conversation_id_param, json, Response};
use chathub_shared::{messages, ApiError};
use http::StatusCode;
use lambda_http::Request;

rest_route!("POST" "/conversations/{id}/messages" => "messages-send", PushFiles);

pub async fn handle(ctx: Context, req: Request) -> Result<Response, ApiError> {
    let caller = authenticate(&ctx, &req)?;
    let id = conversation_id_param(&req)?;
    let (message, created) = messages::send(&ctx, &caller.sub, &id, body_json(&req)?, None).await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok(json(status, &message))
}
