//! WebSocket `$default`: answers frames that are not JSON or name no route.

use chathub_shared::ws::WsRequest;
use chathub_shared::ApiError;
use serde_json::Value;

ws_route!("$default" => "ws-default", stateless);

pub async fn handle(
    _config: std::sync::Arc<chathub_shared::config::Config>,
    req: WsRequest,
) -> Result<Value, ApiError> {
    match (&req.body, req.sent_type()) {
        (Value::Object(_), Some(kind)) => {
            Err(ApiError::bad_request("unknown_type", format!("unknown message type {kind:?}")))
        }
        (Value::Object(_), None) => Err(ApiError::invalid("a frame needs a string type")),
        _ => Err(ApiError::invalid("a frame must be a JSON object")),
    }
}
