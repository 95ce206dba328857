//! WebSocket `get_conversation_info`: a conversation with its members.

use chathub_shared::conversations;
use chathub_shared::ws::{data, WsRequest};
use chathub_shared::{ApiError, ConversationId};
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
struct Fields {
    id: ConversationId,
}

ws_route!("get_conversation_info" => "ws-get-conversation-info", StoreOnly);

pub async fn handle(ctx: Context, req: WsRequest) -> Result<Value, ApiError> {
    let fields: Fields = req.fields()?;
    data(&conversations::get(&ctx, &req.username, &fields.id).await?)
}
