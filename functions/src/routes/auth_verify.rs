//! `GET /auth/verify`: is my token (bearer or cookie) good, and until when.

use chathub_shared::http::{authenticate, json, Response};
use chathub_shared::{accounts, ApiError};
use http::StatusCode;
use lambda_http::Request;

rest_route!("GET" "/auth/verify" => "auth-verify", StoreOnly);

pub async fn handle(ctx: Context, req: Request) -> Result<Response, ApiError> {
    let caller = authenticate(&ctx, &req)?;
    Ok(json(StatusCode::OK, &accounts::verify(&caller)))
}
