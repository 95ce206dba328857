//! `POST /auth/logout`: revokes a session, or with `all` every session of the caller.

use chathub_shared::http::{authenticate, body_json_or_default, no_content, Response};
use chathub_shared::{accounts, ApiError, Ctx};
use lambda_http::Request;

pub async fn handle(ctx: Ctx, req: Request) -> Result<Response, ApiError> {
    let caller = authenticate(&ctx, &req)?;
    accounts::logout(&ctx, &caller, body_json_or_default(&req)?).await?;
    Ok(no_content())
}
