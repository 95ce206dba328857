//! `DELETE /conversations/{id}/messages/{message_id}`: delete a message, leaving a tombstone (author or owner).

use chathub_shared::http::{authenticate, conversation_id_param, message_id_param, no_content, Response};
use chathub_shared::{messages, ApiError};
use lambda_http::Request;

rest_route!("DELETE" "/conversations/{id}/messages/{message_id}" => "messages-delete", Push);

pub async fn handle(ctx: Context, req: Request) -> Result<Response, ApiError> {
    let caller = authenticate(&ctx, &req)?;
    let (id, message_id) = (conversation_id_param(&req)?, message_id_param(&req)?);
    messages::delete(&ctx, &caller.sub, &id, message_id, None).await?;
    Ok(no_content())
}
