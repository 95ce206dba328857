//! Change capture for the sync feed, run by the notify function (the table's stream, off the send
//! path): each change becomes a key in the feeds of those it concerns, or in its conversation's
//! log when the conversation is pulled.
//!
//! - A room of up to [`FANOUT_MAX`] members writes its changes to each member's feed. New
//!   messages cost nothing per message there: the notify function already reads each member's
//!   partition (strongly consistent) to decide their push, and that read returns their feed's
//!   head; the activity key is written only when the head does not hold it yet, so once per
//!   member and conversation between two syncs, however many messages.
//! - A bigger room is pulled: the first change seen after it grows past that size makes every
//!   member pull it (a set on their profile's side, read at each sync) and from then on its
//!   changes go to its own log; its messages are seen from its conversation item at sync, so a
//!   message in a room of 10,000 writes nothing.
//! - My own changes (joined, left, read marker, settings) go to my feed whatever the room.
//!
//! Every write is idempotent (adding to a set; a log append skips a key equal to the last), so a
//! stream record delivered again records nothing twice.

use futures_util::stream::{self, TryStreamExt};

use super::feed::{FeedHead, FeedKey, Pull, FANOUT_MAX, PENDING_MAX};
use crate::chat::{Conversation, Member, MEMBERS_INLINE_MAX};
use crate::error::{Conflict, StoreError};
use crate::ids::{ConversationId, MessageId};
use crate::Ctx;

/// Feeds written at once.
const CONCURRENCY: usize = 16;
/// More members joining a pulled room in one batch than this are logged as one
/// `conversation_updated` (its member count), not one `member_joined` each.
const BULK_JOIN: usize = 10;

/// Where a conversation's changes go.
enum Route {
    /// To each of these members' feeds.
    Fanout(Vec<Member>),
    /// To its log.
    Log,
}

/// Whether a conversation's changes go to its members' feeds.
pub fn fans_out(conversation: &Conversation) -> bool {
    !conversation.feed.pulled && conversation.member_count <= FANOUT_MAX
}

/// Records keys in a user's feed, closing its open bucket when it holds more than
/// [`PENDING_MAX`] keys (a user who does not sync keeps a small head).
pub async fn record(ctx: &Ctx, username: &str, keys: &[FeedKey]) -> Result<(), StoreError> {
    if keys.is_empty() {
        return Ok(());
    }
    let head = ctx.store.feed_record(username, keys).await?;
    if head.pending.len() > PENDING_MAX {
        let now = ctx.now_ms();
        match ctx.store.feed_close(username, &head, now, super::expires_at(ctx, now)).await {
            // Another closing came first: the keys are in its bucket or still pending.
            Ok(()) | Err(StoreError::Conflict(Conflict::Missing)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// New messages in a conversation, for a member whose feed head was read with their partition:
/// the activity key, unless it is there already (or the room is pulled).
pub async fn activity(
    ctx: &Ctx,
    conversation: &Conversation,
    username: &str,
    head: &FeedHead,
) -> Result<(), StoreError> {
    let key = FeedKey::Activity(conversation.id.clone());
    if !fans_out(conversation) || head.holds(&key) {
        return Ok(());
    }
    record(ctx, username, &[key]).await
}

/// New messages, for their sender (their other devices): the sender's head is read here.
pub async fn sender_activity(ctx: &Ctx, conversation: &Conversation, sender: &str) -> Result<(), StoreError> {
    if !fans_out(conversation) {
        return Ok(());
    }
    let head = ctx.store.feed_pending(sender).await?;
    activity(ctx, conversation, sender, &head).await
}

/// A conversation whose messages were just notified: if it grew past [`FANOUT_MAX`], it becomes
/// pulled.
pub async fn messages_seen(ctx: &Ctx, conversation: &Conversation) -> Result<(), StoreError> {
    if !conversation.feed.pulled && conversation.member_count > FANOUT_MAX {
        cross(ctx, conversation).await?;
    }
    Ok(())
}

/// Makes a conversation pulled: every member pulls it, then it is marked, so whoever sees the mark knows every member before it pulls it. Members who join
/// after the member list was read are recorded by their own join, which comes after in the
/// stream.
async fn cross(ctx: &Ctx, conversation: &Conversation) -> Result<(), StoreError> {
    let store = &ctx.store;
    let conversation_id = &conversation.id;
    // From the room's log as it is, and its messages from the first: a member's first sync after
    // this says its activity once (messages stored while it was crossing were fanned out to
    // nobody).
    let pull = &Pull { last_message_id: MessageId::NONE, ..Pull::from(conversation) };
    let mut after: Option<String> = None;
    loop {
        let page = store.list_members(conversation_id, after.as_deref(), MEMBERS_INLINE_MAX).await?;
        stream::iter(page.items.iter().map(Ok))
            .try_for_each_concurrent(CONCURRENCY, |member| async move { store.pull(&member.username, pull).await })
            .await?;
        match page.items.last() {
            Some(last) if page.next_cursor.is_some() => after = Some(last.username.clone()),
            _ => break,
        }
    }
    store.mark_pulled(conversation_id).await
}

/// Where a conversation's changes go now (making it pulled if it grew past the size).
async fn route(ctx: &Ctx, conversation: &Conversation) -> Result<Route, StoreError> {
    if conversation.feed.pulled {
        return Ok(Route::Log);
    }
    if conversation.member_count > FANOUT_MAX {
        cross(ctx, conversation).await?;
        return Ok(Route::Log);
    }
    let page = ctx.store.list_members(&conversation.id, None, MEMBERS_INLINE_MAX).await?;
    Ok(Route::Fanout(page.items))
}

/// Records `keys_for(member)` in each member's feed.
async fn fan_out(ctx: &Ctx, members: &[Member], keys_for: impl Fn(&Member) -> Vec<FeedKey>) -> Result<(), StoreError> {
    let keys_for = &keys_for;
    stream::iter(members.iter().map(Ok))
        .try_for_each_concurrent(
            CONCURRENCY,
            |member| async move { record(ctx, &member.username, &keys_for(member)).await },
        )
        .await
}

/// A change of the conversation itself (a message edited, deleted, reacted to or pinned, its
/// name, icon or owner),
/// for every member.
async fn conversation_key(ctx: &Ctx, conversation_id: &ConversationId, key: FeedKey) -> Result<(), StoreError> {
    let Some(conversation) = ctx.store.get_conversation(conversation_id).await? else { return Ok(()) };
    to_everyone(ctx, &conversation, key).await
}

/// `key` in every member's feed, or in the conversation's log when it is pulled.
async fn to_everyone(ctx: &Ctx, conversation: &Conversation, key: FeedKey) -> Result<(), StoreError> {
    match route(ctx, conversation).await? {
        Route::Fanout(members) => fan_out(ctx, &members, |_| vec![key.clone()]).await,
        Route::Log => {
            let now = ctx.now_ms();
            ctx.store.log_append(&key, now, super::expires_at(ctx, now)).await
        }
    }
}

/// A message was edited or deleted.
pub async fn message_changed(ctx: &Ctx, conversation_id: &ConversationId, id: MessageId) -> Result<(), StoreError> {
    conversation_key(ctx, conversation_id, FeedKey::Message(conversation_id.clone(), id)).await
}

/// A member added or removed a reaction.
pub async fn reacted(
    ctx: &Ctx,
    conversation_id: &ConversationId,
    id: MessageId,
    username: &str,
    reaction: &str,
) -> Result<(), StoreError> {
    let key = FeedKey::Reaction(conversation_id.clone(), id, username.to_owned(), reaction.to_owned());
    conversation_key(ctx, conversation_id, key).await
}

/// A member pinned or unpinned a message.
pub async fn pinned(
    ctx: &Ctx,
    conversation_id: &ConversationId,
    id: MessageId,
    username: &str,
) -> Result<(), StoreError> {
    conversation_key(ctx, conversation_id, FeedKey::Pin(conversation_id.clone(), id, username.to_owned())).await
}

/// A conversation was renamed, or got another icon or owner.
pub async fn conversation_changed(ctx: &Ctx, conversation_id: &ConversationId) -> Result<(), StoreError> {
    conversation_key(ctx, conversation_id, FeedKey::Updated(conversation_id.clone())).await
}

/// Members joined (or were added), each with when: each hears that they joined; those already in
/// hear who joined, but not of those who joined with the conversation's creation (a room made
/// with its members, in several transactions: everyone in it gets `conversation_joined`).
pub async fn members_added(
    ctx: &Ctx,
    conversation_id: &ConversationId,
    joined: &[(String, i64)],
) -> Result<(), StoreError> {
    let store = &ctx.store;
    let Some(conversation) = store.get_conversation(conversation_id).await? else { return Ok(()) };
    let is_joiner = |name: &str| joined.iter().any(|(user, _)| user == name);
    let later: Vec<FeedKey> = joined
        .iter()
        .filter(|(_, at)| *at > conversation.created_at)
        .map(|(user, _)| FeedKey::Member(conversation_id.clone(), user.clone()))
        .collect();
    match route(ctx, &conversation).await? {
        Route::Fanout(members) => {
            let mut everyone = members.clone();
            for (user, at) in joined.iter().filter(|(user, _)| !members.iter().any(|m| m.username == *user)) {
                // Gone again already: they still hear that they joined (and left).
                everyone.push(Member { username: user.clone(), joined_at: *at, added_by: None });
            }
            fan_out(ctx, &everyone, |member| {
                if is_joiner(&member.username) {
                    vec![FeedKey::Joined(conversation_id.clone())]
                } else {
                    later.clone()
                }
            })
            .await
        }
        Route::Log => {
            let now = ctx.now_ms();
            let pull = &Pull::from(&conversation);
            stream::iter(joined.iter().map(Ok))
                .try_for_each_concurrent(CONCURRENCY, |(user, _)| async move {
                    store.pull(user, pull).await?;
                    record(ctx, user, &[FeedKey::Joined(conversation_id.clone())]).await
                })
                .await?;
            // Many at once (a room grown by a bulk add): one change, the conversation with its
            // member count, rather than a change per member.
            let keys = if later.len() > BULK_JOIN { vec![FeedKey::Updated(conversation_id.clone())] } else { later };
            for key in &keys {
                store.log_append(key, now, super::expires_at(ctx, now)).await?;
            }
            Ok(())
        }
    }
}

/// A member left or was removed: they hear that they left (and stop pulling the room), the
/// others that they did.
pub async fn member_removed(ctx: &Ctx, conversation_id: &ConversationId, username: &str) -> Result<(), StoreError> {
    let store = &ctx.store;
    let conversation = store.get_conversation(conversation_id).await?;
    if conversation.as_ref().is_none_or(|c| c.feed.pulled) {
        store.unpull(username, conversation_id).await?;
    }
    record(ctx, username, &[FeedKey::Joined(conversation_id.clone())]).await?;
    let Some(conversation) = conversation else { return Ok(()) };
    to_everyone(ctx, &conversation, FeedKey::Member(conversation_id.clone(), username.to_owned())).await
}

/// My read marker moved, or my settings changed.
pub async fn own(ctx: &Ctx, username: &str, key: FeedKey) -> Result<(), StoreError> {
    record(ctx, username, &[key]).await
}
