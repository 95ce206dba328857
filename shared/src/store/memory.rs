//! The embedded store: everything in memory behind one lock, with the same semantics as the
//! DynamoDB adapter (each method is atomic, conditions fail the same way).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;

use super::{
    Attempt, Attempts, Connected, ConnectionStore, ContactStore, ConversationStore, DeviceStore, Disconnected,
    FileStore, MessageStore, NotificationStore, PushRelease, PushTurn, RefreshTokenRecord, ReleaseMode, Released,
    SendRate, SessionStore, Signalled, SocketOptions, SyncStore, Target, ThrottleStore, TurnClaim, UserStore,
    UserUpdate,
};
use crate::blocks::store::{Block, BlockStore, BLOCKS_MAX};
use crate::chat::{Conversation, Member, Message, ReadState, Sockets, Visibility, MEMBERS_MAX};
use crate::error::{Conflict, StoreError};
use crate::ids::{ConnectionId, ConversationId, FileId, MessageId};
use crate::model::FileRecord;
use crate::model::{Page, UserRecord};
use crate::notifications::decision::{Change, Recipient};
use crate::notifications::devices::{Device, DeviceId};
use crate::notifications::settings::Settings;
use crate::pins::store::{Pin, PinStore, PINS_MAX};
use crate::reactions::store::{ReactionStore, OWN_REACTIONS_MAX, REACTIONS_MAX};
use crate::reports::store::{Report, ReportStore};
use crate::sync::feed::{Bucket, FeedHead, FeedKey, LogEntry, Pull, StateKeys, States};

#[derive(Default)]
struct State {
    users: BTreeMap<String, UserRecord>,
    emails: HashMap<String, String>,
    /// username → open session family id → when it expires
    sessions: HashMap<String, BTreeMap<String, i64>>,
    /// (username, device id) → device
    devices: BTreeMap<(String, DeviceId), Device>,
    /// push token → the device that holds it
    tokens: HashMap<String, (String, DeviceId)>,
    refresh_tokens: HashMap<String, RefreshTokenRecord>,
    attempts: HashMap<String, Attempts>,
    /// (sender, window start) → sends counted in that window
    sends: HashMap<(String, i64), u32>,
    contacts: HashMap<String, BTreeMap<String, i64>>,
    conversations: HashMap<ConversationId, Conversation>,
    direct: HashMap<String, ConversationId>,
    /// (username, conversation id) → read state
    memberships: BTreeMap<(String, ConversationId), ReadState>,
    /// conversation id → username → joined_at
    members: HashMap<ConversationId, BTreeMap<String, i64>>,
    /// connection id → (the session it was opened with, whether it asked for batch frames)
    socket_options: HashMap<ConnectionId, (Option<String>, bool)>,
    /// conversation id → connection id → (username, expires_at, batch): connections recorded under it
    conversation_connections: HashMap<ConversationId, BTreeMap<ConnectionId, (String, i64, bool)>>,
    /// conversation id → the members found on their profiles (its roster, [`Sockets::OnProfiles`])
    rosters: HashMap<ConversationId, BTreeSet<String>>,
    /// conversation id → id → message (`None`: a void id)
    messages: HashMap<ConversationId, BTreeMap<MessageId, Option<Message>>>,
    /// (conversation id, sender, client id) → message id
    client_ids: HashMap<(ConversationId, String, String), MessageId>,
    /// conversation id → its push turn
    push_turns: HashMap<ConversationId, TurnState>,
    /// conversation id → the last message id whose notifications are done
    notified: HashMap<ConversationId, MessageId>,
    /// Where changes that may call for a push go (the local gateway's notify worker): the
    /// embedded store's stand-in for the table's stream.
    feed: Option<tokio::sync::mpsc::UnboundedSender<Change>>,
    files: HashMap<FileId, FileRecord>,
    /// username → their sync feed's head
    feeds: HashMap<String, FeedHead>,
    /// (username, bucket number) → closed bucket
    buckets: BTreeMap<(String, i64), Bucket>,
    /// username → the conversations they pull, from where
    pulls: HashMap<String, BTreeMap<ConversationId, Pull>>,
    /// conversation id → its log
    logs: HashMap<ConversationId, Vec<LogEntry>>,
    /// blocker → blocked → when (the blocked set itself is on the blocker's `UserRecord`)
    blocked_at: HashMap<String, BTreeMap<String, i64>>,
    /// (conversation, message, reporter) → report
    reports: HashMap<(ConversationId, MessageId, String), Report>,
    /// Each message's reactions: everyone who reacted, by reaction.
    reactors: HashMap<(ConversationId, MessageId), BTreeMap<String, BTreeSet<String>>>,
    /// Each member's own reactions on a message (kept past a delete, as on DynamoDB).
    own_reactions: BTreeMap<(ConversationId, String, MessageId), BTreeSet<String>>,
    /// Each conversation's pins, by message.
    pins: HashMap<ConversationId, BTreeMap<MessageId, Pin>>,
}

/// A conversation's push turn, as the DynamoDB adapter keeps it on the conversation's item.
#[derive(Default)]
struct TurnState {
    turn: PushTurn,
    /// Who holds the turn, and until when.
    holder: Option<(String, i64)>,
    /// The holder is retiring (see [`Signalled::Retiring`]).
    retiring: bool,
}

impl TurnState {
    /// Counts a signal, and gives the turn to `claim` if it is free.
    fn signal(&mut self, claim: &TurnClaim<'_>, last_id: MessageId) -> Signalled {
        self.turn.signal += 1;
        self.turn.last_id = last_id;
        match &self.holder {
            Some((_, until)) if *until >= claim.now && self.retiring => Signalled::Retiring,
            Some((_, until)) if *until >= claim.now => Signalled::Held,
            Some(_) => Signalled::Stale,
            None => self.take(claim),
        }
    }

    fn take(&mut self, claim: &TurnClaim<'_>) -> Signalled {
        self.holder = Some((claim.holder.to_owned(), claim.lease_until));
        self.retiring = false;
        Signalled::Holder(self.turn)
    }
}

#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// The changes that may call for a push, from now on, in the order they happen (what the
    /// table's stream carries on AWS).
    pub fn feed(&self) -> tokio::sync::mpsc::UnboundedReceiver<Change> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        self.lock().feed = Some(tx);
        rx
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave half-written state: every method checks
        // before it writes. So a poisoned lock is still consistent.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn set_opt<T: Clone>(field: &mut Option<T>, change: &Option<Option<T>>) {
    if let Some(value) = change {
        field.clone_from(value);
    }
}

#[async_trait]
impl UserStore for MemoryStore {
    async fn create_user(&self, user: &UserRecord) -> Result<(), StoreError> {
        let mut s = self.lock();
        if s.users.contains_key(&user.username) {
            return Err(StoreError::Conflict(Conflict::UsernameTaken));
        }
        if let Some(email) = &user.email {
            if s.emails.contains_key(email) {
                return Err(StoreError::Conflict(Conflict::EmailTaken));
            }
            s.emails.insert(email.clone(), user.username.clone());
        }
        s.users.insert(user.username.clone(), user.clone());
        Ok(())
    }

    async fn get_user(&self, username: &str) -> Result<Option<UserRecord>, StoreError> {
        Ok(self.lock().users.get(username).cloned())
    }

    async fn get_users(&self, usernames: &[String]) -> Result<Vec<UserRecord>, StoreError> {
        let s = self.lock();
        Ok(usernames.iter().filter_map(|u| s.users.get(u).cloned()).collect())
    }

    async fn username_for_email(&self, email: &str) -> Result<Option<String>, StoreError> {
        Ok(self.lock().emails.get(email).cloned())
    }

    async fn update_user(&self, current: &UserRecord, update: &UserUpdate) -> Result<UserRecord, StoreError> {
        let username = current.username.as_str();
        let mut s = self.lock();
        let old_email = match s.users.get(username) {
            Some(user) if user.email == current.email => user.email.clone(),
            _ => return Err(StoreError::Conflict(Conflict::Missing)),
        };
        if let Some(Some(new_email)) = &update.email {
            if Some(new_email) != old_email.as_ref() && s.emails.contains_key(new_email) {
                return Err(StoreError::Conflict(Conflict::EmailTaken));
            }
        }
        if let Some(new_email) = &update.email {
            if let Some(old) = &old_email {
                s.emails.remove(old);
            }
            if let Some(new) = new_email {
                s.emails.insert(new.clone(), username.to_owned());
            }
        }
        let Some(user) = s.users.get_mut(username) else {
            return Err(StoreError::Conflict(Conflict::Missing));
        };
        if let Some(fullname) = &update.fullname {
            user.fullname.clone_from(fullname);
        }
        if let Some(hash) = &update.password_hash {
            user.password_hash.clone_from(hash);
        }
        set_opt(&mut user.email, &update.email);
        set_opt(&mut user.first_name, &update.first_name);
        set_opt(&mut user.last_name, &update.last_name);
        set_opt(&mut user.role, &update.role);
        set_opt(&mut user.date_of_birth, &update.date_of_birth);
        set_opt(&mut user.avatar_file_id, &update.avatar_file_id);
        Ok(user.clone())
    }

    async fn list_users(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<UserRecord>, StoreError> {
        let s = self.lock();
        let start = match after {
            Some(a) if a > prefix => a.to_owned(),
            _ => prefix.to_owned(),
        };
        let mut matching = s
            .users
            .range(start..)
            .filter(|(name, _)| Some(name.as_str()) != after)
            .take_while(|(name, _)| name.starts_with(prefix))
            .map(|(_, user)| user.clone());
        let items: Vec<UserRecord> = matching.by_ref().take(limit).collect();
        let next_cursor = match matching.next() {
            Some(_) => items.last().map(|u| u.username.clone()),
            None => None,
        };
        Ok(Page { items, next_cursor })
    }
}

#[async_trait]
impl SessionStore for MemoryStore {
    async fn create_session(&self, token: &RefreshTokenRecord, _now: i64) -> Result<(), StoreError> {
        let mut s = self.lock();
        s.sessions.entry(token.username.clone()).or_default().insert(token.family_id.clone(), token.expires_at);
        s.refresh_tokens.insert(token.token_hash.clone(), token.clone());
        Ok(())
    }

    async fn get_refresh_token(&self, token_hash: &str) -> Result<Option<RefreshTokenRecord>, StoreError> {
        Ok(self.lock().refresh_tokens.get(token_hash).cloned())
    }

    async fn rotate_refresh_token(
        &self,
        old: &RefreshTokenRecord,
        new: &RefreshTokenRecord,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut s = self.lock();
        match s.refresh_tokens.get(&old.token_hash) {
            Some(stored) if stored.used_at.is_none() && stored.expires_at > now => {}
            _ => return Err(StoreError::Conflict(Conflict::TokenAlreadyUsed)),
        }
        let open = s.sessions.get(&old.username).is_some_and(|f| f.contains_key(&old.family_id));
        if !open {
            return Err(StoreError::Conflict(Conflict::SessionRevoked));
        }
        if let Some(stored) = s.refresh_tokens.get_mut(&old.token_hash) {
            stored.used_at = Some(now);
        }
        s.refresh_tokens.insert(new.token_hash.clone(), new.clone());
        Ok(())
    }

    async fn revoke_session(&self, username: &str, family_id: &str) -> Result<(), StoreError> {
        let mut s = self.lock();
        if let Some(families) = s.sessions.get_mut(username) {
            families.remove(family_id);
        }
        s.forget_devices(username, |session| session == family_id);
        Ok(())
    }

    async fn revoke_sessions(&self, username: &str, keep: Option<&str>) -> Result<(), StoreError> {
        let mut s = self.lock();
        if let Some(families) = s.sessions.get_mut(username) {
            families.retain(|f, _| Some(f.as_str()) == keep);
        }
        s.forget_devices(username, |session| Some(session) != keep);
        Ok(())
    }

    async fn session_open(&self, username: &str, family_id: &str) -> Result<bool, StoreError> {
        Ok(self.lock().sessions.get(username).is_some_and(|families| families.contains_key(family_id)))
    }

    async fn session_expiry(&self, username: &str, family_id: &str) -> Result<Option<i64>, StoreError> {
        Ok(self.lock().sessions.get(username).and_then(|families| families.get(family_id).copied()))
    }
}

impl State {
    fn emit(&self, change: Change) {
        if let Some(feed) = &self.feed {
            // A gateway that stopped listening has nothing left to notify.
            let _ = feed.send(change);
        }
    }

    /// Forgets the user's devices whose session `ended` says has ended, with their tokens' claims.
    fn forget_devices(&mut self, username: &str, ended: impl Fn(&str) -> bool) {
        let gone: Vec<(String, DeviceId)> = self
            .devices
            .iter()
            .filter(|((user, _), d)| user == username && ended(&d.session))
            .map(|(k, _)| k.clone())
            .collect();
        for key in gone {
            self.forget_device(&key);
        }
    }

    /// Forgets one device and its token's claim (if the claim is still its).
    fn forget_device(&mut self, key: &(String, DeviceId)) -> bool {
        let Some(device) = self.devices.remove(key) else { return false };
        if self.tokens.get(&device.token) == Some(key) {
            self.tokens.remove(&device.token);
        }
        true
    }
}

#[async_trait]
impl NotificationStore for MemoryStore {
    async fn recipient(&self, username: &str, now: i64) -> Result<Option<Recipient>, StoreError> {
        let s = self.lock();
        if !s.users.contains_key(username) {
            return Ok(None);
        }
        let memberships: Vec<(ConversationId, ReadState)> =
            s.memberships_of(username).map(|(id, state)| (id.clone(), *state)).collect();
        let online_sessions = s
            .live_sockets(&[username.to_owned()], now)
            .iter()
            .filter_map(|(_, connection, _, _)| s.socket_options.get(connection).and_then(|(sid, _)| sid.clone()))
            .collect();
        Ok(Some(Recipient {
            username: username.to_owned(),
            devices: s.devices.iter().filter(|((user, _), _)| user == username).map(|(_, d)| d.clone()).collect(),
            online_sessions,
            memberships,
            feed: s.feeds.get(username).cloned().unwrap_or_default(),
            blocks: s.users.get(username).map(|u| u.blocks.clone()).unwrap_or_default(),
            ..Recipient::default()
        }))
    }

    async fn complete(&self, recipient: &mut Recipient) -> Result<(), StoreError> {
        let s = self.lock();
        recipient.conversations =
            recipient.memberships.iter().filter_map(|(id, _)| s.conversations.get(id).cloned()).collect();
        recipient.typed_at = s.attempts.get(&format!("typing#{}", recipient.username)).map(|a| a.window_start);
        Ok(())
    }

    async fn settings_of(&self, conversation_id: &ConversationId) -> Result<Vec<(String, Settings)>, StoreError> {
        let s = self.lock();
        Ok(s.memberships
            .iter()
            .filter(|((_, id), state)| id == conversation_id && !state.notifications.is_default())
            .map(|((user, _), state)| (user.clone(), state.notifications))
            .collect())
    }

    async fn notified(&self, conversation_id: &ConversationId) -> Result<Option<MessageId>, StoreError> {
        Ok(self.lock().notified.get(conversation_id).copied())
    }

    async fn set_notified(
        &self,
        conversation_id: &ConversationId,
        from: Option<MessageId>,
        to: MessageId,
    ) -> Result<bool, StoreError> {
        let mut s = self.lock();
        if s.notified.get(conversation_id).copied() != from {
            return Ok(false);
        }
        s.notified.insert(conversation_id.clone(), to);
        Ok(true)
    }

    async fn disable_device(&self, device: &Device) -> Result<(), StoreError> {
        let mut s = self.lock();
        if let Some(stored) = s.devices.get_mut(&(device.username.clone(), device.device_id.clone())) {
            if stored.token == device.token {
                stored.enabled = false;
            }
        }
        Ok(())
    }
}

#[async_trait]
impl SyncStore for MemoryStore {
    async fn feed_head(&self, username: &str) -> Result<(FeedHead, Vec<Pull>), StoreError> {
        let s = self.lock();
        let pulled = s.pulls.get(username).map(|p| p.values().cloned().collect()).unwrap_or_default();
        Ok((s.feeds.get(username).cloned().unwrap_or_default(), pulled))
    }

    async fn feed_pending(&self, username: &str) -> Result<FeedHead, StoreError> {
        Ok(self.lock().feeds.get(username).cloned().unwrap_or_default())
    }

    async fn feed_record(&self, username: &str, keys: &[FeedKey]) -> Result<FeedHead, StoreError> {
        let mut s = self.lock();
        let head = s.feeds.entry(username.to_owned()).or_default();
        for key in keys {
            let key = key.encode();
            if !head.pending.contains(&key) {
                head.pending.push(key);
            }
        }
        Ok(head.clone())
    }

    async fn feed_close(&self, username: &str, head: &FeedHead, at: i64, _expires_at: i64) -> Result<(), StoreError> {
        let mut s = self.lock();
        let current = s.feeds.entry(username.to_owned()).or_default();
        if current.seq != head.seq {
            return Err(StoreError::Conflict(Conflict::Missing));
        }
        current.seq += 1;
        current.pending.retain(|k| !head.pending.contains(k));
        let seq = current.seq;
        s.buckets.insert((username.to_owned(), seq), Bucket::close(seq, at, &head.pending));
        Ok(())
    }

    async fn feed_buckets(&self, username: &str, from: i64, to: i64) -> Result<Vec<Bucket>, StoreError> {
        let s = self.lock();
        Ok(s.buckets.range((username.to_owned(), from)..=(username.to_owned(), to)).map(|(_, b)| b.clone()).collect())
    }

    async fn pull(&self, username: &str, pull: &Pull) -> Result<(), StoreError> {
        let mut s = self.lock();
        // A pull already recorded keeps where it started.
        s.pulls
            .entry(username.to_owned())
            .or_default()
            .entry(pull.conversation_id.clone())
            .or_insert_with(|| pull.clone());
        Ok(())
    }

    async fn unpull(&self, username: &str, conversation_id: &ConversationId) -> Result<(), StoreError> {
        if let Some(pulls) = self.lock().pulls.get_mut(username) {
            pulls.remove(conversation_id);
        }
        Ok(())
    }

    async fn mark_pulled(&self, conversation_id: &ConversationId) -> Result<(), StoreError> {
        if let Some(conversation) = self.lock().conversations.get_mut(conversation_id) {
            conversation.feed.pulled = true;
        }
        Ok(())
    }

    async fn log_append(&self, key: &FeedKey, at: i64, _expires_at: i64) -> Result<(), StoreError> {
        let mut s = self.lock();
        let id = key.conversation().clone();
        let log = s.logs.entry(id.clone()).or_default();
        if log.last().is_some_and(|last| last.key == *key) {
            return Ok(());
        }
        let seq = log.len() as i64 + 1;
        log.push(LogEntry { seq, at, key: key.clone() });
        if let Some(conversation) = s.conversations.get_mut(&id) {
            conversation.feed.log_seq = seq;
        }
        Ok(())
    }

    async fn log_entries(
        &self,
        conversation_id: &ConversationId,
        after: i64,
        to: i64,
    ) -> Result<Vec<LogEntry>, StoreError> {
        let s = self.lock();
        let log = s.logs.get(conversation_id).map(Vec::as_slice).unwrap_or_default();
        Ok(log.iter().filter(|e| e.seq > after && e.seq <= to).cloned().collect())
    }

    async fn states(&self, username: &str, keys: &StateKeys) -> Result<States, StoreError> {
        let s = self.lock();
        Ok(States {
            conversations: keys.conversations.iter().filter_map(|c| s.conversations.get(c).cloned()).collect(),
            memberships: keys
                .memberships
                .iter()
                .filter_map(|c| s.memberships.get(&(username.to_owned(), c.clone())).map(|state| (c.clone(), *state)))
                .collect(),
            messages: keys
                .messages
                .iter()
                .filter_map(|(c, id)| s.messages.get(c).and_then(|m| m.get(id)).and_then(|m| m.clone()))
                .collect(),
            members: keys
                .members
                .iter()
                .filter(|(c, user)| s.members.get(c).is_some_and(|m| m.contains_key(user)))
                .cloned()
                .collect(),
            own_reactions: keys
                .own_reactions
                .iter()
                .filter_map(|(c, id, user)| {
                    let own = s.own_reactions.get(&(c.clone(), user.clone(), *id))?;
                    Some(((c.clone(), *id, user.clone()), own.iter().cloned().collect()))
                })
                .collect(),
        })
    }
}

#[async_trait]
impl DeviceStore for MemoryStore {
    async fn devices(&self, username: &str) -> Result<Vec<Device>, StoreError> {
        let s = self.lock();
        Ok(s.devices.iter().filter(|((user, _), _)| user == username).map(|(_, d)| d.clone()).collect())
    }

    async fn put_device(
        &self,
        device: &Device,
        previous: Option<&Device>,
        evict: Option<&Device>,
    ) -> Result<(), StoreError> {
        let mut s = self.lock();
        let key = (device.username.clone(), device.device_id.clone());
        if !s.sessions.get(&device.username).is_some_and(|f| f.contains_key(&device.session)) {
            return Err(StoreError::Conflict(Conflict::SessionRevoked));
        }
        if s.devices.get(&key) != previous {
            return Err(StoreError::Conflict(Conflict::Missing));
        }
        if let Some(evict) = evict {
            s.forget_device(&(evict.username.clone(), evict.device_id.clone()));
        }
        if let Some(previous) = previous.filter(|p| p.token != device.token) {
            if s.tokens.get(&previous.token) == Some(&key) {
                s.tokens.remove(&previous.token);
            }
        }
        // The token moves here from whichever device held it.
        if let Some(holder) = s.tokens.get(&device.token).cloned().filter(|holder| *holder != key) {
            s.devices.remove(&holder);
        }
        s.tokens.insert(device.token.clone(), key.clone());
        s.devices.insert(key, device.clone());
        Ok(())
    }

    async fn delete_device(&self, username: &str, device_id: &DeviceId) -> Result<bool, StoreError> {
        Ok(self.lock().forget_device(&(username.to_owned(), device_id.clone())))
    }
}

#[async_trait]
impl ThrottleStore for MemoryStore {
    async fn take_attempt(
        &self,
        key: &str,
        limit: u32,
        now: i64,
        window_start_min: i64,
    ) -> Result<Attempt, StoreError> {
        let mut s = self.lock();
        let entry = s.attempts.entry(key.to_owned()).or_insert(Attempts { count: 0, window_start: now });
        if entry.window_start <= window_start_min {
            *entry = Attempts { count: 0, window_start: now };
        }
        if entry.count >= limit {
            return Ok(Attempt::Refused(*entry));
        }
        entry.count += 1;
        Ok(Attempt::Taken(*entry))
    }

    async fn refund_attempt(&self, key: &str, window_start: i64) -> Result<(), StoreError> {
        if let Some(entry) = self.lock().attempts.get_mut(key) {
            if entry.window_start == window_start && entry.count > 0 {
                entry.count -= 1;
            }
        }
        Ok(())
    }

    async fn clear_attempts(&self, key: &str) -> Result<(), StoreError> {
        self.lock().attempts.remove(key);
        Ok(())
    }
}

#[async_trait]
impl ContactStore for MemoryStore {
    async fn add_contact(&self, owner: &str, contact: &str, now: i64) -> Result<(), StoreError> {
        let mut s = self.lock();
        let contacts = s.contacts.entry(owner.to_owned()).or_default();
        if contacts.contains_key(contact) {
            return Err(StoreError::Conflict(Conflict::AlreadyContact));
        }
        contacts.insert(contact.to_owned(), now);
        Ok(())
    }

    async fn remove_contact(&self, owner: &str, contact: &str) -> Result<bool, StoreError> {
        Ok(self.lock().contacts.get_mut(owner).is_some_and(|c| c.remove(contact).is_some()))
    }

    async fn list_contacts(&self, owner: &str, after: Option<&str>, limit: usize) -> Result<Page<String>, StoreError> {
        let s = self.lock();
        let Some(contacts) = s.contacts.get(owner) else {
            return Ok(Page { items: Vec::new(), next_cursor: None });
        };
        let mut names = contacts.keys().filter(|name| after.is_none_or(|a| name.as_str() > a)).cloned();
        let items: Vec<String> = names.by_ref().take(limit).collect();
        let next_cursor = names.next().and(items.last().cloned());
        Ok(Page { items, next_cursor })
    }
}

fn not_member() -> StoreError {
    StoreError::Conflict(Conflict::NotMember)
}

impl State {
    fn is_member(&self, id: &ConversationId, username: &str) -> bool {
        self.members.get(id).is_some_and(|m| m.contains_key(username))
    }

    /// The live sockets of `usernames`: (user, connection, expiry, whether it asked for batch
    /// frames).
    fn live_sockets(&self, usernames: &[String], now: i64) -> Vec<(String, ConnectionId, i64, bool)> {
        usernames
            .iter()
            .filter_map(|u| self.users.get(u))
            .flat_map(|user| {
                user.connections.iter().filter(|(_, expires)| **expires > now).map(|(c, expires)| {
                    let batch = self.socket_options.get(c).is_some_and(|(_, batch)| *batch);
                    (user.username.clone(), c.clone(), *expires, batch)
                })
            })
            .collect()
    }

    /// The conversations `username` is in, with the read state there.
    fn memberships_of<'a>(
        &'a self,
        username: &'a str,
    ) -> impl Iterator<Item = (&'a ConversationId, &'a ReadState)> + 'a {
        self.memberships
            .range((username.to_owned(), ConversationId::default())..)
            .take_while(move |((user, _), _)| user == username)
            .map(|((_, conversation), state)| (conversation, state))
    }
}

#[async_trait]
impl ConversationStore for MemoryStore {
    async fn create_conversation(
        &self,
        conversation: &Conversation,
        members: &[Member],
        direct_key: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut s = self.lock();
        // A direct conversation: refused if the other blocks its creator; the other's side marked
        // if its creator blocks them.
        let mut blocked_side = None;
        if let Some(key) = direct_key {
            if s.direct.contains_key(key) {
                return Err(StoreError::Conflict(Conflict::DirectExists));
            }
            let creator = conversation.created_by.as_str();
            if let Some(other) = members.iter().map(|m| m.username.as_str()).find(|u| *u != creator) {
                if s.users.get(other).is_some_and(|u| u.blocks(creator)) {
                    return Err(StoreError::Conflict(Conflict::Blocked));
                }
                if s.users.get(creator).is_some_and(|u| u.blocks(other)) {
                    blocked_side = Some(other.to_owned());
                }
            }
            s.direct.insert(key.to_owned(), conversation.id.clone());
        }
        for member in members {
            let blocked = blocked_side.as_deref() == Some(member.username.as_str());
            s.memberships.insert(
                (member.username.clone(), conversation.id.clone()),
                ReadState { blocked, ..ReadState::default() },
            );
        }
        s.members.insert(conversation.id.clone(), members.iter().map(|m| (m.username.clone(), m.joined_at)).collect());
        if conversation.sockets == Sockets::OnProfiles {
            s.rosters.insert(conversation.id.clone(), members.iter().map(|m| m.username.clone()).collect());
        }
        s.conversations.insert(conversation.id.clone(), conversation.clone());
        s.notified.insert(conversation.id.clone(), MessageId::NONE);
        for member in members {
            s.emit(Change::MemberAdded {
                conversation_id: conversation.id.clone(),
                username: member.username.clone(),
                by: member.added_by.clone(),
                joined_at: member.joined_at,
            });
        }
        Ok(())
    }

    async fn direct_conversation(&self, direct_key: &str) -> Result<Option<ConversationId>, StoreError> {
        Ok(self.lock().direct.get(direct_key).cloned())
    }

    async fn get_conversation(&self, id: &ConversationId) -> Result<Option<Conversation>, StoreError> {
        Ok(self.lock().conversations.get(id).cloned())
    }

    async fn member_conversation(
        &self,
        id: &ConversationId,
        username: &str,
    ) -> Result<Option<(Conversation, ReadState)>, StoreError> {
        let s = self.lock();
        let state = s.memberships.get(&(username.to_owned(), id.to_owned())).copied();
        Ok(s.conversations.get(id).cloned().zip(state))
    }

    async fn get_conversations(&self, ids: &[ConversationId]) -> Result<Vec<Conversation>, StoreError> {
        let s = self.lock();
        Ok(ids.iter().filter_map(|id| s.conversations.get(id).cloned()).collect())
    }

    async fn memberships(&self, username: &str) -> Result<Vec<(ConversationId, ReadState)>, StoreError> {
        let s = self.lock();
        Ok(s.memberships_of(username).map(|(conversation, state)| (conversation.clone(), *state)).collect())
    }

    async fn read_state(
        &self,
        username: &str,
        conversation_id: &ConversationId,
    ) -> Result<Option<ReadState>, StoreError> {
        Ok(self.lock().memberships.get(&(username.to_owned(), conversation_id.to_owned())).copied())
    }

    async fn members_among(&self, id: &ConversationId, usernames: &[String]) -> Result<Vec<String>, StoreError> {
        let s = self.lock();
        Ok(usernames.iter().filter(|u| s.is_member(id, u)).cloned().collect())
    }

    async fn list_members(
        &self,
        id: &ConversationId,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<Member>, StoreError> {
        let s = self.lock();
        let Some(members) = s.members.get(id) else {
            return Ok(Page { items: Vec::new(), next_cursor: None });
        };
        let mut rest = members
            .iter()
            .filter(|(name, _)| after.is_none_or(|a| name.as_str() > a))
            .map(|(name, joined_at)| Member { username: name.clone(), joined_at: *joined_at, added_by: None });
        let items: Vec<Member> = rest.by_ref().take(limit).collect();
        let next_cursor = rest.next().and(items.last().map(|m| m.username.clone()));
        Ok(Page { items, next_cursor })
    }

    async fn longest_standing(&self, id: &ConversationId, except: &str) -> Result<Option<String>, StoreError> {
        let s = self.lock();
        Ok(s.members.get(id).and_then(|members| {
            members
                .iter()
                .filter(|(name, _)| name.as_str() != except)
                .min_by(|a, b| a.1.cmp(b.1).then_with(|| a.0.cmp(b.0)))
                .map(|(name, _)| name.clone())
        }))
    }

    async fn update_conversation(
        &self,
        id: &ConversationId,
        name: Option<&str>,
        icon_file_id: Option<Option<&FileId>>,
        now: i64,
    ) -> Result<Conversation, StoreError> {
        let mut s = self.lock();
        let conversation = s.conversations.get_mut(id).ok_or_else(not_member)?;
        if let Some(name) = name {
            conversation.name = Some(name.to_owned());
        }
        if let Some(icon) = icon_file_id {
            conversation.icon_file_id = icon.cloned();
        }
        conversation.last_activity_at = now;
        let updated = conversation.clone();
        s.emit(Change::ConversationChanged { conversation_id: id.clone() });
        Ok(updated)
    }

    async fn add_members(
        &self,
        id: &ConversationId,
        caller: Option<&str>,
        members: &[Member],
        sockets: Sockets,
        preview: &[String],
        now: i64,
    ) -> Result<Conversation, StoreError> {
        let mut s = self.lock();
        let conversation = s.conversations.get(id).ok_or_else(not_member)?;
        let allowed = match caller {
            Some(caller) => s.is_member(id, caller),
            None => conversation.visibility == Visibility::Public,
        };
        if !allowed {
            return Err(not_member());
        }
        if members.iter().any(|m| s.is_member(id, &m.username)) {
            return Err(StoreError::Conflict(Conflict::AlreadyMember));
        }
        if conversation.member_count + members.len() as i64 > MEMBERS_MAX as i64 {
            return Err(StoreError::Conflict(Conflict::Full { max: MEMBERS_MAX }));
        }
        for member in members {
            s.memberships.insert((member.username.clone(), id.to_owned()), ReadState::default());
            s.members.entry(id.to_owned()).or_default().insert(member.username.clone(), member.joined_at);
            if sockets == Sockets::OnProfiles {
                s.rosters.entry(id.to_owned()).or_default().insert(member.username.clone());
            }
        }
        let conversation = s.conversations.get_mut(id).ok_or_else(not_member)?;
        conversation.member_count += members.len() as i64;
        conversation.member_preview = preview.to_vec();
        conversation.last_activity_at = now;
        let updated = conversation.clone();
        for member in members {
            s.emit(Change::MemberAdded {
                conversation_id: id.to_owned(),
                username: member.username.clone(),
                by: member.added_by.clone(),
                joined_at: member.joined_at,
            });
        }
        Ok(updated)
    }

    async fn remove_member(
        &self,
        expected: &Conversation,
        username: &str,
        new_owner: Option<&str>,
        preview: &[String],
    ) -> Result<(), StoreError> {
        let mut s = self.lock();
        let member = s.is_member(&expected.id, username);
        let conversation = s.conversations.get_mut(&expected.id).ok_or_else(not_member)?;
        if conversation.owner != expected.owner || !member {
            return Err(StoreError::Conflict(Conflict::Missing));
        }
        conversation.member_count -= 1;
        conversation.member_preview = preview.to_vec();
        if let Some(owner) = new_owner {
            conversation.owner = owner.to_owned();
        }
        s.memberships.remove(&(username.to_owned(), expected.id.clone()));
        if let Some(members) = s.members.get_mut(&expected.id) {
            members.remove(username);
        }
        if let Some(roster) = s.rosters.get_mut(&expected.id) {
            roster.remove(username);
        }
        s.emit(Change::MemberRemoved { conversation_id: expected.id.clone(), username: username.to_owned() });
        if new_owner.is_some() {
            s.emit(Change::ConversationChanged { conversation_id: expected.id.clone() });
        }
        Ok(())
    }

    async fn set_notifications(
        &self,
        username: &str,
        conversation_id: &ConversationId,
        settings: &Settings,
    ) -> Result<(), StoreError> {
        let mut s = self.lock();
        let state = s.memberships.get_mut(&(username.to_owned(), conversation_id.clone())).ok_or_else(not_member)?;
        state.notifications = *settings;
        // Whether the conversation counts in the badge may have changed.
        s.emit(Change::Read {
            username: username.to_owned(),
            conversation_id: conversation_id.clone(),
            settings: true,
        });
        Ok(())
    }

    async fn list_public(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<Conversation>, StoreError> {
        let s = self.lock();
        let mut public: Vec<(String, &Conversation)> = s
            .conversations
            .values()
            .filter(|c| c.visibility == Visibility::Public)
            .map(|c| (c.public_sort_key(), c))
            .filter(|(key, _)| key.starts_with(prefix) && after.is_none_or(|a| key.as_str() > a))
            .collect();
        public.sort_by(|a, b| a.0.cmp(&b.0));
        let more = public.len() > limit;
        public.truncate(limit);
        let next_cursor = if more { public.last().map(|(k, _)| k.clone()) } else { None };
        Ok(Page { items: public.into_iter().map(|(_, c)| c.clone()).collect(), next_cursor })
    }
}

#[async_trait]
impl MessageStore for MemoryStore {
    async fn allocate_message_id(
        &self,
        conversation_id: &ConversationId,
        claim: &TurnClaim<'_>,
    ) -> Result<(Conversation, Signalled), StoreError> {
        let mut s = self.lock();
        let conversation = s.conversations.get_mut(conversation_id).ok_or_else(not_member)?;
        conversation.last_message_id += 1;
        conversation.last_activity_at = claim.now;
        let conversation = conversation.clone();
        let state = s.push_turns.entry(conversation_id.to_owned()).or_default();
        let signalled = state.signal(claim, conversation.last_message_id);
        Ok((conversation, signalled))
    }

    async fn put_message(&self, message: &Message, rate: &SendRate) -> Result<(), StoreError> {
        let mut s = self.lock();
        let conversation = message.conversation_id.clone();
        // A repeated `client_id` wins over every other refusal, as in the DynamoDB adapter: a
        // retry gets its original back.
        let claim =
            message.client_id.as_ref().map(|c| (conversation.clone(), message.sender_username.clone(), c.clone()));
        if claim.as_ref().is_some_and(|key| s.client_ids.contains_key(key)) {
            return Err(StoreError::Conflict(Conflict::DuplicateClientId));
        }
        if !s.is_member(&conversation, &message.sender_username) {
            return Err(not_member());
        }
        let membership = (message.sender_username.clone(), conversation.clone());
        if s.memberships.get(&membership).is_some_and(|state| state.blocked) {
            return Err(StoreError::Conflict(Conflict::Blocked));
        }
        let window = (message.sender_username.clone(), rate.window_start);
        if s.sends.get(&window).is_some_and(|n| *n >= rate.limit) {
            return Err(StoreError::Conflict(Conflict::RateLimited));
        }
        if let Some(reply) = message.reply_id {
            let stored = s.messages.get(&conversation).and_then(|m| m.get(&reply)).is_some_and(Option::is_some);
            if !stored {
                return Err(StoreError::Conflict(Conflict::Missing));
            }
        }
        let parent = message.reply_id;
        if s.messages.get(&conversation).is_some_and(|m| m.contains_key(&message.id)) {
            return Err(StoreError::Conflict(Conflict::IdTaken));
        }
        if let Some(key) = claim {
            s.client_ids.insert(key, message.id);
        }
        if let Some(state) = s.memberships.get_mut(&(message.sender_username.clone(), conversation.clone())) {
            state.own_after_read += 1;
            state.active_at = Some(message.sent_at);
        }
        s.sends.retain(|(_, start), _| *start + rate.window_ms > rate.window_start);
        *s.sends.entry(window).or_default() += 1;
        let messages = s.messages.entry(conversation.clone()).or_default();
        if let Some(Some(parent)) = parent.and_then(|p| messages.get_mut(&p)) {
            parent.reply_count += 1;
        }
        messages.insert(message.id, Some(message.clone()));
        s.emit(Change::Message { conversation_id: conversation, id: message.id });
        Ok(())
    }

    async fn put_void(&self, conversation_id: &ConversationId, id: MessageId) -> Result<(), StoreError> {
        let mut s = self.lock();
        s.messages.entry(conversation_id.to_owned()).or_default().entry(id).or_insert(None);
        s.emit(Change::Message { conversation_id: conversation_id.to_owned(), id });
        Ok(())
    }

    async fn message_id_for_client_id(
        &self,
        conversation_id: &ConversationId,
        sender: &str,
        client_id: &str,
    ) -> Result<Option<MessageId>, StoreError> {
        let key = (conversation_id.to_owned(), sender.to_owned(), client_id.to_owned());
        Ok(self.lock().client_ids.get(&key).copied())
    }

    async fn get_message(
        &self,
        conversation_id: &ConversationId,
        id: MessageId,
    ) -> Result<Option<Message>, StoreError> {
        Ok(self.lock().messages.get(conversation_id).and_then(|m| m.get(&id)).cloned().flatten())
    }

    async fn get_messages(&self, keys: &[(ConversationId, MessageId)]) -> Result<Vec<Message>, StoreError> {
        let s = self.lock();
        Ok(keys.iter().filter_map(|(c, id)| s.messages.get(c).and_then(|m| m.get(id)).cloned().flatten()).collect())
    }

    async fn list_messages(
        &self,
        conversation_id: &ConversationId,
        before: Option<MessageId>,
        after: Option<MessageId>,
        limit: usize,
    ) -> Result<(Vec<Message>, bool), StoreError> {
        let s = self.lock();
        let Some(all) = s.messages.get(conversation_id) else {
            return Ok((Vec::new(), false));
        };
        let real = |(_, m): (&MessageId, &Option<Message>)| m.clone();
        let last = MessageId::new(i64::MAX);
        let (mut page, more): (Vec<Message>, bool) = match after {
            // Nothing lies after the largest id there is.
            Some(after) if after == last => (Vec::new(), false),
            Some(after) => {
                let upper = before.unwrap_or(last);
                if after + 1 >= upper {
                    return Ok((Vec::new(), false));
                }
                let mut newer = all.range(after + 1..upper).filter_map(real);
                let page: Vec<Message> = newer.by_ref().take(limit).collect();
                (page, newer.next().is_some())
            }
            None => {
                let upper = before.unwrap_or(last);
                let mut older = all.range(..upper).rev().filter_map(real);
                let page: Vec<Message> = older.by_ref().take(limit).collect();
                (page, older.next().is_some())
            }
        };
        page.sort_by_key(|m| m.id);
        Ok((page, more))
    }

    async fn update_message(&self, message: &Message) -> Result<(), StoreError> {
        let mut s = self.lock();
        let slot = s
            .messages
            .get_mut(&message.conversation_id)
            .and_then(|m| m.get_mut(&message.id))
            .filter(|m| m.is_some())
            .ok_or(StoreError::Conflict(Conflict::Missing))?;
        if slot.as_ref().is_some_and(|m| m.deleted) {
            return Err(StoreError::Conflict(Conflict::Deleted));
        }
        // The reply count is the replies' to keep, and the reactions and pin theirs, as on
        // DynamoDB; a tombstone clears both, if the pin is as read.
        let stored = slot.as_ref().map(|m| (m.reply_count, m.reactions.clone(), m.pinned));
        let (reply_count, reactions, pinned) = stored.unwrap_or_default();
        if message.deleted && pinned != message.pinned {
            return Err(StoreError::Conflict(Conflict::Stale));
        }
        *slot = if message.deleted {
            Some(Message { reply_count, reactions: Vec::new(), pinned: false, my_reactions: None, ..message.clone() })
        } else {
            Some(Message { reply_count, reactions, pinned, my_reactions: None, ..message.clone() })
        };
        if message.deleted {
            s.reactors.remove(&(message.conversation_id.clone(), message.id));
            if let Some(pins) = s.pins.get_mut(&message.conversation_id) {
                pins.remove(&message.id);
            }
        }
        s.emit(Change::MessageChanged { conversation_id: message.conversation_id.clone(), id: message.id });
        Ok(())
    }

    async fn list_replies(
        &self,
        conversation_id: &ConversationId,
        parent: MessageId,
        after: Option<MessageId>,
        limit: usize,
    ) -> Result<(Vec<Message>, bool), StoreError> {
        let s = self.lock();
        let mut replies = s
            .messages
            .get(conversation_id)
            .into_iter()
            .flat_map(|m| m.range(after.map_or(MessageId::NONE, |a| a + 1)..))
            .filter_map(|(_, m)| m.as_ref())
            .filter(|m| m.reply_id == Some(parent))
            .cloned();
        let page: Vec<Message> = replies.by_ref().take(limit).collect();
        let more = replies.next().is_some();
        Ok((page, more))
    }

    async fn mark_read(
        &self,
        username: &str,
        conversation_id: &ConversationId,
        message_id: MessageId,
        own_after_read: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut s = self.lock();
        let state = s.memberships.get_mut(&(username.to_owned(), conversation_id.to_owned())).ok_or_else(not_member)?;
        if state.last_read >= message_id {
            return Ok(false);
        }
        *state = ReadState { last_read: message_id, own_after_read, active_at: Some(now), ..*state };
        s.emit(Change::Read {
            username: username.to_owned(),
            conversation_id: conversation_id.to_owned(),
            settings: false,
        });
        Ok(true)
    }

    async fn count_own_messages(
        &self,
        conversation_id: &ConversationId,
        username: &str,
        after: MessageId,
        through: MessageId,
    ) -> Result<i64, StoreError> {
        let s = self.lock();
        let Some(all) = s.messages.get(conversation_id) else {
            return Ok(0);
        };
        Ok(all
            .range(after + 1..=through)
            .filter(|(_, m)| m.as_ref().is_some_and(|m| m.sender_username == username))
            .count() as i64)
    }

    async fn stored_after(
        &self,
        conversation_id: &ConversationId,
        after: MessageId,
        limit: usize,
    ) -> Result<Vec<(MessageId, Option<Message>)>, StoreError> {
        let s = self.lock();
        let Some(all) = s.messages.get(conversation_id) else {
            return Ok(Vec::new());
        };
        Ok(all.range(after + 1..).take(limit).map(|(id, m)| (*id, m.clone())).collect())
    }

    async fn claim_push_turn(
        &self,
        conversation_id: &ConversationId,
        claim: &TurnClaim<'_>,
    ) -> Result<Signalled, StoreError> {
        let mut s = self.lock();
        let Some(last_id) = s.conversations.get(conversation_id).map(|c| c.last_message_id) else {
            return Ok(Signalled::Held);
        };
        let state = s.push_turns.entry(conversation_id.to_owned()).or_default();
        Ok(match state.signal(claim, last_id) {
            // The holder's lease ran out (it died): take over.
            Signalled::Stale => state.take(claim),
            other => other,
        })
    }

    async fn release_push_turn(
        &self,
        conversation_id: &ConversationId,
        holder: &str,
        release: PushRelease,
    ) -> Result<Released, StoreError> {
        let mut s = self.lock();
        let last_id = s.conversations.get(conversation_id).map_or(MessageId::NONE, |c| c.last_message_id);
        let state = s.push_turns.entry(conversation_id.to_owned()).or_default();
        state.turn.last_id = last_id;
        if state.holder.as_ref().map(|(h, _)| h.as_str()) != Some(holder) {
            return Ok(Released::Lost);
        }
        state.turn.pushed_id = state.turn.pushed_id.max(release.pushed_id);
        match release.mode {
            ReleaseMode::IfQuiet { seen, clean } if seen == state.turn.signal => {
                if clean {
                    state.turn.clean_signal = state.turn.signal;
                }
            }
            ReleaseMode::Release => {}
            mode => {
                state.holder = Some((holder.to_owned(), release.lease_until));
                state.retiring |= mode == ReleaseMode::Retire;
                return Ok(Released::Signalled(state.turn));
            }
        }
        state.holder = None;
        state.retiring = false;
        Ok(Released::Released)
    }
}

#[async_trait]
impl ConnectionStore for MemoryStore {
    async fn add_connection(
        &self,
        username: &str,
        connection_id: &ConnectionId,
        socket: &SocketOptions<'_>,
        now: i64,
        expires_at: i64,
    ) -> Result<Connected, StoreError> {
        let mut s = self.lock();
        let batch = socket.batch;
        let user = s.users.get_mut(username).ok_or(StoreError::Conflict(Conflict::Missing))?;
        let connected = Connected {
            first: !user.connections.values().any(|expires| *expires > now),
            last_online: user.last_online,
            blocks: user.blocks.clone(),
        };
        user.connections.retain(|_, expires| *expires > now);
        user.connections.insert(connection_id.to_owned(), expires_at);
        s.socket_options.insert(connection_id.to_owned(), (socket.session.map(str::to_owned), batch));
        let conversations: Vec<ConversationId> = s
            .memberships_of(username)
            .map(|(c, _)| c.clone())
            .filter(|c| !s.rosters.get(c).is_some_and(|roster| roster.contains(username)))
            .collect();
        for conversation in conversations {
            s.conversation_connections
                .entry(conversation)
                .or_default()
                .insert(connection_id.to_owned(), (username.to_owned(), expires_at, batch));
        }
        Ok(connected)
    }

    async fn remove_connection(
        &self,
        username: &str,
        connection_id: &ConnectionId,
        now: i64,
    ) -> Result<Disconnected, StoreError> {
        let mut s = self.lock();
        let Some(user) = s.users.get_mut(username) else {
            return Ok(Disconnected::default());
        };
        if user.connections.remove(connection_id).is_none() {
            return Ok(Disconnected::default());
        }
        user.last_online = Some(now);
        let gone = Disconnected { last: user.live_connections(now).next().is_none(), blocks: user.blocks.clone() };
        s.socket_options.remove(connection_id);
        Ok(gone)
    }

    async fn sockets(&self, username: &str, now: i64) -> Result<Vec<(ConnectionId, Option<String>)>, StoreError> {
        let s = self.lock();
        let Some(user) = s.users.get(username) else {
            return Ok(Vec::new());
        };
        let session = |c: &ConnectionId| s.socket_options.get(c).and_then(|(session, _)| session.clone());
        Ok(user.live_connections(now).map(|c| (c.clone(), session(c))).collect())
    }

    async fn connections_of(&self, usernames: &[String], now: i64) -> Result<Vec<(String, ConnectionId)>, StoreError> {
        let s = self.lock();
        Ok(usernames
            .iter()
            .filter_map(|u| s.users.get(u))
            .flat_map(|user| user.live_connections(now).map(|c| (user.username.clone(), c.clone())))
            .collect())
    }

    async fn conversation_connections(
        &self,
        conversation_id: &ConversationId,
        now: i64,
    ) -> Result<Vec<Target>, StoreError> {
        let s = self.lock();
        let mut found: Vec<Target> = s
            .conversation_connections
            .get(conversation_id)
            .map(|connections| {
                connections
                    .iter()
                    .filter(|(_, (_, expires, _))| *expires > now)
                    .map(|(connection, (user, _, batch))| Target {
                        user: user.clone(),
                        connection: connection.clone(),
                        batch: *batch,
                        on_profile: false,
                    })
                    .collect()
            })
            .unwrap_or_default();
        if let Some(roster) = s.rosters.get(conversation_id) {
            let members: Vec<String> = roster.iter().cloned().collect();
            for (user, connection, _, batch) in s.live_sockets(&members, now) {
                if !found.iter().any(|t| t.connection == connection) {
                    found.push(Target { user, connection, batch, on_profile: true });
                }
            }
        }
        Ok(found)
    }

    async fn register_connections(
        &self,
        conversation_id: &ConversationId,
        usernames: &[String],
        sockets: Sockets,
        now: i64,
    ) -> Result<Vec<(String, ConnectionId)>, StoreError> {
        let mut s = self.lock();
        let live = s.live_sockets(usernames, now);
        if sockets == Sockets::Recorded {
            let recorded = s.conversation_connections.entry(conversation_id.to_owned()).or_default();
            for (user, connection, expires, batch) in &live {
                recorded.insert(connection.clone(), (user.clone(), *expires, *batch));
            }
        }
        Ok(live.into_iter().map(|(user, connection, _, _)| (user, connection)).collect())
    }

    async fn unregister_connections(
        &self,
        conversation_id: &ConversationId,
        username: &str,
        connection_id: Option<&ConnectionId>,
        _now: i64,
    ) -> Result<(), StoreError> {
        let mut s = self.lock();
        if let Some(recorded) = s.conversation_connections.get_mut(conversation_id) {
            recorded.retain(|connection, (user, _, _)| match connection_id {
                Some(gone) => connection != gone,
                None => user != username,
            });
        }
        Ok(())
    }

    async fn contact_of(&self, username: &str) -> Result<Vec<String>, StoreError> {
        let s = self.lock();
        Ok(s.contacts.iter().filter(|(_, c)| c.contains_key(username)).map(|(owner, _)| owner.clone()).collect())
    }
}

#[async_trait]
impl FileStore for MemoryStore {
    async fn put_file(&self, file: &FileRecord) -> Result<(), StoreError> {
        self.lock().files.insert(file.id.clone(), file.clone());
        Ok(())
    }

    async fn get_file(&self, id: &FileId) -> Result<Option<FileRecord>, StoreError> {
        Ok(self.lock().files.get(id).cloned())
    }

    async fn mark_file_referenced(&self, id: &FileId) -> Result<(), StoreError> {
        if let Some(file) = self.lock().files.get_mut(id) {
            file.referenced = true;
        }
        Ok(())
    }
}

#[async_trait]
impl BlockStore for MemoryStore {
    async fn block(&self, blocker: &str, blocked: &str, direct_key: &str, now: i64) -> Result<(), StoreError> {
        let mut s = self.lock();
        let Some(user) = s.users.get(blocker) else { return Err(StoreError::Conflict(Conflict::Missing)) };
        if user.blocks(blocked) {
            return Err(StoreError::Conflict(Conflict::AlreadyBlocked));
        }
        if user.blocks.len() >= BLOCKS_MAX {
            return Err(StoreError::Conflict(Conflict::TooMany));
        }
        if let Some(user) = s.users.get_mut(blocker) {
            user.blocks.insert(blocked.to_owned());
        }
        s.blocked_at.entry(blocker.to_owned()).or_default().insert(blocked.to_owned(), now);
        if let Some(direct) = s.direct.get(direct_key).cloned() {
            if let Some(state) = s.memberships.get_mut(&(blocked.to_owned(), direct)) {
                state.blocked = true;
            }
        }
        Ok(())
    }

    async fn unblock(&self, blocker: &str, blocked: &str, direct_key: &str) -> Result<bool, StoreError> {
        let mut s = self.lock();
        let was = s.users.get_mut(blocker).is_some_and(|user| user.blocks.remove(blocked));
        if !was {
            return Ok(false);
        }
        if let Some(at) = s.blocked_at.get_mut(blocker) {
            at.remove(blocked);
        }
        if let Some(direct) = s.direct.get(direct_key).cloned() {
            if let Some(state) = s.memberships.get_mut(&(blocked.to_owned(), direct)) {
                state.blocked = false;
            }
        }
        Ok(true)
    }

    async fn list_blocks(&self, blocker: &str, after: Option<&str>, limit: usize) -> Result<Page<Block>, StoreError> {
        let s = self.lock();
        let Some(all) = s.blocked_at.get(blocker) else {
            return Ok(Page { items: Vec::new(), next_cursor: None });
        };
        let mut blocks = all
            .iter()
            .filter(|(name, _)| after.is_none_or(|a| name.as_str() > a))
            .map(|(username, at)| Block { username: username.clone(), blocked_at: *at });
        let items: Vec<Block> = blocks.by_ref().take(limit).collect();
        let next_cursor = blocks.next().and(items.last().map(|b| b.username.clone()));
        Ok(Page { items, next_cursor })
    }
}

#[async_trait]
impl ReportStore for MemoryStore {
    async fn put_report(&self, report: &Report) -> Result<Option<Report>, StoreError> {
        let mut s = self.lock();
        let key = (report.conversation_id.clone(), report.message_id, report.reporter.clone());
        if let Some(existing) = s.reports.get(&key) {
            return Ok(Some(existing.clone()));
        }
        s.reports.insert(key, report.clone());
        Ok(None)
    }

    async fn mark_report_published(&self, report: &Report) -> Result<(), StoreError> {
        let mut s = self.lock();
        let key = (report.conversation_id.clone(), report.message_id, report.reporter.clone());
        let stored = s.reports.get_mut(&key).ok_or(StoreError::Conflict(Conflict::Missing))?;
        stored.published = true;
        Ok(())
    }
}

impl State {
    /// A member's write to a conversation: `Conflict::NotMember`, or `Conflict::Blocked` for the
    /// blocked side of a direct conversation (unless `blocked_may`).
    fn member_writes(
        &self,
        username: &str,
        conversation_id: &ConversationId,
        blocked_may: bool,
    ) -> Result<(), StoreError> {
        match self.memberships.get(&(username.to_owned(), conversation_id.clone())) {
            None => Err(not_member()),
            Some(state) if state.blocked && !blocked_may => Err(StoreError::Conflict(Conflict::Blocked)),
            Some(_) => Ok(()),
        }
    }

    /// The stored message a reaction or pin changes: `Conflict::Deleted` for a tombstone.
    fn live_message(&mut self, conversation_id: &ConversationId, id: MessageId) -> Result<&mut Message, StoreError> {
        let message = self
            .messages
            .get_mut(conversation_id)
            .and_then(|m| m.get_mut(&id))
            .and_then(|m| m.as_mut())
            .ok_or(StoreError::Conflict(Conflict::Missing))?;
        if message.deleted {
            return Err(StoreError::Conflict(Conflict::Deleted));
        }
        Ok(message)
    }

    /// The count of `reaction` on the stored message.
    fn reaction_count(&self, conversation_id: &ConversationId, id: MessageId, reaction: &str) -> i64 {
        self.reactors
            .get(&(conversation_id.clone(), id))
            .and_then(|r| r.get(reaction))
            .map_or(0, |users| users.len() as i64)
    }

    /// Writes a message's reactions as messages carry them (count, the first users by name).
    fn show_reactions(&mut self, conversation_id: &ConversationId, id: MessageId) {
        let mut shown: Vec<crate::chat::Reaction> = self
            .reactors
            .get(&(conversation_id.clone(), id))
            .into_iter()
            .flatten()
            .map(|(reaction, users)| crate::chat::Reaction {
                reaction: reaction.clone(),
                count: users.len() as i64,
                users: users.iter().take(crate::chat::REACTION_USERS_SHOWN).cloned().collect(),
            })
            .collect();
        crate::chat::sort_reactions(&mut shown);
        if let Ok(message) = self.live_message(conversation_id, id) {
            message.reactions = shown;
        }
    }
}

/// The count of `reaction` on a message as the caller read it.
fn read_count(message: &Message, reaction: &str) -> i64 {
    message.reactions.iter().find(|r| r.reaction == reaction).map_or(0, |r| r.count)
}

#[async_trait]
impl ReactionStore for MemoryStore {
    async fn add_reaction(
        &self,
        message: &Message,
        username: &str,
        reaction: &str,
        _now: i64,
    ) -> Result<i64, StoreError> {
        let mut s = self.lock();
        let (conversation, id) = (&message.conversation_id, message.id);
        s.member_writes(username, conversation, false)?;
        s.live_message(conversation, id)?;
        let own_key = (conversation.clone(), username.to_owned(), id);
        let own = s.own_reactions.get(&own_key);
        if own.is_some_and(|own| own.contains(reaction)) {
            return Err(StoreError::Conflict(Conflict::Unchanged));
        }
        if own.is_some_and(|own| own.len() >= OWN_REACTIONS_MAX) {
            return Err(StoreError::Conflict(Conflict::TooMany));
        }
        let count = s.reaction_count(conversation, id, reaction);
        let distinct = s.reactors.get(&(conversation.clone(), id)).map_or(0, BTreeMap::len);
        if count == 0 && distinct >= REACTIONS_MAX {
            return Err(StoreError::Conflict(Conflict::TooMany));
        }
        if count != read_count(message, reaction) {
            return Err(StoreError::Conflict(Conflict::Stale));
        }
        s.own_reactions.entry(own_key).or_default().insert(reaction.to_owned());
        let reactors = s.reactors.entry((conversation.clone(), id)).or_default();
        reactors.entry(reaction.to_owned()).or_default().insert(username.to_owned());
        s.show_reactions(conversation, id);
        s.emit(Change::Reacted {
            conversation_id: conversation.clone(),
            id,
            username: username.to_owned(),
            reaction: reaction.to_owned(),
        });
        Ok(count + 1)
    }

    async fn remove_reaction(
        &self,
        message: &Message,
        username: &str,
        reaction: &str,
        _now: i64,
    ) -> Result<i64, StoreError> {
        let mut s = self.lock();
        let (conversation, id) = (&message.conversation_id, message.id);
        s.member_writes(username, conversation, true)?;
        s.live_message(conversation, id)?;
        let own_key = (conversation.clone(), username.to_owned(), id);
        if !s.own_reactions.get(&own_key).is_some_and(|own| own.contains(reaction)) {
            return Err(StoreError::Conflict(Conflict::Unchanged));
        }
        let count = s.reaction_count(conversation, id, reaction);
        if count != read_count(message, reaction) {
            return Err(StoreError::Conflict(Conflict::Stale));
        }
        if let Some(own) = s.own_reactions.get_mut(&own_key) {
            own.remove(reaction);
        }
        if let Some(reactors) = s.reactors.get_mut(&(conversation.clone(), id)) {
            if let Some(users) = reactors.get_mut(reaction) {
                users.remove(username);
                if users.is_empty() {
                    reactors.remove(reaction);
                }
            }
        }
        s.show_reactions(conversation, id);
        s.emit(Change::Reacted {
            conversation_id: conversation.clone(),
            id,
            username: username.to_owned(),
            reaction: reaction.to_owned(),
        });
        Ok(count - 1)
    }

    async fn own_reactions(
        &self,
        conversation_id: &ConversationId,
        username: &str,
        from: MessageId,
        to: MessageId,
    ) -> Result<Vec<(MessageId, Vec<String>)>, StoreError> {
        let s = self.lock();
        let (lo, hi) =
            ((conversation_id.clone(), username.to_owned(), from), (conversation_id.clone(), username.to_owned(), to));
        Ok(s.own_reactions
            .range(lo..=hi)
            .filter(|(_, own)| !own.is_empty())
            .map(|((_, _, id), own)| (*id, own.iter().cloned().collect()))
            .collect())
    }
}

#[async_trait]
impl PinStore for MemoryStore {
    async fn pin(&self, message: &Message, username: &str, now: i64) -> Result<(), StoreError> {
        let mut s = self.lock();
        let (conversation, id) = (&message.conversation_id, message.id);
        s.member_writes(username, conversation, false)?;
        s.live_message(conversation, id)?;
        let pins = s.pins.get(conversation);
        if pins.is_some_and(|p| p.contains_key(&id)) {
            return Err(StoreError::Conflict(Conflict::Unchanged));
        }
        if pins.is_some_and(|p| p.len() >= PINS_MAX) {
            return Err(StoreError::Conflict(Conflict::TooMany));
        }
        let pin = Pin { message_id: id, pinned_at: now, pinned_by: username.to_owned() };
        s.pins.entry(conversation.clone()).or_default().insert(id, pin);
        s.live_message(conversation, id)?.pinned = true;
        s.emit(Change::Pinned { conversation_id: conversation.clone(), id, username: username.to_owned() });
        Ok(())
    }

    async fn unpin(&self, message: &Message, username: &str, _now: i64) -> Result<(), StoreError> {
        let mut s = self.lock();
        let (conversation, id) = (&message.conversation_id, message.id);
        s.member_writes(username, conversation, false)?;
        if s.pins.get_mut(conversation).and_then(|p| p.remove(&id)).is_none() {
            return Err(StoreError::Conflict(Conflict::Unchanged));
        }
        if let Ok(stored) = s.live_message(conversation, id) {
            stored.pinned = false;
        }
        s.emit(Change::Pinned { conversation_id: conversation.clone(), id, username: username.to_owned() });
        Ok(())
    }

    async fn pins(&self, conversation_id: &ConversationId) -> Result<Vec<Pin>, StoreError> {
        let s = self.lock();
        let mut pins: Vec<Pin> = s.pins.get(conversation_id).into_iter().flat_map(|p| p.values().cloned()).collect();
        pins.sort_by(|a, b| b.pinned_at.cmp(&a.pinned_at).then(b.message_id.cmp(&a.message_id)));
        Ok(pins)
    }
}
