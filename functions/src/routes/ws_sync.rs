//! WebSocket `sync`: `GET /sync`'s twin (`since?`, `limit?`), a page cut to fit API Gateway's
//! 128 KB.

use chathub_shared::ws::{data, WsRequest};
use chathub_shared::{sync, ApiError};
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
struct Fields {
    since: Option<String>,
    limit: Option<i64>,
}

ws_route!("sync" => "ws-sync", StoreOnly);

pub async fn handle(ctx: Context, req: WsRequest) -> Result<Value, ApiError> {
    let f: Fields = req.fields()?;
    let limit = f.limit.map(|n| n.to_string());
    let limit = sync::parse_limit(limit.as_deref())?;
    let page = sync::sync(&ctx, &req.username, f.since.as_deref(), limit, req.data_budget()).await?;
    data(&page)
}
