//! Messages: send (idempotent by `client_id`, pushed to every member in id order), history,
//! edit, delete (tombstones), read markers, typing.

use serde::{Deserialize, Serialize};

use crate::chat::{self, Attachment, Message};
use crate::clients::{HoldsFiles, Pushes, With};
use crate::conversations::{member_view, membership};
use crate::error::{ApiError, Conflict, StoreError};
use crate::fanout::{push_to_conversation, push_to_users};
use crate::files::Purpose;
use crate::ids::{ConnectionId, ConversationId, FileId, MessageId};
use crate::store::SendRate;
use crate::Ctx;

/// At most this many attachments per message.
pub const ATTACHMENTS_MAX: usize = 10;

#[derive(Debug, Deserialize)]
pub struct SendMessage {
    pub content: String,
    #[serde(default)]
    pub reply_id: Option<MessageId>,
    pub client_id: Option<String>,
    #[serde(default)]
    pub attachments: Vec<FileId>,
    /// Members to mention (their notification level `mentions` admits the message).
    #[serde(default)]
    pub mentions: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct HistoryQuery {
    pub before: Option<i64>,
    pub after: Option<i64>,
    pub limit: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct History {
    pub conversation_id: ConversationId,
    pub messages: Vec<Message>,
    pub has_more: bool,
}

impl History {
    /// The page cut to at most `max_bytes` of JSON (a WebSocket answer must fit in 128 KB), keeping
    /// the messages next to where the page starts: the oldest of a catch-up page (`after`), the
    /// newest otherwise. A cut page says `has_more`, so paging on from it reads the rest. One
    /// message always stays (a message is far smaller than the limit).
    pub fn fit(mut self, max_bytes: usize, catching_up: bool) -> Self {
        fn json_len<T: Serialize>(value: &T) -> usize {
            serde_json::to_vec(value).map(|v| v.len()).unwrap_or(0)
        }
        let empty = History { conversation_id: self.conversation_id.clone(), messages: Vec::new(), has_more: true };
        let mut total = json_len(&empty);
        let sizes: Vec<usize> = self.messages.iter().map(|m| json_len(m) + 1).collect();
        let mut keep = 0;
        let order: Box<dyn Iterator<Item = &usize>> =
            if catching_up { Box::new(sizes.iter()) } else { Box::new(sizes.iter().rev()) };
        for &more in order {
            if keep > 0 && total + more > max_bytes {
                break;
            }
            total += more;
            keep += 1;
        }
        let cut = self.messages.len() - keep;
        if cut > 0 {
            if catching_up {
                self.messages.truncate(keep);
            } else {
                self.messages.drain(..cut);
            }
            self.has_more = true;
        }
        self
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MessageRef {
    pub conversation_id: ConversationId,
    pub message_id: MessageId,
}

#[derive(Debug, Clone, Serialize)]
pub struct Typing {
    pub conversation_id: ConversationId,
    pub username: String,
}

/// Sends a message; returns it and whether it is new (a repeated `client_id` returns the
/// original). Every member's live sockets but `origin` get it, in id order per conversation: the
/// send pushes what is pending if it gets the conversation's push turn, else leaves its message
/// to the holder ([`crate::push`]). The answer waits for the push (REST); the WebSocket route
/// answers once the message is stored ([`store`], then [`Sent::push_after_answer`]).
pub async fn send(
    ctx: &With<impl Pushes + HoldsFiles>,
    caller: &str,
    conversation_id: &ConversationId,
    req: SendMessage,
    origin: Option<&ConnectionId>,
) -> Result<(Message, bool), ApiError> {
    store(ctx, caller, conversation_id, req, origin).await.push(ctx).await
}

/// A send whose message is stored (or refused), with its push still to do.
pub struct Sent {
    conversation_id: ConversationId,
    outcome: Result<(Message, bool), ApiError>,
    pending: Pending,
}

enum Pending {
    /// No id was handed out: nothing to push.
    Nothing,
    /// A retry: its first try may have stored the message and failed before it was pushed.
    Retry(MessageId),
    /// A new id, filled with the message (`stored`) or a void.
    Filled { ticket: crate::push::Ticket, turn: crate::store::Signalled, message: Box<Message>, stored: bool },
}

impl Sent {
    fn refused(conversation_id: &ConversationId, error: ApiError) -> Self {
        Self { conversation_id: conversation_id.to_owned(), outcome: Err(error), pending: Pending::Nothing }
    }

    /// What the send's answer says: the message and whether it is new, or why not.
    pub fn outcome(&self) -> &Result<(Message, bool), ApiError> {
        &self.outcome
    }

    async fn push_once(&self, ctx: &With<impl Pushes>) -> Result<(), StoreError> {
        match &self.pending {
            Pending::Nothing => Ok(()),
            Pending::Retry(id) => crate::push::signal(ctx, &self.conversation_id, *id, None).await,
            Pending::Filled { ticket, turn, message, stored } => {
                let own = stored.then_some(message.as_ref());
                crate::push::after_store(ctx, &self.conversation_id, ticket, *turn, message.id, own).await
            }
        }
    }

    /// Pushes, then answers: a message stored but maybe not pushed is refused (503) when it has a
    /// `client_id`, so the client's retry pushes it without storing it twice; without one, a
    /// retry would store it twice, so it is answered and the next send pushes it.
    pub async fn push(self, ctx: &With<impl Pushes>) -> Result<(Message, bool), ApiError> {
        let pushed = self.push_once(ctx).await;
        match (self.outcome, pushed) {
            (Ok(sent), Ok(())) => Ok(sent),
            (Ok((message, _)), Err(e)) if message.client_id.is_some() => Err(e.into()),
            (Ok(sent), Err(e)) => {
                tracing::warn!(error = %crate::error::Chain(&e), id = sent.0.id.get(), "stored; the push waits for the next send");
                Ok(sent)
            }
            (Err(e), _) => Err(e),
        }
    }

    /// Pushes after the answer went out: a failed push is tried again (signalling the push turn,
    /// which a failed holder handed on) a few times, as no client retry will come for it.
    pub async fn push_after_answer(self, ctx: &With<impl Pushes>) {
        let mut pushed = self.push_once(ctx).await;
        let id = match &self.pending {
            Pending::Nothing => return,
            Pending::Retry(id) => *id,
            Pending::Filled { message, .. } => message.id,
        };
        for attempt in 0..3u32 {
            let Err(e) = &pushed else { return };
            tracing::warn!(error = %crate::error::Chain(e), id = id.get(), attempt, "push failed after the answer; trying again");
            tokio::time::sleep(std::time::Duration::from_millis(100 << attempt)).await;
            pushed = crate::push::signal(ctx, &self.conversation_id, id, None).await;
        }
        if let Err(e) = pushed {
            tracing::warn!(error = %crate::error::Chain(&e), id = id.get(), "stored; the push waits for the next send");
        }
    }
}

/// The members a send mentions, checked to be members with one read (none without mentions).
async fn mentions(ctx: &Ctx, conversation_id: &ConversationId, raw: &[String]) -> Result<Vec<String>, ApiError> {
    let names = chat::validate_mentions(raw)?;
    if names.is_empty() {
        return Ok(names);
    }
    let members = ctx.store.members_among(conversation_id, &names).await?;
    if names.iter().any(|name| !members.contains(name)) {
        return Err(ApiError::invalid("mentions must name members of the conversation"));
    }
    Ok(names)
}

/// Stores a message (see [`send`]) and says what to push; nothing is pushed yet.
pub async fn store(
    ctx: &With<impl Pushes + HoldsFiles>,
    caller: &str,
    conversation_id: &ConversationId,
    req: SendMessage,
    origin: Option<&ConnectionId>,
) -> Sent {
    match prepare(ctx, caller, conversation_id, req, origin).await {
        Ok(sent) => sent,
        Err(e) => Sent::refused(conversation_id, e),
    }
}

async fn prepare(
    ctx: &With<impl Pushes + HoldsFiles>,
    caller: &str,
    conversation_id: &ConversationId,
    req: SendMessage,
    origin: Option<&ConnectionId>,
) -> Result<Sent, ApiError> {
    if req.attachments.len() > ATTACHMENTS_MAX {
        return Err(ApiError::invalid(format!("at most {ATTACHMENTS_MAX} attachments")));
    }
    chat::validate_content(&req.content, !req.attachments.is_empty())?;
    if let Some(client_id) = &req.client_id {
        if client_id.is_empty() || client_id.chars().count() > chat::CLIENT_ID_MAX {
            return Err(ApiError::invalid(format!("client_id must be 1-{} characters", chat::CLIENT_ID_MAX)));
        }
        // A retry is answered from what its first try stored, without taking a new id: an id
        // taken and then filled with a void would count as unread for every other member.
        if let Some(original) = original_for(ctx, caller, conversation_id, client_id).await? {
            let pending = Pending::Retry(original.id);
            return Ok(Sent { conversation_id: conversation_id.to_owned(), outcome: Ok((original, false)), pending });
        }
    }
    if req.reply_id.is_some_and(|r| r < MessageId::new(1)) {
        return Err(ApiError::invalid("reply_id must name a message of this conversation"));
    }
    let attachments = attachments(ctx, caller, conversation_id, &req.attachments).await?;
    let mentions = mentions(ctx, conversation_id, &req.mentions).await?;

    // Membership is checked where the message is stored, in the same transaction: a send costs
    // no read of its own. The id's write also signals the push turn (and may take it).
    let ticket = crate::push::Ticket::new(ctx);
    let now = ctx.now_ms();
    let (conversation, turn) = ctx.store.allocate_message_id(conversation_id, &ticket.claim()).await?;
    let message = Message {
        id: conversation.last_message_id,
        conversation_id: conversation_id.to_owned(),
        sender_username: caller.to_owned(),
        content: req.content,
        reply_id: req.reply_id,
        reply_count: 0,
        client_id: req.client_id,
        attachments,
        mentions,
        sent_at: now,
        edited_at: None,
        deleted: false,
        reactions: Vec::new(),
        pinned: false,
        my_reactions: None,
        origin: origin.cloned(),
    };
    // The sender's send limit is counted in the same write that stores the message.
    let limits = ctx.config.limits;
    let (window_start, retry_after_secs) = limits.window(now);
    let rate = SendRate { window_start, window_ms: limits.window_ms, limit: limits.sends };
    // From here on the id is ours: whatever happens, fill it, and push if the id came with the
    // push turn (the caller's `push`).
    let stored = store_new(ctx, &message, &rate).await;
    let stored_ok = stored.is_ok();
    let outcome = match stored {
        Ok(()) => Ok((message.clone(), true)),
        // A race with its first try: this id is filled with a void, and the original returned.
        Err(StoreError::Conflict(Conflict::DuplicateClientId)) => {
            let client_id = message.client_id.as_deref().unwrap_or_default();
            match original_for(ctx, caller, conversation_id, client_id).await {
                Ok(original) => original.map(|m| (m, false)).ok_or(ApiError::Unavailable { retry_after_secs: 1 }),
                Err(e) => Err(e),
            }
        }
        Err(StoreError::Conflict(Conflict::Missing)) => {
            Err(ApiError::invalid("reply_id must name a message of this conversation"))
        }
        Err(StoreError::Conflict(Conflict::RateLimited)) => Err(ApiError::RateLimited { retry_after_secs }),
        Err(e) => Err(e.into()),
    };
    let pending = Pending::Filled { ticket, turn, message: Box::new(message), stored: stored_ok };
    Ok(Sent { conversation_id: conversation_id.to_owned(), outcome, pending })
}

/// Stores a freshly numbered message, or a void in its place when it may not be stored.
async fn store_new(ctx: &Ctx, message: &Message, rate: &SendRate) -> Result<(), StoreError> {
    let stored = if message.reply_id.is_some_and(|reply| reply >= message.id) {
        // A reply to a message after this one: refused like one to no message, but only to a
        // member (others learn nothing about the conversation).
        match ctx.store.read_state(&message.sender_username, &message.conversation_id).await {
            Ok(Some(_)) => Err(StoreError::Conflict(Conflict::Missing)),
            Ok(None) => Err(StoreError::Conflict(Conflict::NotMember)),
            Err(e) => Err(e),
        }
    } else {
        ctx.store.put_message(message, rate).await
    };
    if stored.is_err() {
        // The id is handed out: a gap would hold back every later push of the conversation.
        let void =
            crate::store::persist("fill a message id", || ctx.store.put_void(&message.conversation_id, message.id));
        if let Err(void_error) = void.await {
            tracing::warn!(error = %crate::error::Chain(&void_error), "could not fill a message id; the next pusher fills it later");
        }
    }
    stored
}

/// The sender's uploaded attachments for this conversation, as messages carry them.
async fn attachments(
    ctx: &With<impl HoldsFiles>,
    caller: &str,
    conversation_id: &ConversationId,
    ids: &[FileId],
) -> Result<Vec<Attachment>, ApiError> {
    let mut seen = std::collections::HashSet::new();
    let mut attachments = Vec::with_capacity(ids.len());
    for id in ids {
        if !seen.insert(id) {
            return Err(ApiError::invalid("an attachment is named twice"));
        }
        let file = crate::files::usable(ctx, caller, id, Purpose::Attachment, Some(conversation_id)).await?;
        attachments.push(Attachment {
            file_id: file.id,
            content_type: file.content_type,
            size: file.size,
            name: file.name,
        });
    }
    Ok(attachments)
}

async fn original_for(
    ctx: &Ctx,
    caller: &str,
    conversation_id: &ConversationId,
    client_id: &str,
) -> Result<Option<Message>, ApiError> {
    match ctx.store.message_id_for_client_id(conversation_id, caller, client_id).await? {
        Some(id) => Ok(ctx.store.get_message(conversation_id, id).await?),
        None => Ok(None),
    }
}

/// History: `after` (what a reconnecting client missed, oldest first), `before` (older pages: the
/// latest before it), both (the ids strictly between, oldest first), or the latest.
pub async fn history(
    ctx: &Ctx,
    caller: &str,
    conversation_id: &ConversationId,
    query: HistoryQuery,
) -> Result<History, ApiError> {
    let limit = match query.limit {
        None => crate::paging::DEFAULT_LIMIT,
        Some(l) if (1..=crate::paging::MAX_LIMIT as i64).contains(&l) => l as usize,
        Some(_) => return Err(ApiError::invalid("limit must be an integer from 1 to 100")),
    };
    if query.before.is_some_and(|b| b < 1) || query.after.is_some_and(|a| a < 0) {
        return Err(ApiError::invalid("before and after are message ids"));
    }
    if ctx.store.read_state(caller, conversation_id).await?.is_none() {
        return Err(ApiError::NotFound("conversation not found"));
    }
    let (before, after) = (query.before.map(MessageId::new), query.after.map(MessageId::new));
    let (mut messages, has_more) = ctx.store.list_messages(conversation_id, before, after, limit).await?;
    crate::reactions::fill_mine(ctx, caller, conversation_id, &mut messages).await?;
    Ok(History { conversation_id: conversation_id.to_owned(), messages, has_more })
}

/// A thread: the messages that reply to `parent`, oldest first (`after`: past the last one the
/// client has; `limit`, checked at the edge, as history's). 404 for a non-member or an unknown
/// message.
pub async fn replies(
    ctx: &Ctx,
    caller: &str,
    conversation_id: &ConversationId,
    parent: MessageId,
    after: Option<i64>,
    limit: usize,
) -> Result<History, ApiError> {
    if after.is_some_and(|a| a < 0) {
        return Err(ApiError::invalid("after is a message id"));
    }
    // The membership and the parent, read at once.
    let (state, message) = tokio::try_join!(
        ctx.store.read_state(caller, conversation_id),
        ctx.store.get_message(conversation_id, parent)
    )?;
    if state.is_none() {
        return Err(ApiError::NotFound("conversation not found"));
    }
    if message.is_none() {
        return Err(ApiError::NotFound("message not found"));
    }
    let after = after.map(MessageId::new);
    let (mut messages, has_more) = ctx.store.list_replies(conversation_id, parent, after, limit).await?;
    crate::reactions::fill_mine(ctx, caller, conversation_id, &mut messages).await?;
    Ok(History { conversation_id: conversation_id.to_owned(), messages, has_more })
}

async fn own_message(ctx: &Ctx, conversation_id: &ConversationId, message_id: MessageId) -> Result<Message, ApiError> {
    ctx.store.get_message(conversation_id, message_id).await?.ok_or(ApiError::NotFound("message not found"))
}

/// Only the author edits; a deleted message cannot be edited.
pub async fn edit(
    ctx: &With<impl Pushes>,
    caller: &str,
    conversation_id: &ConversationId,
    message_id: MessageId,
    content: String,
    origin: Option<&ConnectionId>,
) -> Result<Message, ApiError> {
    chat::validate_content(&content, false)?;
    member_view(ctx, caller, conversation_id).await?;
    let mut message = own_message(ctx, conversation_id, message_id).await?;
    if message.sender_username != caller {
        return Err(ApiError::forbidden("only the author edits a message"));
    }
    if message.deleted {
        return Err(ApiError::Conflict { code: "message_deleted", detail: "the message was deleted" });
    }
    message.content = content;
    message.edited_at = Some(ctx.now_ms());
    ctx.store.update_message(&message).await?;
    push_to_conversation(ctx, conversation_id, origin, None, "message_edited", &message).await;
    // The answer is the editor's: it says which reactions are theirs (a push never does).
    crate::reactions::fill_mine(ctx, caller, conversation_id, std::slice::from_mut(&mut message)).await?;
    Ok(message)
}

/// The author or a group's owner deletes; the message stays as a tombstone. Deleting twice is fine.
pub async fn delete(
    ctx: &With<impl Pushes>,
    caller: &str,
    conversation_id: &ConversationId,
    message_id: MessageId,
    origin: Option<&ConnectionId>,
) -> Result<MessageRef, ApiError> {
    let conversation = member_view(ctx, caller, conversation_id).await?;
    let reference = MessageRef { conversation_id: conversation_id.to_owned(), message_id };
    // The tombstone is conditioned on the pin as read (it unpins in the same step): a pin or
    // an unpin in between means reading again.
    let mut attempts = 0;
    loop {
        let mut message = own_message(ctx, conversation_id, message_id).await?;
        // A direct conversation has no owner powers: each deletes only their own messages.
        let owner = conversation.kind == chat::Kind::Group && conversation.owner == caller;
        if message.sender_username != caller && !owner {
            return Err(ApiError::forbidden("only the author or a group's owner deletes a message"));
        }
        if message.deleted {
            return Ok(reference);
        }
        message.content = String::new();
        message.attachments.clear();
        message.mentions.clear();
        message.deleted = true;
        match ctx.store.update_message(&message).await {
            Ok(()) => break,
            // Another delete got there first.
            Err(StoreError::Conflict(Conflict::Deleted)) => return Ok(reference),
            Err(StoreError::Conflict(Conflict::Stale)) if attempts < 4 => attempts += 1,
            Err(e) => return Err(e.into()),
        }
    }
    push_to_conversation(ctx, conversation_id, origin, None, "message_deleted", &reference).await;
    Ok(reference)
}

/// Moves my read marker forward (never back); my other sockets hear of it.
pub async fn mark_read(
    ctx: &With<impl Pushes>,
    caller: &str,
    conversation_id: &ConversationId,
    message_id: MessageId,
    origin: Option<&ConnectionId>,
) -> Result<MessageRef, ApiError> {
    let (conversation, state) = membership(ctx, caller, conversation_id).await?;
    if message_id < MessageId::new(1) || message_id > conversation.last_message_id {
        return Err(ApiError::invalid("message_id must name a message of this conversation"));
    }
    let reference = MessageRef { conversation_id: conversation_id.to_owned(), message_id };
    if message_id <= state.last_read {
        return Ok(reference);
    }
    let own_after = if message_id >= conversation.last_message_id {
        0
    } else {
        ctx.store.count_own_messages(conversation_id, caller, message_id, conversation.last_message_id).await?
    };
    if ctx.store.mark_read(caller, conversation_id, message_id, own_after, ctx.now_ms()).await? {
        push_to_users(ctx, &[caller.to_owned()], origin, "read_marker", &reference).await;
    }
    Ok(reference)
}

/// Rooms up to this many members hear who is typing; in bigger ones `typing` is accepted and not
/// pushed, so a keystroke never costs a push to thousands of sockets.
pub const TYPING_MEMBERS_MAX: i64 = 100;

/// Tells the other members I am typing; nothing is stored.
/// Typing is limited per user like sends where it is pushed; it stores nothing, so its count is a
/// request of its own (one conditional UpdateItem).
pub async fn typing(ctx: &With<impl Pushes>, caller: &str, conversation_id: &ConversationId) -> Result<(), ApiError> {
    let (conversation, state) = membership(ctx, caller, conversation_id).await?;
    if state.blocked {
        return Err(ApiError::blocked());
    }
    if conversation.member_count <= TYPING_MEMBERS_MAX {
        let limits = ctx.config.limits;
        let now = ctx.now_ms();
        let key = format!("typing#{caller}");
        if let crate::store::Attempt::Refused(window) =
            ctx.store.take_attempt(&key, limits.typing, now, now - limits.window_ms).await?
        {
            let retry_after_secs = crate::clock::seconds_until(window.window_start + limits.window_ms, now);
            return Err(ApiError::RateLimited { retry_after_secs });
        }
        let data = Typing { conversation_id: conversation_id.to_owned(), username: caller.to_owned() };
        push_to_conversation(ctx, conversation_id, None, Some(caller), "typing", &data).await;
    }
    Ok(())
}
