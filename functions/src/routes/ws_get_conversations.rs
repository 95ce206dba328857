//! WebSocket `get_conversations`: my conversations: id, name, unread count, last message id.

use chathub_shared::conversations;
use chathub_shared::ws::WsRequest;
use chathub_shared::ApiError;
use serde_json::{json, Value};

ws_route!("get_conversations" => "ws-get-conversations", StoreOnly);

pub async fn handle(ctx: Context, req: WsRequest) -> Result<Value, ApiError> {
    let rows = conversations::mine(&ctx, &req.username)
        .await?
        .into_iter()
        .map(|(conversation, state)| {
            json!({
                "id": conversation.id,
                "name": conversation.display_name(),
                "unread_count": state.unread_count(conversation.last_message_id),
                "last_message_id": conversation.last_message_id,
            })
        })
        .collect();
    Ok(Value::Array(rows))
}
