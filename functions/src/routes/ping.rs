//! `GET /ping`: liveness.

use chathub_shared::http::{text, Response};
use chathub_shared::{ApiError, Ctx};
use http::StatusCode;
use lambda_http::Request;

pub async fn handle(_ctx: Ctx, req: Request) -> Result<Response, ApiError> {
    pong(req).await
}

/// The binary runs this without a store.
pub async fn pong(_req: Request) -> Result<Response, ApiError> {
    Ok(text(StatusCode::OK, "pong"))
}
