//! `POST /auth/login`: tokens for a username or email and password, plus the browser cookie.

use chathub_shared::http::{body_json, json, login_cookie, source_ip, Response};
use chathub_shared::{accounts, ApiError};
use http::header::SET_COOKIE;
use http::StatusCode;
use lambda_http::Request;

rest_route!("POST" "/auth/login" => "auth-login", Signing);

pub async fn handle(ctx: Context, req: Request) -> Result<Response, ApiError> {
    let tokens = accounts::login(&ctx, body_json(&req)?, &source_ip(&req)).await?;
    let mut response = json(StatusCode::OK, &tokens);
    response.headers_mut().insert(SET_COOKIE, login_cookie(&tokens.access_token));
    Ok(response)
}
