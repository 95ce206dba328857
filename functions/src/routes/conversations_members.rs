//! `GET /conversations/{id}/members?limit=&cursor=`: the members with their roles (members only).

use chathub_shared::http::{authenticate, conversation_id_param, json, limit_param, query_param, Response};
use chathub_shared::{conversations, ApiError};
use http::StatusCode;
use lambda_http::Request;

rest_route!("GET" "/conversations/{id}/members" => "conversations-members", StoreOnly);

pub async fn handle(ctx: Context, req: Request) -> Result<Response, ApiError> {
    let caller = authenticate(&ctx, &req)?;
    let limit = limit_param(&req)?;
    let id = conversation_id_param(&req)?;
    let page = conversations::members(&ctx, &caller.sub, &id, query_param(&req, "cursor").as_deref(), limit).await?;
    Ok(json(StatusCode::OK, &page))
}
