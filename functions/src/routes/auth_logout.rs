//! `POST /auth/logout`: revokes a session, or with `all` every session of the caller; clears the
//! browser cookie.

use chathub_shared::http::{authenticate, body_json_or_default, clear_login_cookie, no_content, Response};
use chathub_shared::{accounts, ApiError};
use http::header::SET_COOKIE;
use lambda_http::Request;

rest_route!("POST" "/auth/logout" => "auth-logout", Push);

pub async fn handle(ctx: Context, req: Request) -> Result<Response, ApiError> {
    let caller = authenticate(&ctx, &req)?;
    accounts::logout(&ctx, &caller, body_json_or_default(&req)?).await?;
    let mut response = no_content();
    response.headers_mut().insert(SET_COOKIE, clear_login_cookie());
    Ok(response)
}
