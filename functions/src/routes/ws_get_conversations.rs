//! WebSocket `get_conversations`: my conversations: id, name, unread count, last message id.

use chathub_shared::conversations;
use chathub_shared::ws::WsRequest;
use chathub_shared::{ApiError, Ctx};
use serde_json::json;
use serde_json::Value;

pub async fn handle(ctx: Ctx, req: WsRequest) -> Result<Value, ApiError> {
    let mut rows = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = conversations::list(&ctx, &req.username, cursor.as_deref(), 100).await?;
        rows.extend(page.items.into_iter().map(|s| {
            json!({
                "id": s.conversation.id,
                "name": s.conversation.name,
                "unread_count": s.unread_count,
                "last_message_id": s.conversation.last_message_id,
            })
        }));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(Value::Array(rows)),
        }
    }
}
