//! `GET /conversations/{id}/messages`: history: `before`, `after` (catch-up), `limit`.

use chathub_shared::http::{authenticate, conversation_id_param, int_param, json, Response};
use chathub_shared::messages::{self, HistoryQuery};
use chathub_shared::ApiError;
use http::StatusCode;
use lambda_http::Request;

rest_route!("GET" "/conversations/{id}/messages" => "messages-list", StoreOnly);

pub async fn handle(ctx: Context, req: Request) -> Result<Response, ApiError> {
    let caller = authenticate(&ctx, &req)?;
    let query = HistoryQuery {
        before: int_param(&req, "before")?,
        after: int_param(&req, "after")?,
        limit: int_param(&req, "limit")?,
    };
    let history = messages::history(&ctx, &caller.sub, &conversation_id_param(&req)?, query).await?;
    Ok(json(StatusCode::OK, &history))
}
