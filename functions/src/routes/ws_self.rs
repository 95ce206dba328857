//! WebSocket `self`: my profile.

use chathub_shared::auth::Claims;
use chathub_shared::users;
use chathub_shared::ws::{data, WsRequest};
use chathub_shared::{ApiError, Ctx};
use serde_json::Value;

pub async fn handle(ctx: Ctx, req: WsRequest) -> Result<Value, ApiError> {
    let caller = Claims { sub: req.username.clone(), iat: 0, exp: 0, jti: String::new(), sid: None };
    data(&users::me(&ctx, &caller).await?)
}
