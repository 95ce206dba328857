//! WebSocket `$connect authorizer`: the Lambda REQUEST authorizer of the WebSocket API: checks the
//! token from `?token=`, `Authorization: Bearer` or the `login-token` cookie, and that its session
//! was not revoked.

use aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequestTypeRequest;
use chathub_shared::{ws, ApiError, Ctx};
use serde_json::Value;

/// The authorizer's function (binary) name.
pub const FUNCTION: &str = "ws-authorizer";

/// The Lambda binary's whole life: the key and the store once, then `handle` per handshake.
pub async fn main() -> Result<(), lambda_runtime::Error> {
    ws::run_authorizer(handle).await
}

pub async fn handle(ctx: Ctx, request: ApiGatewayCustomAuthorizerRequestTypeRequest) -> Result<Value, ApiError> {
    ws::authorize(&ctx, &request).await
}
