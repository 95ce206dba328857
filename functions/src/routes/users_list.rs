//! `GET /users?prefix=&limit=&cursor=`: the user directory.

use chathub_shared::http::{authenticate, json, limit_param, query_param, Response};
use chathub_shared::{users, ApiError};
use http::StatusCode;
use lambda_http::Request;

rest_route!("GET" "/users" => "users-list", StoreOnly);

pub async fn handle(ctx: Context, req: Request) -> Result<Response, ApiError> {
    let caller = authenticate(&ctx, &req)?;
    let limit = limit_param(&req)?;
    let prefix = query_param(&req, "prefix").unwrap_or_default();
    let page = users::list(&ctx, &caller.sub, &prefix, query_param(&req, "cursor").as_deref(), limit).await?;
    Ok(json(StatusCode::OK, &page))
}
