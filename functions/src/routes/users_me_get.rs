//! `GET /users/me`: my profile.

use chathub_shared::http::{authenticate, json, Response};
use chathub_shared::{users, ApiError};
use http::StatusCode;
use lambda_http::Request;

rest_route!("GET" "/users/me" => "users-me-get", StoreOnly);

pub async fn handle(ctx: Context, req: Request) -> Result<Response, ApiError> {
    let caller = authenticate(&ctx, &req)?;
    Ok(json(StatusCode::OK, &users::me(&ctx, &caller.sub).await?))
}
