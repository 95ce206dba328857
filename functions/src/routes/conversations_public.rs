//! `GET /conversations/public`: public conversations by name prefix.

use chathub_shared::http::{authenticate, json, limit_param, query_param, Response};
use chathub_shared::{conversations, ApiError};
use http::StatusCode;
use lambda_http::Request;

rest_route!("GET" "/conversations/public" => "conversations-public", StoreOnly);

pub async fn handle(ctx: Context, req: Request) -> Result<Response, ApiError> {
    authenticate(&ctx, &req)?;
    let limit = limit_param(&req)?;
    let prefix = query_param(&req, "prefix").unwrap_or_default();
    let page = conversations::public(&ctx, &prefix, query_param(&req, "cursor").as_deref(), limit).await?;
    Ok(json(StatusCode::OK, &page))
}
