//! WebSocket `delete_message`: delete a message (author or owner); members hear `message_deleted`.

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
}

ws_route!("delete_message" => "ws-delete-message", Push);

pub async fn handle(ctx: Context, req: WsRequest) -> Result<Value, ApiError> {
    let f: Fields = req.fields()?;
    let origin = Some(&req.connection_id);
    data(&messages::delete(&ctx, &req.username, &f.conversation_id, f.message_id, origin).await?)
}
