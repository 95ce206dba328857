//! WebSocket `send_message`: send a message; every member's other sockets get it.

use chathub_shared::messages::{self, SendMessage};
use chathub_shared::ws::{data, WsRequest};
use chathub_shared::ApiError;
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
struct Fields {
    conversation_id: String,
    #[serde(flatten)]
    message: SendMessage,
}

ws_route!("send_message" => "ws-send-message", PushFiles);

pub async fn handle(ctx: Context, req: WsRequest) -> Result<Value, ApiError> {
    let fields: Fields = req.fields()?;
    let origin = Some(req.connection_id.as_str());
    let (message, _) = messages::send(&ctx, &req.username, &fields.conversation_id, fields.message, origin).await?;
    data(&message)
}
