//! WebSocket `typing`: tell the other members I am typing (not stored).

use chathub_shared::messages;
use chathub_shared::ws::WsRequest;
use chathub_shared::ApiError;
use chathub_shared::ConversationId;
use serde::Deserialize;
use serde_json::json;
use serde_json::Value;

#[derive(Deserialize)]
struct Fields {
    conversation_id: ConversationId,
}

ws_route!("typing" => "ws-typing", Push);

pub async fn handle(ctx: Context, req: WsRequest) -> Result<Value, ApiError> {
    let f: Fields = req.fields()?;
    messages::typing(&ctx, &req.username, &f.conversation_id).await?;
    Ok(json!({}))
}
