//! `POST /conversations/{id}/join`: join a public conversation.

use chathub_shared::http::{authenticate, conversation_id_param, json, Response};
use chathub_shared::{conversations, ApiError};
use http::StatusCode;
use lambda_http::Request;

rest_route!("POST" "/conversations/{id}/join" => "conversations-join", Push);

pub async fn handle(ctx: Context, req: Request) -> Result<Response, ApiError> {
    let caller = authenticate(&ctx, &req)?;
    let conversation = conversations::join(&ctx, &caller.sub, &conversation_id_param(&req)?).await?;
    Ok(json(StatusCode::OK, &conversation))
}
