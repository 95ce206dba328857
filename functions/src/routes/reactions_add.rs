//! `PUT /conversations/{id}/messages/{message_id}/reactions/{reaction}`: add my reaction (again:
//! no change); members hear `reaction_added`.

use chathub_shared::http::{
    authenticate, conversation_id_param, message_id_param, no_content, reaction_param, Response,
};
use chathub_shared::{reactions, ApiError};
use lambda_http::Request;

rest_route!("PUT" "/conversations/{id}/messages/{message_id}/reactions/{reaction}" => "reactions-add", Push);

pub async fn handle(ctx: Context, req: Request) -> Result<Response, ApiError> {
    let caller = authenticate(&ctx, &req)?;
    let (id, message_id, reaction) = (conversation_id_param(&req)?, message_id_param(&req)?, reaction_param(&req)?);
    reactions::add(&ctx, &caller.sub, &id, message_id, &reaction, None).await?;
    Ok(no_content())
}
