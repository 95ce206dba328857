//! WebSocket `create_conversation`: create a conversation; members hear `conversation_created`.

use chathub_shared::conversations::{self, CreateConversation};
use chathub_shared::ws::{data, WsRequest};
use chathub_shared::ApiError;
use serde_json::Value;

ws_route!("create_conversation" => "ws-create-conversation", Push);

pub async fn handle(ctx: Context, req: WsRequest) -> Result<Value, ApiError> {
    let fields: CreateConversation = req.fields()?;
    let (conversation, _) = conversations::create(&ctx, &req.username, fields, Some(&req.connection_id)).await?;
    data(&conversation)
}
