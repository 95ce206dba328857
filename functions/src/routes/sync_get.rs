//! `GET /sync?since=&limit=`: the changes that concern me since a cursor, oldest first; without
//! `since`, the current cursor (taken before the client reads its snapshot).

use chathub_shared::http::{authenticate, json, query_param, Response};
use chathub_shared::{sync, ApiError};
use http::StatusCode;
use lambda_http::Request;

rest_route!("GET" "/sync" => "sync-get", StoreOnly);

pub async fn handle(ctx: Context, req: Request) -> Result<Response, ApiError> {
    let caller = authenticate(&ctx, &req)?;
    let limit = sync::parse_limit(query_param(&req, "limit").as_deref())?;
    let since = query_param(&req, "since");
    let page = sync::sync(&ctx, &caller.sub, since.as_deref(), limit, sync::REST_MAX_BYTES).await?;
    Ok(json(StatusCode::OK, &page))
}
