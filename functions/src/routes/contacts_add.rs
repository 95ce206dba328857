//! `POST /contacts`: add a contact by username.

use chathub_shared::http::{authenticate, body_json, json, Response};
use chathub_shared::{contacts, ApiError};
use http::StatusCode;
use lambda_http::Request;

rest_route!("POST" "/contacts" => "contacts-add", StoreOnly);

pub async fn handle(ctx: Context, req: Request) -> Result<Response, ApiError> {
    let caller = authenticate(&ctx, &req)?;
    let contact = contacts::add(&ctx, &caller.sub, body_json(&req)?).await?;
    Ok(json(StatusCode::CREATED, &contact))
}
