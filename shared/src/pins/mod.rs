//! Pins: the messages a conversation's members want everyone to find again. Any member pins or
//! unpins (at most [`store::PINS_MAX`] at once); members' sockets hear `message_pinned` /
//! `message_unpinned` and the sync feed records them; messages carry `pinned`; deleting a message
//! unpins it.

pub mod store;

use serde::Serialize;

use crate::chat::Message;
use crate::clients::{Pushes, With};
use crate::error::{ApiError, Conflict, StoreError};
use crate::fanout::push_to_conversation;
use crate::ids::{ConnectionId, ConversationId, MessageId};
use crate::Ctx;

/// A pin's push and sync change.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PinEvent {
    pub conversation_id: ConversationId,
    pub message_id: MessageId,
    pub username: String,
}

/// The pinned messages, most recently pinned first.
#[derive(Debug, Clone, Serialize)]
pub struct Pins {
    pub items: Vec<Message>,
}

/// `PUT /conversations/{id}/pins/{message_id}`: 204; again: no change. 409 `too_many_pins`, 409
/// `message_deleted`, 404 for a non-member or an unknown message.
pub async fn pin(
    ctx: &With<impl Pushes>,
    caller: &str,
    conversation_id: &ConversationId,
    message_id: MessageId,
    origin: Option<&ConnectionId>,
) -> Result<(), ApiError> {
    let message = crate::reactions::readable(ctx, caller, conversation_id, message_id).await?;
    if message.deleted {
        return Err(deleted());
    }
    match ctx.store.pin(&message, caller, ctx.now_ms()).await {
        Ok(()) => {}
        Err(StoreError::Conflict(Conflict::Unchanged)) => return Ok(()),
        Err(StoreError::Conflict(Conflict::TooMany)) => {
            return Err(ApiError::Conflict { code: "too_many_pins", detail: TOO_MANY_PINS })
        }
        Err(StoreError::Conflict(Conflict::Deleted)) => return Err(deleted()),
        Err(e) => return Err(e.into()),
    }
    push(ctx, caller, conversation_id, message_id, origin, "message_pinned").await;
    Ok(())
}

/// [`store::PINS_MAX`], written out.
const TOO_MANY_PINS: &str = "a conversation has at most 50 pinned messages";

/// `DELETE /conversations/{id}/pins/{message_id}`: 204, whether or not it was pinned.
pub async fn unpin(
    ctx: &With<impl Pushes>,
    caller: &str,
    conversation_id: &ConversationId,
    message_id: MessageId,
    origin: Option<&ConnectionId>,
) -> Result<(), ApiError> {
    let message = crate::reactions::readable(ctx, caller, conversation_id, message_id).await?;
    if message.deleted {
        // Deleting it unpinned it.
        return Ok(());
    }
    match ctx.store.unpin(&message, caller, ctx.now_ms()).await {
        Ok(()) => {}
        Err(StoreError::Conflict(Conflict::Unchanged | Conflict::Deleted)) => return Ok(()),
        Err(e) => return Err(e.into()),
    }
    push(ctx, caller, conversation_id, message_id, origin, "message_unpinned").await;
    Ok(())
}

async fn push(
    ctx: &With<impl Pushes>,
    caller: &str,
    conversation_id: &ConversationId,
    message_id: MessageId,
    origin: Option<&ConnectionId>,
    kind: &str,
) {
    let event = PinEvent { conversation_id: conversation_id.to_owned(), message_id, username: caller.to_owned() };
    push_to_conversation(ctx, conversation_id, origin, None, kind, &event).await;
}

fn deleted() -> ApiError {
    ApiError::Conflict { code: "message_deleted", detail: "the message was deleted" }
}

/// `GET /conversations/{id}/pins`: the pinned messages, most recently pinned first, with the
/// caller's reactions.
pub async fn list(ctx: &Ctx, caller: &str, conversation_id: &ConversationId) -> Result<Pins, ApiError> {
    let (state, pins) =
        tokio::try_join!(ctx.store.read_state(caller, conversation_id), ctx.store.pins(conversation_id))?;
    if state.is_none() {
        return Err(ApiError::NotFound("conversation not found"));
    }
    let keys: Vec<(ConversationId, MessageId)> =
        pins.iter().map(|p| (conversation_id.to_owned(), p.message_id)).collect();
    let mut messages = if keys.is_empty() { Vec::new() } else { ctx.store.get_messages(&keys).await? };
    // Newest pin first; a message deleted meanwhile is no pin.
    messages.retain(|m| !m.deleted);
    messages.sort_by_key(|m| pins.iter().position(|p| p.message_id == m.id));
    crate::reactions::fill_mine(ctx, caller, conversation_id, &mut messages).await?;
    Ok(Pins { items: messages })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_limit_is_the_one_the_answer_states() {
        assert!(super::TOO_MANY_PINS.contains(&super::store::PINS_MAX.to_string()));
    }
}
