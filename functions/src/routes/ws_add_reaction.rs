//! WebSocket `add_reaction`: add my reaction to a message; members hear `reaction_added`.

use chathub_shared::reactions;
use chathub_shared::ws::WsRequest;
use chathub_shared::ApiError;
use chathub_shared::{ConversationId, MessageId};
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize)]
struct Fields {
    conversation_id: ConversationId,
    message_id: MessageId,
    reaction: String,
}

ws_route!("add_reaction" => "ws-add-reaction", Push);

pub async fn handle(ctx: Context, req: WsRequest) -> Result<Value, ApiError> {
    let f: Fields = req.fields()?;
    let origin = Some(&req.connection_id);
    reactions::add(&ctx, &req.username, &f.conversation_id, f.message_id, &f.reaction, origin).await?;
    Ok(json!({}))
}
