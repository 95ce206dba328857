//! `PATCH /users/me`: profile fields, email, and password change (which ends my other sessions).

use chathub_shared::http::{authenticate, body_json, json, source_ip, Response};
use chathub_shared::{users, ApiError};
use http::StatusCode;
use lambda_http::Request;

rest_route!("PATCH" "/users/me" => "users-me-patch", PushFiles);

pub async fn handle(ctx: Context, req: Request) -> Result<Response, ApiError> {
    let caller = authenticate(&ctx, &req)?;
    let user = users::update_me(&ctx, &caller, body_json(&req)?, &source_ip(&req)).await?;
    Ok(json(StatusCode::OK, &user))
}
