//! `POST /auth/register`: a new account, signed in.

use chathub_shared::http::{body_json, json, Response};
use chathub_shared::{accounts, ApiError};
use http::StatusCode;
use lambda_http::Request;

rest_route!("POST" "/auth/register" => "auth-register", Signing);

pub async fn handle(ctx: Context, req: Request) -> Result<Response, ApiError> {
    let tokens = accounts::register(&ctx, body_json(&req)?).await?;
    Ok(json(StatusCode::CREATED, &tokens))
}
