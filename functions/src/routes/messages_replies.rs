//! `GET /conversations/{id}/messages/{message_id}/replies`: a message's thread, oldest first:
//! `after`, `limit`.

use chathub_shared::http::{
    authenticate, conversation_id_param, int_param, json, limit_param, message_id_param, Response,
};
use chathub_shared::{messages, ApiError};
use http::StatusCode;
use lambda_http::Request;

rest_route!("GET" "/conversations/{id}/messages/{message_id}/replies" => "messages-replies", StoreOnly);

pub async fn handle(ctx: Context, req: Request) -> Result<Response, ApiError> {
    let caller = authenticate(&ctx, &req)?;
    let (conversation, parent) = (conversation_id_param(&req)?, message_id_param(&req)?);
    let (after, limit) = (int_param(&req, "after")?, limit_param(&req)?);
    let thread = messages::replies(&ctx, &caller.sub, &conversation, parent, after, limit).await?;
    Ok(json(StatusCode::OK, &thread))
}
