//! WebSocket `add_contact`: add a contact by `contact_username`.

use chathub_shared::contacts::{self, AddContactRequest};
use chathub_shared::ws::{data, WsRequest};
use chathub_shared::ApiError;
use serde::Deserialize;
use serde_json::json;
use serde_json::Value;

#[derive(Deserialize)]
struct Fields {
    contact_username: String,
}

ws_route!("add_contact" => "ws-add-contact", StoreOnly);

pub async fn handle(ctx: Context, req: WsRequest) -> Result<Value, ApiError> {
    let fields: Fields = req.fields()?;
    let contact = contacts::add(&ctx, &req.username, AddContactRequest { username: fields.contact_username }).await?;
    Ok(json!({ "message": "contact added", "contact": data(&contact)? }))
}
