//! The notifier port (push a payload to a WebSocket connection, or close it), its API Gateway
//! management API adapter, and fan-out with bounded concurrency.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_apigatewaymanagement::primitives::Blob;
use futures_util::stream::{self, StreamExt};
use serde::Serialize;

use crate::Ctx;

/// Pushes in flight at once for one fan-out. A connection takes one post after another, so a
/// room's pace is set by how many connections progress together: with 100 sockets online and
/// `PostToConnection` taking 20 ms, 32 at once sustained ~15 messages/s and 128 sustains 30
/// (docs/benchmarks.md, offered rate). Bounded, for the Lambda's connection pool and API Gateway's
/// per-account rate.
pub const FANOUT_CONCURRENCY: usize = 128;

#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// The connection is gone (410): forget it.
    #[error("connection gone")]
    Gone,
    #[error("push failed: {0}")]
    Failed(String),
}

#[async_trait]
pub trait Notifier: Send + Sync {
    async fn post(&self, connection_id: &str, payload: &[u8]) -> Result<(), PushError>;
    async fn close(&self, connection_id: &str) -> Result<(), PushError>;
}

/// API Gateway's management API (`PostToConnection`, `DeleteConnection`).
pub struct ApiGatewayNotifier {
    client: aws_sdk_apigatewaymanagement::Client,
}

impl ApiGatewayNotifier {
    /// `endpoint`: `https://{api-id}.execute-api.{region}.amazonaws.com/{stage}` on AWS, the local
    /// gateway's WebSocket address locally.
    pub fn with_config(shared: &aws_config::SdkConfig, endpoint: &str) -> Self {
        let config = aws_sdk_apigatewaymanagement::config::Builder::from(shared).endpoint_url(endpoint).build();
        Self { client: aws_sdk_apigatewaymanagement::Client::from_conf(config) }
    }

    /// For the local gateway's own management API, signing with the key pair it checks.
    pub async fn local(endpoint: &str, access_key: &str, secret_key: &str) -> Self {
        Self::with_config(&crate::aws::local_with_keys(access_key, secret_key).await, endpoint)
    }

    /// From `WEBSOCKET_MANAGEMENT_ENDPOINT`, when set.
    pub fn from_env(shared: &aws_config::SdkConfig) -> Option<Self> {
        match std::env::var("WEBSOCKET_MANAGEMENT_ENDPOINT") {
            Ok(endpoint) if !endpoint.is_empty() => Some(Self::with_config(shared, &endpoint)),
            _ => None,
        }
    }
}

#[async_trait]
impl Notifier for ApiGatewayNotifier {
    async fn post(&self, connection_id: &str, payload: &[u8]) -> Result<(), PushError> {
        match self.client.post_to_connection().connection_id(connection_id).data(Blob::new(payload)).send().await {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|se| se.is_gone_exception()) => Err(PushError::Gone),
            Err(e) => Err(PushError::Failed(aws_sdk_apigatewaymanagement::error::DisplayErrorContext(&e).to_string())),
        }
    }

    async fn close(&self, connection_id: &str) -> Result<(), PushError> {
        match self.client.delete_connection().connection_id(connection_id).send().await {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|se| se.is_gone_exception()) => Err(PushError::Gone),
            Err(e) => Err(PushError::Failed(aws_sdk_apigatewaymanagement::error::DisplayErrorContext(&e).to_string())),
        }
    }
}

/// For functions deployed without a WebSocket API: pushes go nowhere.
pub struct NoNotifier;

#[async_trait]
impl Notifier for NoNotifier {
    async fn post(&self, connection_id: &str, _payload: &[u8]) -> Result<(), PushError> {
        tracing::debug!(connection_id, "no WebSocket management endpoint configured; push dropped");
        Ok(())
    }

    async fn close(&self, _connection_id: &str) -> Result<(), PushError> {
        Ok(())
    }
}

/// A server push: the same envelope as an answer, with no `request_id`.
pub fn event<T: Serialize>(kind: &str, data: &T) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({ "type": kind, "success": true, "data": data })).unwrap_or_default()
}

/// What one fan-out did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FanOut {
    pub delivered: usize,
    pub gone: usize,
    pub failed: usize,
}

/// Pushes `payload` to every (username, connection) target, `FANOUT_CONCURRENCY` at a time. A
/// connection that is gone is forgotten (also under `conversation`, where the targets were found);
/// a failed push is logged and never fails the caller.
pub async fn fan_out(
    ctx: &Ctx,
    conversation: Option<&str>,
    targets: Vec<(String, String)>,
    payload: Vec<u8>,
) -> FanOut {
    let payload: Arc<[u8]> = payload.into();
    let results: Vec<(String, String, Result<(), PushError>)> = stream::iter(targets)
        .map(|(user, connection)| {
            let payload = payload.clone();
            async move {
                let result = ctx.notifier.post(&connection, &payload).await;
                (user, connection, result)
            }
        })
        .buffer_unordered(FANOUT_CONCURRENCY)
        .collect()
        .await;
    let mut report = FanOut::default();
    for (user, connection, result) in results {
        match result {
            Ok(()) => report.delivered += 1,
            Err(PushError::Gone) => {
                report.gone += 1;
                forget(ctx, conversation, &user, &connection).await;
            }
            Err(PushError::Failed(e)) => {
                report.failed += 1;
                tracing::warn!(error = %e, connection, "push failed");
            }
        }
    }
    report
}

/// Forgets a connection that is gone (410 from the management API): where it was found. Under a
/// conversation, only that record (the profile loses it at `$disconnect`, or it expires); found
/// on the profile, there.
pub async fn forget(ctx: &Ctx, conversation: Option<&str>, user: &str, connection: &str) {
    let forgotten = match conversation {
        Some(conversation) => {
            ctx.store.unregister_connections(conversation, user, Some(connection), ctx.now_ms()).await
        }
        None => ctx.store.remove_connection(user, connection, ctx.now_ms()).await.map(|_| ()),
    };
    if let Err(e) = forgotten {
        tracing::warn!(error = %e, connection, "could not forget a gone connection");
    }
}

/// Pushes an event to the live sockets of `usernames`, except the connection `skip`.
pub async fn push_to_users<T: Serialize>(
    ctx: &Ctx,
    usernames: &[String],
    skip: Option<&str>,
    kind: &str,
    data: &T,
) -> FanOut {
    let targets = match ctx.store.connections_of(usernames, ctx.now_ms()).await {
        Ok(targets) => targets,
        Err(e) => {
            tracing::warn!(error = %e, kind, "could not look up connections; push skipped");
            return FanOut::default();
        }
    };
    let targets = targets.into_iter().filter(|(_, c)| Some(c.as_str()) != skip).collect();
    fan_out(ctx, None, targets, event(kind, data)).await
}

/// Pushes an event to the live sockets recorded under a conversation (one Query, whatever the
/// room's size), except the connection `skip` and the sockets of `skip_user`.
pub async fn push_to_conversation<T: Serialize>(
    ctx: &Ctx,
    conversation_id: &str,
    skip: Option<&str>,
    skip_user: Option<&str>,
    kind: &str,
    data: &T,
) -> FanOut {
    let targets = match ctx.store.conversation_connections(conversation_id, ctx.now_ms()).await {
        Ok(targets) => targets,
        Err(e) => {
            tracing::warn!(error = %e, kind, "could not look up connections; push skipped");
            return FanOut::default();
        }
    };
    let targets = targets
        .into_iter()
        .filter(|t| Some(t.connection.as_str()) != skip && Some(t.user.as_str()) != skip_user)
        .map(|t| (t.user, t.connection))
        .collect();
    fan_out(ctx, Some(conversation_id), targets, event(kind, data)).await
}
