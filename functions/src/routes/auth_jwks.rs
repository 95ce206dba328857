//! `GET /.well-known/jwks.json`: the public keys that verify access tokens (RFC 7517), for any
//! service that wants to check a Chathub token itself. No authentication; cacheable for five
//! minutes (a rotation publishes the new key well before anything signs with it).

use chathub_shared::http::{json, Response};
use chathub_shared::ApiError;
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderValue, StatusCode};
use lambda_http::Request;

rest_route!("GET" "/.well-known/jwks.json" => "auth-jwks", configured);

pub async fn handle(
    config: std::sync::Arc<chathub_shared::config::Config>,
    _req: Request,
) -> Result<Response, ApiError> {
    let mut response = json(StatusCode::OK, config.keys.jwks());
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/jwk-set+json"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    Ok(response)
}
