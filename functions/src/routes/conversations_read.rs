//! `POST /conversations/{id}/read`: move my read marker forward.

use chathub_shared::http::{authenticate, body_json, no_content, path_param, Response};
use chathub_shared::{messages, ApiError};
use lambda_http::Request;
use serde::Deserialize;

#[derive(Deserialize)]
struct Read {
    #[serde(deserialize_with = "chathub_shared::model::whole_number")]
    message_id: i64,
}

rest_route!("POST" "/conversations/{id}/read" => "conversations-read", Push);

pub async fn handle(ctx: Context, req: Request) -> Result<Response, ApiError> {
    let caller = authenticate(&ctx, &req)?;
    let read: Read = body_json(&req)?;
    messages::mark_read(&ctx, &caller.sub, &path_param(&req, "id")?, read.message_id, None).await?;
    Ok(no_content())
}
