//! WebSocket `edit_message`: edit my message; members hear `message_edited`.

use chathub_shared::messages;
use chathub_shared::ws::{data, WsRequest};
use chathub_shared::ApiError;
use chathub_shared::{ConversationId, MessageId};
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
struct Fields {
    conversation_id: ConversationId,
    message_id: MessageId,
    content: String,
}

ws_route!("edit_message" => "ws-edit-message", Push);

pub async fn handle(ctx: Context, req: WsRequest) -> Result<Value, ApiError> {
    let f: Fields = req.fields()?;
    let origin = Some(&req.connection_id);
    data(&messages::edit(&ctx, &req.username, &f.conversation_id, f.message_id, f.content, origin).await?)
}
