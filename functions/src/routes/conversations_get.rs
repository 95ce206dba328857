//! `GET /conversations/{id}`: a conversation with its members (members only).

use chathub_shared::http::{authenticate, conversation_id_param, json, Response};
use chathub_shared::{conversations, ApiError};
use http::StatusCode;
use lambda_http::Request;

rest_route!("GET" "/conversations/{id}" => "conversations-get", StoreOnly);

pub async fn handle(ctx: Context, req: Request) -> Result<Response, ApiError> {
    let caller = authenticate(&ctx, &req)?;
    let conversation = conversations::get(&ctx, &caller.sub, &conversation_id_param(&req)?).await?;
    Ok(json(StatusCode::OK, &conversation))
}
