//! WebSocket `get_messages`: history: `before`, `after` (catch-up), `limit`; a page cut to fit
//! API Gateway's 128 KB (with `has_more`).

use chathub_shared::messages::{self, HistoryQuery};
use chathub_shared::ws::{data, WsRequest};
use chathub_shared::ApiError;
use chathub_shared::ConversationId;
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
struct Fields {
    conversation_id: ConversationId,
    before: Option<i64>,
    after: Option<i64>,
    limit: Option<i64>,
}

ws_route!("get_messages" => "ws-get-messages", StoreOnly);

pub async fn handle(ctx: Context, req: WsRequest) -> Result<Value, ApiError> {
    let f: Fields = req.fields()?;
    let query = HistoryQuery { before: f.before, after: f.after, limit: f.limit };
    let history = messages::history(&ctx, &req.username, &f.conversation_id, query).await?;
    data(&history.fit(req.data_budget(), f.after.is_some()))
}
