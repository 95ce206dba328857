//! `GET /users/me/blocks?limit=&cursor=`: the users I block, in name order.

use chathub_shared::http::{authenticate, json, limit_param, query_param, Response};
use chathub_shared::{blocks, ApiError};
use http::StatusCode;
use lambda_http::Request;

rest_route!("GET" "/users/me/blocks" => "blocks-list", StoreOnly);

pub async fn handle(ctx: Context, req: Request) -> Result<Response, ApiError> {
    let caller = authenticate(&ctx, &req)?;
    let limit = limit_param(&req)?;
    let page = blocks::list(&ctx, &caller.sub, query_param(&req, "cursor").as_deref(), limit).await?;
    Ok(json(StatusCode::OK, &page))
}
