//! Reactions as stored: the port the adapters implement, and their limits.

use async_trait::async_trait;

use crate::chat::Message;
use crate::error::StoreError;
use crate::ids::{ConversationId, MessageId};

/// The most distinct reactions one user puts on one message.
pub const OWN_REACTIONS_MAX: usize = 20;
/// The most distinct reactions one message carries.
pub const REACTIONS_MAX: usize = 50;

/// Who reacted how. A message carries its reactions (each one's count and up to
/// [`crate::chat::REACTION_USERS_SHOWN`] of its users, so history reads them with the message),
/// and each member's reactions on it are a record of their own (what makes adding twice change
/// nothing, and what `my_reactions` reads when the message's list is not everyone). A change writes
/// both, and checks the membership, in one step; it is conditioned on the reaction's count as the
/// caller read it, so the count it returns is the count after exactly this change.
#[async_trait]
pub trait ReactionStore: Send + Sync {
    /// Adds `username`'s `reaction` to `message` (as the caller read it) at `now`; returns the
    /// reaction's count after. `Conflict::Unchanged` when it is there already; `Conflict::TooMany`
    /// at [`OWN_REACTIONS_MAX`] of the user's or [`REACTIONS_MAX`] in all; `Conflict::Deleted`;
    /// `Conflict::NotMember`, or `Conflict::Blocked` for the blocked side of a direct
    /// conversation; `Conflict::Stale` when the reaction changed since `message` was read.
    async fn add_reaction(
        &self,
        message: &Message,
        username: &str,
        reaction: &str,
        now: i64,
    ) -> Result<i64, StoreError>;
    /// Removes `username`'s `reaction` from `message` (as read); returns the count after.
    /// `Conflict::Unchanged` when it is not there; `Conflict::NotMember`; `Conflict::Stale`.
    async fn remove_reaction(
        &self,
        message: &Message,
        username: &str,
        reaction: &str,
        now: i64,
    ) -> Result<i64, StoreError>;
    /// `username`'s own reactions on the conversation's messages with ids from `from` through
    /// `to` (one read, whatever the number of messages).
    async fn own_reactions(
        &self,
        conversation_id: &ConversationId,
        username: &str,
        from: MessageId,
        to: MessageId,
    ) -> Result<Vec<(MessageId, Vec<String>)>, StoreError>;
}
