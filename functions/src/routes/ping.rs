//! `GET /ping`: liveness.

use chathub_shared::http::{text, Response};
use chathub_shared::ApiError;
use http::StatusCode;
use lambda_http::Request;

rest_route!("GET" "/ping" => "ping", configured);

pub async fn handle(
    _config: std::sync::Arc<chathub_shared::config::Config>,
    _req: Request,
) -> Result<Response, ApiError> {
    Ok(text(StatusCode::OK, "pong"))
}
