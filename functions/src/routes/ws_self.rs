//! WebSocket `self`: my profile.

use chathub_shared::users;
use chathub_shared::ws::{data, WsRequest};
use chathub_shared::{ApiError, Ctx};
use serde_json::Value;

ws_route!("self" => "ws-self", chathub_shared::Clients::STORE);

pub async fn handle(ctx: Ctx, req: WsRequest) -> Result<Value, ApiError> {
    data(&users::me(&ctx, &req.username).await?)
}
