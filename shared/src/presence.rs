//! Presence: online while at least one socket is open; contacts hear when that changes.

use serde::Serialize;

use crate::clients::{Pushes, With};
use crate::error::{ApiError, Conflict, StoreError};
use crate::fanout::push_to_users;
use crate::ids::ConnectionId;
use crate::notify::PushError;
use crate::store::SocketOptions;

/// API Gateway closes WebSocket connections after two hours; so do our records of them.
pub const CONNECTION_TTL_MS: i64 = 2 * 60 * 60 * 1000;

#[derive(Debug, Clone, Serialize)]
pub struct UserStatus {
    pub username: String,
    pub is_online: bool,
    pub last_online: Option<i64>,
}

/// `$connect`: records the socket, the session its token belongs to (what a revocation closes)
/// and whether it asked for batch frames; the first one brings the user online.
pub async fn connect(
    ctx: &With<impl Pushes>,
    username: &str,
    connection_id: &ConnectionId,
    socket: SocketOptions<'_>,
) -> Result<(), ApiError> {
    let now = ctx.now_ms();
    let expires_at = now + CONNECTION_TTL_MS;
    let connected =
        ctx.store.add_connection(username, connection_id, &socket, now, expires_at).await.map_err(|e| match e {
            // A valid token for a user that no longer exists.
            StoreError::Conflict(Conflict::Missing) => ApiError::unauthorized("unknown user"),
            other => other.into(),
        })?;
    if connected.first {
        let status = UserStatus { username: username.to_owned(), is_online: true, last_online: connected.last_online };
        announce(ctx, status, &connected.blocks).await?;
    }
    Ok(())
}

/// `$disconnect`: forgets the socket; the last one takes the user offline.
pub async fn disconnect(ctx: &With<impl Pushes>, username: &str, connection_id: &ConnectionId) -> Result<(), ApiError> {
    let now = ctx.now_ms();
    let gone = ctx.store.remove_connection(username, connection_id, now).await?;
    if gone.last {
        let status = UserStatus { username: username.to_owned(), is_online: false, last_online: Some(now) };
        announce(ctx, status, &gone.blocks).await?;
    }
    Ok(())
}

/// `user_status` to every online user who has this user as a contact, but those the user blocks:
/// to them the user stays offline.
async fn announce(
    ctx: &With<impl Pushes>,
    status: UserStatus,
    blocks: &std::collections::BTreeSet<String>,
) -> Result<(), ApiError> {
    let mut watchers = ctx.store.contact_of(&status.username).await?;
    watchers.retain(|w| !blocks.contains(w));
    if !watchers.is_empty() {
        push_to_users(ctx, &watchers, None, "user_status", &status).await;
    }
    Ok(())
}

/// Which of a user's sessions a revocation ended.
#[derive(Debug, Clone, Copy)]
pub enum Revoked<'a> {
    Only(&'a str),
    /// Every session but this one (`None`: every session).
    AllBut(Option<&'a str>),
}

impl Revoked<'_> {
    fn covers(&self, session: Option<&str>) -> bool {
        match self {
            Revoked::Only(sid) => session == Some(*sid),
            // A socket that never knew its session cannot be told apart: it goes.
            Revoked::AllBut(keep) => keep.is_none() || session != *keep,
        }
    }
}

/// Closes the sockets of revoked sessions, so a revocation reaches live sockets at once (API
/// Gateway then sends `$disconnect`). Called after every revocation: logout, password change,
/// refresh-token reuse.
pub async fn close_sessions(ctx: &With<impl Pushes>, username: &str, revoked: Revoked<'_>) -> Result<(), ApiError> {
    let sockets = ctx.store.sockets(username, ctx.now_ms()).await?;
    for (connection, _) in sockets.iter().filter(|(_, session)| revoked.covers(session.as_deref())) {
        match ctx.pusher().close(connection).await {
            Ok(()) => {}
            Err(PushError::Gone) => {
                ctx.store.remove_connection(username, connection, ctx.now_ms()).await?;
            }
            Err(PushError::Failed(e)) => {
                tracing::warn!(error = %e, %connection, "could not close a revoked session's socket")
            }
        }
    }
    Ok(())
}
