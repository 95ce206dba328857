//! The notify function's work: from changes to the table (new messages, members added, read
//! markers moved) to pushes on the members' devices. Runs off the send path, in a function AWS
//! invokes for it (the table's stream) or the local gateway's feed, never in a send.
//!
//! A conversation's messages are notified in id order, each once: a watermark per conversation
//! (`notified`) says how far notifications are done, every change only says "look here", and
//! the messages themselves are read back from the store from the watermark on, as far as they are
//! stored without a gap. A change delivered twice, or out of order, finds the watermark past it.

use std::collections::BTreeMap;

use futures_util::stream::{self, StreamExt};

use crate::chat::{Conversation, Message, MEMBERS_INLINE_MAX};
use crate::error::StoreError;
use crate::ids::{ConversationId, MessageId};
use crate::notifications::alert::{Content, Notification};
use crate::notifications::decision::{device_ready, member_verdict, Change, Reason, Recipient};
use crate::notifications::provider::{PublishError, PushProvider, Skipped};
use crate::notifications::settings::{Level, ALL_BY_DEFAULT_MAX};
use crate::sync::capture;
use crate::sync::feed::FeedKey;
use crate::Ctx;

/// Messages read back per round.
const ROUND: usize = 50;
/// Members decided for at once.
const CONCURRENCY: usize = 16;
/// Tries of a throttled publish before the change fails (and is delivered again).
const PUBLISH_TRIES: u32 = 5;

/// What notifying needs besides the store: where pushes go, and what they may say.
pub struct Deliverer<'a> {
    pub ctx: &'a Ctx,
    pub provider: &'a dyn PushProvider,
    pub content: Content,
}

/// Why a change could not be handled (it is delivered again).
#[derive(Debug, thiserror::Error)]
pub enum DeliverError {
    #[error("reading or writing the store")]
    Store(#[from] StoreError),
    #[error("publishing")]
    Publish(#[from] PublishError),
}

/// How many pushes went out and how many were skipped, by reason: one log line per message.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Tally {
    pub published: u32,
    pub skipped: BTreeMap<Reason, u32>,
}

impl Tally {
    fn skip(&mut self, reason: Reason) {
        *self.skipped.entry(reason).or_default() += 1;
    }

    fn add(&mut self, other: &Tally) {
        self.published += other.published;
        for (reason, n) in &other.skipped {
            *self.skipped.entry(*reason).or_default() += n;
        }
    }

    fn log(&self, what: &str, conversation: &ConversationId, message: Option<MessageId>) {
        let count = |r: Reason| self.skipped.get(&r).copied().unwrap_or(0);
        tracing::info!(
            what,
            conversation = %conversation,
            message_id = message.map(MessageId::get),
            published = self.published,
            sender = count(Reason::Sender),
            online = count(Reason::Online),
            active = count(Reason::Active),
            level = count(Reason::Level),
            muted = count(Reason::Muted),
            blocked = count(Reason::Blocked),
            deleted = count(Reason::Deleted),
            disabled = count(Reason::Disabled),
            "notified"
        );
    }
}

impl Deliverer<'_> {
    /// Handles a batch of changes in order; returns the index of each change that failed (with
    /// why), for the caller to have them delivered again. A conversation's messages are handled
    /// once per batch, however many of its changes the batch holds.
    pub async fn deliver(&self, changes: &[Change]) -> Vec<(usize, DeliverError)> {
        let mut failed = Vec::new();
        let mut conversations: Vec<(ConversationId, MessageId, usize)> = Vec::new();
        for (i, change) in changes.iter().enumerate() {
            if let Change::Message { conversation_id, id } = change {
                match conversations.iter_mut().find(|(c, _, _)| c == conversation_id) {
                    Some((_, first, _)) => *first = (*first).min(*id),
                    None => conversations.push((conversation_id.clone(), *id, i)),
                }
            }
        }
        for (conversation_id, first, index) in &conversations {
            if let Err(e) = self.messages(conversation_id, *first).await {
                failed.push((*index, e));
            }
        }
        // The sync feed hears of a batch's members added per conversation at once: a room made
        // with 50 members writes each member's feed once.
        // (conversation, who joined and when, the first change's index)
        type Joined = (ConversationId, Vec<(String, i64)>, usize);
        let mut joined: Vec<Joined> = Vec::new();
        for (i, change) in changes.iter().enumerate() {
            if let Change::MemberAdded { conversation_id, username, joined_at, .. } = change {
                let user = (username.clone(), *joined_at);
                match joined.iter_mut().find(|(c, _, _)| c == conversation_id) {
                    Some((_, users, _)) => users.push(user),
                    None => joined.push((conversation_id.clone(), vec![user], i)),
                }
            }
        }
        for (conversation_id, users, index) in &joined {
            if let Err(e) = capture::members_added(self.ctx, conversation_id, users).await {
                failed.push((*index, e.into()));
            }
        }
        for (i, change) in changes.iter().enumerate() {
            let ctx = self.ctx;
            let done = match change {
                Change::Message { .. } => Ok(()),
                Change::MemberAdded { conversation_id, username, by, .. } => {
                    self.added(conversation_id, username, by.as_deref()).await
                }
                Change::Read { username, conversation_id, settings } => {
                    let key = if *settings {
                        FeedKey::Settings(conversation_id.clone())
                    } else {
                        FeedKey::Read(conversation_id.clone())
                    };
                    match capture::own(ctx, username, key).await {
                        Ok(()) => self.read(username).await,
                        Err(e) => Err(e.into()),
                    }
                }
                Change::MessageChanged { conversation_id, id } => {
                    capture::message_changed(ctx, conversation_id, *id).await.map_err(Into::into)
                }
                Change::Reacted { conversation_id, id, username, reaction } => {
                    capture::reacted(ctx, conversation_id, *id, username, reaction).await.map_err(Into::into)
                }
                Change::Pinned { conversation_id, id, username } => {
                    capture::pinned(ctx, conversation_id, *id, username).await.map_err(Into::into)
                }
                Change::MemberRemoved { conversation_id, username } => {
                    capture::member_removed(ctx, conversation_id, username).await.map_err(Into::into)
                }
                Change::ConversationChanged { conversation_id } => {
                    capture::conversation_changed(ctx, conversation_id).await.map_err(Into::into)
                }
            };
            if let Err(e) = done {
                failed.push((i, e));
            }
        }
        failed.sort_by_key(|(i, _)| *i);
        failed
    }

    /// Notifies a conversation's messages from its watermark on, in id order, as far as they are
    /// stored without a gap. A conversation's watermark is made with it; `first`, the lowest id
    /// the batch saw, is where one created before notifications existed starts.
    async fn messages(&self, conversation_id: &ConversationId, first: MessageId) -> Result<(), DeliverError> {
        let store = &self.ctx.store;
        let mut watermark = store.notified(conversation_id).await?;
        loop {
            let from = watermark.unwrap_or(first - 1);
            let stored = store.stored_after(conversation_id, from, ROUND).await?;
            let contiguous: Vec<(MessageId, Option<Message>)> = stored
                .into_iter()
                .enumerate()
                .take_while(|(i, (id, _))| *id == from + 1 + *i as i64)
                .map(|(_, entry)| entry)
                .collect();
            let Some(last) = contiguous.last().map(|(id, _)| *id) else { return Ok(()) };
            if contiguous.iter().any(|(_, m)| m.is_some()) {
                let conversation = store.get_conversation(conversation_id).await?;
                if let Some(conversation) = conversation {
                    capture::messages_seen(self.ctx, &conversation).await?;
                    for message in contiguous.iter().filter_map(|(_, m)| m.as_ref()) {
                        self.message(&conversation, message).await?;
                    }
                }
            }
            if !store.set_notified(conversation_id, watermark, last).await? {
                // Another reader moved it (it handles what is after): nothing more here.
                return Ok(());
            }
            watermark = Some(last);
            if contiguous.len() < ROUND {
                return Ok(());
            }
        }
    }

    /// One message: who may hear of it, then each of their devices.
    async fn message(&self, conversation: &Conversation, message: &Message) -> Result<(), DeliverError> {
        let store = &self.ctx.store;
        let now = self.ctx.now_ms();
        let replied_to = match message.reply_id {
            Some(reply) => store.get_message(&conversation.id, reply).await?.map(|m| m.sender_username),
            None => None,
        };
        let mut tally = Tally::default();
        self.provider.skipped(Skipped {
            username: message.sender_username.clone(),
            device_id: None,
            conversation_id: conversation.id.clone(),
            message_id: Some(message.id),
            reason: Reason::Sender,
        });
        tally.skip(Reason::Sender);
        capture::sender_activity(self.ctx, conversation, &message.sender_username).await?;
        let candidates = self.candidates(conversation, message, replied_to.as_deref()).await?;
        if candidates.is_empty() {
            tally.log("message", &conversation.id, Some(message.id));
            return Ok(());
        }
        // Deleted since it was stored? Read again right before publishing.
        let current = store.get_message(&conversation.id, message.id).await?.unwrap_or_else(|| message.clone());
        let sender_name = self.full_name(&current.sender_username).await?;
        let results: Vec<Result<Tally, DeliverError>> = stream::iter(candidates)
            .map(|username| {
                let current = &current;
                let replied_to = replied_to.as_deref();
                let sender_name = sender_name.as_str();
                async move {
                    let Some(recipient) = store.recipient(&username, now).await? else { return Ok(Tally::default()) };
                    if recipient.membership(&conversation.id).is_none() {
                        return Ok(Tally::default());
                    }
                    capture::activity(self.ctx, conversation, &username, &recipient.feed).await?;
                    let verdict = member_verdict(&recipient, conversation, current, replied_to, now);
                    let build = |badge| Notification::message(conversation, current, sender_name, badge, self.content);
                    self.to_devices(recipient, verdict, build, &conversation.id, Some(current.id), now).await
                }
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        for result in results {
            tally.add(&result?);
        }
        tally.log("message", &conversation.id, Some(current.id));
        Ok(())
    }

    /// The members who may hear of a message, the sender left out. Rooms notified by default
    /// (up to [`ALL_BY_DEFAULT_MAX`] members) read their members; bigger ones only the members
    /// it mentions or replies to and those who chose `all` there, found by key, so a message in
    /// a room of 10,000 that mentions nobody reads no member list.
    async fn candidates(
        &self,
        conversation: &Conversation,
        message: &Message,
        replied_to: Option<&str>,
    ) -> Result<Vec<String>, StoreError> {
        let store = &self.ctx.store;
        let mut names: Vec<String> = if conversation.member_count <= ALL_BY_DEFAULT_MAX {
            let page = store.list_members(&conversation.id, None, MEMBERS_INLINE_MAX).await?;
            page.items.into_iter().map(|m| m.username).collect()
        } else {
            let chose_all = store.settings_of(&conversation.id).await?;
            let all = chose_all.into_iter().filter(|(_, s)| s.level == Level::All).map(|(name, _)| name);
            message.mentions.iter().cloned().chain(replied_to.map(str::to_owned)).chain(all).collect()
        };
        names.sort();
        names.dedup();
        names.retain(|name| *name != message.sender_username);
        Ok(names)
    }

    /// Publishes the notification `build` makes (given the badge) to each device of `recipient`
    /// that may have it, or records why not; a device whose token the platform rejects is
    /// disabled. The member's conversations and typing are read only when a device is left after
    /// what the first read tells (level, mute, disabled, online): a member without a phone, or
    /// with the app open, costs that one read.
    async fn to_devices(
        &self,
        mut recipient: Recipient,
        member: Result<(), Reason>,
        build: impl FnOnce(i64) -> Notification,
        conversation_id: &ConversationId,
        message_id: Option<MessageId>,
        now: i64,
    ) -> Result<Tally, DeliverError> {
        let mut verdicts: Vec<(crate::notifications::devices::Device, Result<(), Reason>)> = recipient
            .live_devices(now)
            .map(|device| (device.clone(), member.and_then(|()| device_ready(&recipient, device))))
            .collect();
        let mut notification = None;
        if verdicts.iter().any(|(_, v)| v.is_ok()) {
            self.ctx.store.complete(&mut recipient).await?;
            if recipient.active(now) {
                for (_, verdict) in verdicts.iter_mut().filter(|(_, v)| v.is_ok()) {
                    *verdict = Err(Reason::Active);
                }
            } else {
                notification = Some(build(recipient.badge()));
            }
        }
        let mut tally = Tally::default();
        for (device, verdict) in verdicts {
            let outcome = match (verdict, &notification) {
                (Ok(()), Some(notification)) => match self.publish(&device, notification).await {
                    Ok(()) => Ok(()),
                    Err(PublishError::Rejected) => {
                        self.ctx.store.disable_device(&device).await?;
                        Err(Reason::Disabled)
                    }
                    Err(e) => return Err(e.into()),
                },
                (Err(reason), _) => Err(reason),
                (Ok(()), None) => Err(Reason::Active),
            };
            match outcome {
                Ok(()) => tally.published += 1,
                Err(reason) => {
                    tally.skip(reason);
                    self.provider.skipped(Skipped {
                        username: recipient.username.clone(),
                        device_id: Some(device.device_id.to_string()),
                        conversation_id: conversation_id.clone(),
                        message_id,
                        reason,
                    });
                }
            }
        }
        Ok(tally)
    }

    /// The name alerts show for a user: their full name (their username if they are gone).
    async fn full_name(&self, username: &str) -> Result<String, StoreError> {
        Ok(self.ctx.store.get_user(username).await?.map_or_else(|| username.to_owned(), |user| user.fullname))
    }

    /// Publishes, trying again while throttled.
    async fn publish(
        &self,
        device: &crate::notifications::devices::Device,
        n: &Notification,
    ) -> Result<(), PublishError> {
        let mut attempt = 0;
        loop {
            match self.provider.publish(device, n).await {
                Err(PublishError::Throttled(e)) if attempt + 1 < PUBLISH_TRIES => {
                    tracing::debug!(error = %crate::error::Chain(e.as_ref()), "push provider throttled; trying again");
                    tokio::time::sleep(std::time::Duration::from_millis(50 << attempt)).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// A member was added to a conversation by someone else: pushed whatever their level.
    async fn added(
        &self,
        conversation_id: &ConversationId,
        username: &str,
        by: Option<&str>,
    ) -> Result<(), DeliverError> {
        let Some(adder) = by.filter(|by| *by != username) else { return Ok(()) };
        let store = &self.ctx.store;
        let now = self.ctx.now_ms();
        let Some(conversation) = store.get_conversation(conversation_id).await? else { return Ok(()) };
        let Some(recipient) = store.recipient(username, now).await? else { return Ok(()) };
        let Some(state) = recipient.membership(conversation_id) else { return Ok(()) };
        let member = if state.notifications.muted(now) { Err(Reason::Muted) } else { Ok(()) };
        let adder_name = self.full_name(adder).await?;
        let build = |badge| Notification::added(&conversation, adder, &adder_name, badge, self.content);
        let tally = self.to_devices(recipient, member, build, conversation_id, None, now).await?;
        tally.log("added", conversation_id, None);
        Ok(())
    }

    /// A member's badge changed (they read): a silent badge-only update to each of their devices.
    async fn read(&self, username: &str) -> Result<(), DeliverError> {
        let now = self.ctx.now_ms();
        let Some(mut recipient) = self.ctx.store.recipient(username, now).await? else { return Ok(()) };
        if !recipient.live_devices(now).any(|d| d.enabled) {
            return Ok(());
        }
        self.ctx.store.complete(&mut recipient).await?;
        let notification = Notification::badge(recipient.badge());
        let mut published = 0;
        for device in recipient.live_devices(now).filter(|d| d.enabled) {
            match self.publish(device, &notification).await {
                Ok(()) => published += 1,
                Err(PublishError::Rejected) => self.ctx.store.disable_device(device).await?,
                Err(e) => return Err(e.into()),
            }
        }
        tracing::info!(what = "badge", user = username, published, "notified");
        Ok(())
    }
}
