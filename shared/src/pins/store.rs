//! Pins as stored: the port the adapters implement.

use async_trait::async_trait;

use crate::chat::Message;
use crate::error::StoreError;
use crate::ids::{ConversationId, MessageId};

/// The most messages pinned in one conversation at once.
pub const PINS_MAX: usize = 50;

/// One pinned message: when, and by whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    pub message_id: MessageId,
    pub pinned_at: i64,
    pub pinned_by: String,
}

/// A pin is a record of its own in the conversation (what the list reads, newest first), a count
/// of the conversation's pins (what keeps [`PINS_MAX`]) and the message's `pinned` mark (what
/// history shows), written in one step with the membership check. Deleting a message unpins it
/// in the tombstone's own step ([`crate::messages::delete`]).
#[async_trait]
pub trait PinStore: Send + Sync {
    /// Pins `message` (as read) for `username` at `now`. `Conflict::Unchanged` when it is pinned
    /// already, `Conflict::TooMany` at [`PINS_MAX`], `Conflict::Deleted`, `Conflict::NotMember`
    /// (`Conflict::Blocked` for the blocked side of a direct conversation).
    async fn pin(&self, message: &Message, username: &str, now: i64) -> Result<(), StoreError>;
    /// Unpins it. `Conflict::Unchanged` when it is not pinned; `Conflict::NotMember`
    /// (`Conflict::Blocked`).
    async fn unpin(&self, message: &Message, username: &str, now: i64) -> Result<(), StoreError>;
    /// The conversation's pins, most recently pinned first.
    async fn pins(&self, conversation_id: &ConversationId) -> Result<Vec<Pin>, StoreError>;
}
