//! `GET /conversations/{id}/pins`: the pinned messages, most recently pinned first.

use chathub_shared::http::{authenticate, conversation_id_param, json, Response};
use chathub_shared::{pins, ApiError};
use http::StatusCode;
use lambda_http::Request;

rest_route!("GET" "/conversations/{id}/pins" => "pins-list", StoreOnly);

pub async fn handle(ctx: Context, req: Request) -> Result<Response, ApiError> {
    let caller = authenticate(&ctx, &req)?;
    let pins = pins::list(&ctx, &caller.sub, &conversation_id_param(&req)?).await?;
    Ok(json(StatusCode::OK, &pins))
}
