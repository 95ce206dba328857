//! `POST /conversations`: create a conversation (a direct one is deduplicated: 200 with the existing one).

use chathub_shared::http::{authenticate, body_json, json, Response};
use chathub_shared::{conversations, ApiError};
use http::StatusCode;
use lambda_http::Request;

rest_route!("POST" "/conversations" => "conversations-create", Push);

pub async fn handle(ctx: Context, req: Request) -> Result<Response, ApiError> {
    let caller = authenticate(&ctx, &req)?;
    let (conversation, created) = conversations::create(&ctx, &caller.sub, body_json(&req)?, None).await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok(json(status, &conversation))
}
