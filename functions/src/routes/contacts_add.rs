//! `POST /contacts`: add a contact by username.

use chathub_shared::http::{authenticate, body_json, json, Response};
use chathub_shared::{contacts, ApiError, Ctx};
use http::StatusCode;
use lambda_http::Request;

rest_route!("POST" "/contacts" => "contacts-add", chathub_shared::Clients::STORE);

pub async fn handle(ctx: Ctx, req: Request) -> Result<Response, ApiError> {
    let caller = authenticate(&ctx, &req)?;
    let contact = contacts::add(&ctx, &caller.sub, body_json(&req)?).await?;
    Ok(json(StatusCode::CREATED, &contact))
}
