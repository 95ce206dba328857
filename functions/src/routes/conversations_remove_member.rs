//! `DELETE /conversations/{id}/members/{username}`: leave (`me`), or the owner removes a member.

use chathub_shared::http::{authenticate, conversation_id_param, no_content, path_param, Response};
use chathub_shared::{conversations, ApiError};
use lambda_http::Request;

rest_route!("DELETE" "/conversations/{id}/members/{username}" => "conversations-remove-member", Push);

pub async fn handle(ctx: Context, req: Request) -> Result<Response, ApiError> {
    let caller = authenticate(&ctx, &req)?;
    let id = conversation_id_param(&req)?;
    conversations::remove_member(&ctx, &caller.sub, &id, &path_param(&req, "username")?).await?;
    Ok(no_content())
}
