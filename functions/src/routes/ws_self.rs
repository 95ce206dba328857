//! WebSocket `self`: my profile.

use chathub_shared::users;
use chathub_shared::ws::{data, WsRequest};
use chathub_shared::ApiError;
use serde_json::Value;

ws_route!("self" => "ws-self", StoreOnly);

pub async fn handle(ctx: Context, req: WsRequest) -> Result<Value, ApiError> {
    data(&users::me(&ctx, &req.username).await?)
}
