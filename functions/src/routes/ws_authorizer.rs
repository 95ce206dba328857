//! WebSocket `$connect authorizer`: the Lambda REQUEST authorizer of the WebSocket API: checks the
//! token from `?token=`, `Authorization: Bearer` or the `login-token` cookie, and that its session
//! was not revoked.

use aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequestTypeRequest;
use chathub_shared::{ws, ApiError, Ctx};
use serde_json::Value;

pub async fn handle(ctx: Ctx, request: ApiGatewayCustomAuthorizerRequestTypeRequest) -> Result<Value, ApiError> {
    ws::authorize(&ctx, &request).await
}
