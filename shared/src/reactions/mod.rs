//! Reactions: a member reacts to a message with an emoji (or a `:shortcode:`) instead of answering
//! it. Adding one twice changes nothing; concurrent reactions never lose a count; members' sockets
//! hear `reaction_added` / `reaction_removed` with the count after the change, and the sync feed
//! records them (the table's stream, [`crate::sync::capture`]). A message carries its reactions
//! (see [`store`] for how), so a history page costs what it cost before reactions; answers to a
//! member say which are theirs (`my_reactions`, [`fill_mine`]).

pub mod rules;
pub mod store;

use std::collections::HashMap;

use serde::Serialize;

use crate::chat::Message;
use crate::clients::{Pushes, With};
use crate::error::{ApiError, Conflict, StoreError};
use crate::fanout::push_to_conversation;
use crate::ids::{ConnectionId, ConversationId, MessageId};
use crate::Ctx;

/// Tries of a change whose message changed under it (another member reacting at the same moment)
/// before the caller is asked to retry (503): enough for a few dozen members reacting to one
/// message in the same instant, each try after a random wait of up to 160 ms.
const ATTEMPTS: u32 = 12;

/// A reaction's push and sync change: `count` is the reaction's count after the change.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ReactionEvent {
    pub conversation_id: ConversationId,
    pub message_id: MessageId,
    pub reaction: String,
    pub username: String,
    pub count: i64,
}

/// `PUT …/messages/{message_id}/reactions/{reaction}` and WebSocket `add_reaction`: 204; again:
/// no change (and no push). 409 `too_many_reactions` past the caps, 409 `message_deleted`, 404
/// for a non-member or an unknown message, 403 `blocked` in a direct conversation with a user
/// who blocks the caller.
pub async fn add(
    ctx: &With<impl Pushes>,
    caller: &str,
    conversation_id: &ConversationId,
    message_id: MessageId,
    reaction: &str,
    origin: Option<&ConnectionId>,
) -> Result<(), ApiError> {
    rules::validate(reaction)?;
    change(ctx, caller, conversation_id, message_id, reaction, origin, true).await
}

/// `DELETE …/reactions/{reaction}` and WebSocket `remove_reaction`: 204, whether or not the
/// caller had that reaction (a deleted message has none left).
pub async fn remove(
    ctx: &With<impl Pushes>,
    caller: &str,
    conversation_id: &ConversationId,
    message_id: MessageId,
    reaction: &str,
    origin: Option<&ConnectionId>,
) -> Result<(), ApiError> {
    rules::validate(reaction)?;
    change(ctx, caller, conversation_id, message_id, reaction, origin, false).await
}

async fn change(
    ctx: &With<impl Pushes>,
    caller: &str,
    conversation_id: &ConversationId,
    message_id: MessageId,
    reaction: &str,
    origin: Option<&ConnectionId>,
    adding: bool,
) -> Result<(), ApiError> {
    for attempt in 0..ATTEMPTS {
        let message = readable(ctx, caller, conversation_id, message_id).await?;
        if message.deleted {
            return if adding { Err(deleted()) } else { Ok(()) };
        }
        let now = ctx.now_ms();
        let changed = if adding {
            ctx.store.add_reaction(&message, caller, reaction, now).await
        } else {
            ctx.store.remove_reaction(&message, caller, reaction, now).await
        };
        let count = match changed {
            Ok(count) => count,
            Err(StoreError::Conflict(Conflict::Unchanged)) => return Ok(()),
            Err(StoreError::Conflict(Conflict::TooMany)) => return Err(too_many()),
            Err(StoreError::Conflict(Conflict::Deleted)) if adding => return Err(deleted()),
            Err(StoreError::Conflict(Conflict::Deleted)) => return Ok(()),
            // Another member changed the message (or the transaction met another): read again.
            Err(StoreError::Conflict(Conflict::Stale) | StoreError::Unavailable(_)) => {
                tokio::time::sleep(std::time::Duration::from_millis(jitter(attempt))).await;
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        let kind = if adding { "reaction_added" } else { "reaction_removed" };
        let event = ReactionEvent {
            conversation_id: conversation_id.to_owned(),
            message_id,
            reaction: reaction.to_owned(),
            username: caller.to_owned(),
            count,
        };
        push_to_conversation(ctx, conversation_id, origin, None, kind, &event).await;
        return Ok(());
    }
    Err(ApiError::Unavailable { retry_after_secs: 1 })
}

/// A short random wait before trying again, growing with the attempt (up to 160 ms).
fn jitter(attempt: u32) -> u64 {
    let spread = 10u64 << attempt.min(4);
    spread / 2 + u64::from(rand::random::<u16>()) % spread
}

fn deleted() -> ApiError {
    ApiError::Conflict { code: "message_deleted", detail: "the message was deleted" }
}

fn too_many() -> ApiError {
    ApiError::Conflict { code: "too_many_reactions", detail: TOO_MANY_REACTIONS }
}

/// [`store::OWN_REACTIONS_MAX`] and [`store::REACTIONS_MAX`], written out.
const TOO_MANY_REACTIONS: &str = "a message carries at most 50 distinct reactions, and 20 of one member";

/// The message, for a member: 404 (the conversation's for a non-member, the message's for a
/// member) when there is none. The membership is read only when the message is missing or
/// deleted: otherwise the change's own write checks it.
pub async fn readable(
    ctx: &Ctx,
    caller: &str,
    conversation_id: &ConversationId,
    message_id: MessageId,
) -> Result<Message, ApiError> {
    let message = ctx.store.get_message(conversation_id, message_id).await?;
    match message {
        Some(message) if !message.deleted => Ok(message),
        found => {
            if ctx.store.read_state(caller, conversation_id).await?.is_none() {
                return Err(ApiError::NotFound("conversation not found"));
            }
            found.ok_or(ApiError::NotFound("message not found"))
        }
    }
}

/// Fills `my_reactions` of messages of one conversation, for `caller`: from each message's own
/// lists where they answer it (they name everyone who reacted so, or the caller), else from one
/// read of the caller's reactions over the ids those messages span.
pub async fn fill_mine(
    ctx: &Ctx,
    caller: &str,
    conversation_id: &ConversationId,
    messages: &mut [Message],
) -> Result<(), StoreError> {
    let unknown = |m: &Message| {
        !m.deleted && m.reactions.iter().any(|r| !r.lists_everyone() && !r.users.iter().any(|u| u == caller))
    };
    let ids: Vec<MessageId> = messages.iter().filter(|m| unknown(m)).map(|m| m.id).collect();
    let read: HashMap<MessageId, Vec<String>> = match (ids.iter().min(), ids.iter().max()) {
        (Some(from), Some(to)) => {
            ctx.store.own_reactions(conversation_id, caller, *from, *to).await?.into_iter().collect()
        }
        _ => HashMap::new(),
    };
    for message in messages.iter_mut() {
        let recorded = read.get(&message.id).filter(|_| unknown(message));
        let mine = message
            .reactions
            .iter()
            .filter(|r| match recorded {
                Some(own) => own.contains(&r.reaction),
                None => r.users.iter().any(|u| u == caller),
            })
            .map(|r| r.reaction.clone())
            .collect();
        message.my_reactions = Some(mine);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_limits_are_the_ones_the_answer_states() {
        assert!(super::TOO_MANY_REACTIONS.contains(&super::store::REACTIONS_MAX.to_string()));
        assert!(super::TOO_MANY_REACTIONS.contains(&super::store::OWN_REACTIONS_MAX.to_string()));
    }
}
