//! WebSocket `ping`: answers "pong".

use chathub_shared::ws::WsRequest;
use chathub_shared::ApiError;
use serde_json::Value;

ws_route!("ping" => "ws-ping", stateless);

pub async fn handle(
    _config: std::sync::Arc<chathub_shared::config::Config>,
    _req: WsRequest,
) -> Result<Value, ApiError> {
    Ok(Value::String("pong".into()))
}
