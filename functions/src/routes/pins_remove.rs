//! `DELETE /conversations/{id}/pins/{message_id}`: unpin a message; members hear
//! `message_unpinned`.

use chathub_shared::http::{authenticate, conversation_id_param, message_id_param, no_content, Response};
use chathub_shared::{pins, ApiError};
use lambda_http::Request;

rest_route!("DELETE" "/conversations/{id}/pins/{message_id}" => "pins-remove", Push);

pub async fn handle(ctx: Context, req: Request) -> Result<Response, ApiError> {
    let caller = authenticate(&ctx, &req)?;
    let (id, message_id) = (conversation_id_param(&req)?, message_id_param(&req)?);
    pins::unpin(&ctx, &caller.sub, &id, message_id, None).await?;
    Ok(no_content())
}
