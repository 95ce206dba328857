//! WebSocket `mark_read`: move my read marker; my other sockets hear `read_marker`.

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

ws_route!("mark_read" => "ws-mark-read", Push);

pub async fn handle(ctx: Context, req: WsRequest) -> Result<Value, ApiError> {
    let f: Fields = req.fields()?;
    let origin = Some(&req.connection_id);
    data(&messages::mark_read(&ctx, &req.username, &f.conversation_id, f.message_id, origin).await?)
}
