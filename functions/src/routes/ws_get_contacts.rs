//! WebSocket `get_contacts`: my contacts' usernames.

use chathub_shared::contacts;
use chathub_shared::ws::{data, WsRequest};
use chathub_shared::ApiError;
use serde_json::json;
use serde_json::Value;

ws_route!("get_contacts" => "ws-get-contacts", StoreOnly);

pub async fn handle(ctx: Context, req: WsRequest) -> Result<Value, ApiError> {
    let usernames = contacts::all_usernames(&ctx, &req.username).await?;
    Ok(json!({ "message": format!("{} contacts", usernames.len()), "contacts": data(&usernames)? }))
}
