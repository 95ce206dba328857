//! Blocks as stored: the port the adapters implement, and what a block is.

use async_trait::async_trait;
use serde::Serialize;

use crate::error::StoreError;
use crate::model::Page;

/// The most users one user may block: the set lives on the blocker's profile, which many reads
/// carry (about 20 bytes a name: 10 KB at most).
pub const BLOCKS_MAX: usize = 500;

/// One user I block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Block {
    pub username: String,
    pub blocked_at: i64,
}

/// Who blocks whom. A block is a record under the blocker (listed, with when), the name in the
/// blocker's profile's `blocks` (what presence, adding, direct conversations and push decisions
/// read at no cost of their own), and, while the pair has a direct conversation with the blocked
/// user in it, a mark on the blocked user's side of it (which the send's membership check
/// refuses), all written in one step.
#[async_trait]
pub trait BlockStore: Send + Sync {
    /// `blocker` blocks `blocked` (a user that exists) at `now`; `direct_key` names the pair's
    /// direct conversation, if they have one. `Conflict::AlreadyBlocked` when it is already so,
    /// `Conflict::TooMany` at [`BLOCKS_MAX`].
    async fn block(&self, blocker: &str, blocked: &str, direct_key: &str, now: i64) -> Result<(), StoreError>;
    /// Lifts a block; whether there was one.
    async fn unblock(&self, blocker: &str, blocked: &str, direct_key: &str) -> Result<bool, StoreError>;
    /// The users `blocker` blocks, in name order, after `after`.
    async fn list_blocks(&self, blocker: &str, after: Option<&str>, limit: usize) -> Result<Page<Block>, StoreError>;
}
