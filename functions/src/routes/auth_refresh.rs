//! `POST /auth/refresh`: rotates a refresh token into a new token pair.

use chathub_shared::http::{body_json, json, Response};
use chathub_shared::{accounts, ApiError};
use http::StatusCode;
use lambda_http::Request;

rest_route!("POST" "/auth/refresh" => "auth-refresh", PushSigning);

pub async fn handle(ctx: Context, req: Request) -> Result<Response, ApiError> {
    let tokens = accounts::refresh(&ctx, body_json(&req)?).await?;
    Ok(json(StatusCode::OK, &tokens))
}
