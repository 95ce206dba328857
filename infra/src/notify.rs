//! The notify function, run locally: the changes that may call for a push reach it as they reach
//! the deployed function, batched and in order, and what it publishes goes to the embedded push
//! provider (`GET /_local/pushes`) or to an SNS endpoint.
//!
//! On the embedded store the store's own feed carries the changes; on DynamoDB the table's
//! stream does ([`crate::stream`]), read as Lambda's event source mapping reads it.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chathub_shared::notifications::alert::Content;
use chathub_shared::notifications::decision::Change;
use chathub_shared::notifications::deliver::Deliverer;
use chathub_shared::notifications::provider::{PushProvider, Recorder};
use chathub_shared::Ctx;
use http::StatusCode;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::mpsc::UnboundedReceiver;

/// A batch, at most (the event source mapping's `BatchSize` in template.yaml).
pub const BATCH_SIZE: usize = 100;
/// Tries of a batch whose changes failed, before they are given up (Lambda's
/// `MaximumRetryAttempts` in template.yaml, plus the first try).
pub const TRIES: usize = 4;

/// Runs the notify function over the embedded store's feed until the feed ends: each batch is
/// what arrived since the last one, as a stream's shard batches records.
pub fn spawn_feed(
    ctx: Ctx,
    provider: Arc<dyn PushProvider>,
    content: Content,
    mut feed: UnboundedReceiver<Change>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while let Some(first) = feed.recv().await {
            let mut batch = vec![first];
            while batch.len() < BATCH_SIZE {
                match feed.try_recv() {
                    Ok(change) => batch.push(change),
                    Err(_) => break,
                }
            }
            let deliverer = Deliverer { ctx: &ctx, provider: provider.as_ref(), content };
            // As Lambda does with a stream batch: delivered again from its first failed change;
            // after TRIES deliveries that change is given up and the rest goes on.
            let mut pending = batch;
            let mut attempt = 0;
            while !pending.is_empty() {
                let failed = deliverer.deliver(&pending).await;
                let Some((from, _)) = failed.first() else { break };
                for (_, error) in &failed {
                    tracing::warn!(error = %chathub_shared::error::Chain(error), attempt, "notify: a change failed");
                }
                pending = pending.split_off(*from);
                attempt += 1;
                if attempt == TRIES {
                    tracing::error!("notify: a change given up after {TRIES} tries");
                    pending.remove(0);
                    attempt = 0;
                } else {
                    tokio::time::sleep(std::time::Duration::from_millis(50 << attempt)).await;
                }
            }
        }
    })
}

#[derive(Deserialize)]
pub struct PushesQuery {
    username: Option<String>,
}

/// `GET /_local/pushes?username=`: what would have been published, and why not elsewhere.
pub async fn list_pushes(State(recorder): State<Arc<Recorder>>, Query(query): Query<PushesQuery>) -> Response {
    let who = query.username.as_deref().map(str::to_ascii_lowercase);
    let items = recorder.published(who.as_deref());
    let skipped = recorder.skipped_for(who.as_deref());
    Json(json!({ "items": items, "skipped": skipped })).into_response()
}

#[derive(Deserialize)]
pub struct Reject {
    token: String,
}

/// `POST /_local/pushes/reject {token}`: the stand-in platform rejects that token from now on.
pub async fn reject(State(recorder): State<Arc<Recorder>>, body: axum::body::Bytes) -> Response {
    match serde_json::from_slice::<Reject>(&body) {
        Ok(reject) if !reject.token.is_empty() => {
            recorder.reject(&reject.token);
            StatusCode::NO_CONTENT.into_response()
        }
        _ => {
            (StatusCode::BAD_REQUEST, Json(json!({"code": "invalid_request", "detail": "expected {\"token\": \"…\"}"})))
                .into_response()
        }
    }
}
