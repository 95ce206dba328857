//! `GET /conversations/{id}/messages`: history: `before`, `after` (catch-up), `limit`.

use chathub_shared::http::{authenticate, conversation_id_param, json, query_param, Response};
use chathub_shared::messages::{self, HistoryQuery};
use chathub_shared::ApiError;
use http::StatusCode;
use lambda_http::Request;

fn number(req: &Request, name: &str) -> Result<Option<i64>, ApiError> {
    query_param(req, name)
        .map(|raw| raw.parse::<i64>().map_err(|_| ApiError::invalid(format!("{name} must be an integer"))))
        .transpose()
}

rest_route!("GET" "/conversations/{id}/messages" => "messages-list", StoreOnly);

pub async fn handle(ctx: Context, req: Request) -> Result<Response, ApiError> {
    let caller = authenticate(&ctx, &req)?;
    let query =
        HistoryQuery { before: number(&req, "before")?, after: number(&req, "after")?, limit: number(&req, "limit")? };
    let history = messages::history(&ctx, &caller.sub, &conversation_id_param(&req)?, query).await?;
    Ok(json(StatusCode::OK, &history))
}
