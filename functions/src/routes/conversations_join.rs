//! `POST /conversations/{id}/join`: join a public conversation.

use chathub_shared::http::{authenticate, json, path_param, Response};
use chathub_shared::{conversations, ApiError};
use http::StatusCode;
use lambda_http::Request;

rest_route!("POST" "/conversations/{id}/join" => "conversations-join", Push);

pub async fn handle(ctx: Context, req: Request) -> Result<Response, ApiError> {
    let caller = authenticate(&ctx, &req)?;
    let conversation = conversations::join(&ctx, &caller.sub, &path_param(&req, "id")?).await?;
    Ok(json(StatusCode::OK, &conversation))
}
