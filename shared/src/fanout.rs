//! Fan-out: pushing an event to every live socket of some users or of a conversation, with
//! bounded concurrency, through the notifier port ([`crate::notify`]); connections found gone
//! are forgotten where they were found.

use std::sync::Arc;

use futures_util::stream::{self, StreamExt};
use serde::Serialize;

use crate::clients::{Pushes, With};
use crate::ids::{ConnectionId, ConversationId};
use crate::notify::PushError;
use crate::store::Target;
use crate::Ctx;

/// Pushes in flight at once for one fan-out. A connection takes one post after another, so a
/// room's pace is set by how many connections progress together: with 100 sockets online and
/// `PostToConnection` taking 20 ms, 32 at once sustained ~15 messages/s and 128 sustains 30
/// (docs/benchmarks.md, offered rate). Bounded, for the Lambda's connection pool and API Gateway's
/// per-account rate.
pub const FANOUT_CONCURRENCY: usize = 128;

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

/// Pushes `payload` to every target, `FANOUT_CONCURRENCY` at a time. A connection that is gone
/// is forgotten where it was found ([`Target::found_under`]: under `conversation`, or on the
/// profile); a failed push is logged and never fails the caller.
pub async fn fan_out(
    ctx: &With<impl Pushes>,
    conversation: Option<&ConversationId>,
    targets: Vec<Target>,
    payload: Vec<u8>,
) -> FanOut {
    let payload: Arc<[u8]> = payload.into();
    let results: Vec<(Target, Result<(), PushError>)> = stream::iter(targets)
        .map(|target| {
            let payload = payload.clone();
            async move {
                let result = ctx.pusher().post(&target.connection, &payload).await;
                (target, result)
            }
        })
        .buffer_unordered(FANOUT_CONCURRENCY)
        .collect()
        .await;
    let mut report = FanOut::default();
    for (target, result) in results {
        match result {
            Ok(()) => report.delivered += 1,
            Err(PushError::Gone) => {
                report.gone += 1;
                forget(ctx, target.found_under(conversation), &target.user, &target.connection).await;
            }
            Err(PushError::Failed(e)) => {
                report.failed += 1;
                tracing::warn!(error = %e, connection = %target.connection, "push failed");
            }
        }
    }
    report
}

/// Forgets a connection that is gone (410 from the management API): where it was found. Under a
/// conversation, only that record (the profile loses it at `$disconnect`, or it expires); found
/// on the profile, there.
pub async fn forget(ctx: &Ctx, conversation: Option<&ConversationId>, user: &str, connection: &ConnectionId) {
    let forgotten = match conversation {
        Some(conversation) => {
            ctx.store.unregister_connections(conversation, user, Some(connection), ctx.now_ms()).await
        }
        None => ctx.store.remove_connection(user, connection, ctx.now_ms()).await.map(|_| ()),
    };
    if let Err(e) = forgotten {
        tracing::warn!(error = %crate::error::Chain(&e), %connection, "could not forget a gone connection");
    }
}

/// Pushes an event to the live sockets of `usernames`, except the connection `skip`.
pub async fn push_to_users<T: Serialize>(
    ctx: &With<impl Pushes>,
    usernames: &[String],
    skip: Option<&ConnectionId>,
    kind: &str,
    data: &T,
) -> FanOut {
    let targets = match ctx.store.connections_of(usernames, ctx.now_ms()).await {
        Ok(targets) => targets,
        Err(e) => {
            tracing::warn!(error = %crate::error::Chain(&e), kind, "could not look up connections; push skipped");
            return FanOut::default();
        }
    };
    let targets = targets.into_iter().filter(|(_, c)| Some(c) != skip).map(|(u, c)| Target::on_profile(u, c)).collect();
    fan_out(ctx, None, targets, event(kind, data)).await
}

/// Pushes an event to the live sockets recorded under a conversation (one Query, whatever the
/// room's size), except the connection `skip` and the sockets of `skip_user`.
pub async fn push_to_conversation<T: Serialize>(
    ctx: &With<impl Pushes>,
    conversation_id: &ConversationId,
    skip: Option<&ConnectionId>,
    skip_user: Option<&str>,
    kind: &str,
    data: &T,
) -> FanOut {
    let targets = match ctx.store.conversation_connections(conversation_id, ctx.now_ms()).await {
        Ok(targets) => targets,
        Err(e) => {
            tracing::warn!(error = %crate::error::Chain(&e), kind, "could not look up connections; push skipped");
            return FanOut::default();
        }
    };
    let targets =
        targets.into_iter().filter(|t| Some(&t.connection) != skip && Some(t.user.as_str()) != skip_user).collect();
    fan_out(ctx, Some(conversation_id), targets, event(kind, data)).await
}
