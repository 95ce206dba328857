//! `GET /conversations/{id}/messages/{message_id}/replies`: a message's thread, oldest first:
//! `after`, `limit`.

use chathub_shared::http::{authenticate, conversation_id_param, json, message_id_param, query_param, Response};
use chathub_shared::{messages, ApiError};
use http::StatusCode;
use lambda_http::Request;

fn number(req: &Request, name: &str) -> Result<Option<i64>, ApiError> {
    query_param(req, name)
        .map(|raw| raw.parse::<i64>().map_err(|_| ApiError::invalid(format!("{name} must be an integer"))))
        .transpose()
}

rest_route!("GET" "/conversations/{id}/messages/{message_id}/replies" => "messages-replies", StoreOnly);

pub async fn handle(ctx: Context, req: Request) -> Result<Response, ApiError> {
    let caller = authenticate(&ctx, &req)?;
    let (conversation, parent) = (conversation_id_param(&req)?, message_id_param(&req)?);
    let (after, limit) = (number(&req, "after")?, number(&req, "limit")?);
    let thread = messages::replies(&ctx, &caller.sub, &conversation, parent, after, limit).await?;
    Ok(json(StatusCode::OK, &thread))
}
