//! The store port: everything Chathub keeps, behind one trait with two adapters, [`memory`]
//! (embedded, for local runs and fast tests) and [`dynamo`] (one DynamoDB table). The same
//! behavioural suite runs against both.

pub mod dynamo;
pub mod memory;

use async_trait::async_trait;

use crate::chat::{Conversation, Member, Message, ReadState, Sockets};
use crate::error::StoreError;
use crate::ids::{ConnectionId, ConversationId, FileId, MessageId};
use crate::model::FileRecord;
use crate::model::{Page, UserRecord};
use crate::notifications::decision::Recipient;
use crate::notifications::devices::{Device, DeviceId};
use crate::notifications::settings::Settings;
use crate::sync::feed::{Bucket, FeedHead, FeedKey, LogEntry, Pull, StateKeys, States};

/// Further tries of a write that must land (recording what was pushed, filling a message id)
/// while the store answers `Unavailable`: 10 ms, doubling, about 1.3 s in all.
pub const PERSIST_RETRIES: u32 = 7;

/// Runs `write` until it lands or fails otherwise, trying again [`PERSIST_RETRIES`] times while
/// the store is throttled or unreachable (on top of the SDK's own retries).
pub async fn persist<T, F, Fut>(what: &str, mut write: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, StoreError>>,
{
    let mut attempt = 0;
    loop {
        match write().await {
            Err(e @ StoreError::Unavailable(_)) if attempt < PERSIST_RETRIES => {
                tracing::debug!(error = %crate::error::Chain(&e), what, "store unavailable; trying again");
                tokio::time::sleep(std::time::Duration::from_millis(10 << attempt)).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// A change to a user's profile; `None` leaves a field alone, `Some(None)` clears it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserUpdate {
    pub fullname: Option<String>,
    pub email: Option<Option<String>>,
    pub first_name: Option<Option<String>>,
    pub last_name: Option<Option<String>>,
    pub role: Option<Option<String>>,
    pub date_of_birth: Option<Option<String>>,
    pub avatar_file_id: Option<Option<FileId>>,
    pub password_hash: Option<String>,
}

/// A stored refresh token (by hash) and the session family it belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct RefreshTokenRecord {
    pub token_hash: String,
    pub username: String,
    pub family_id: String,
    pub expires_at: i64,
    /// When it was rotated; a token presented again after that is theft.
    pub used_at: Option<i64>,
}

/// What a socket was opened with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SocketOptions<'a> {
    /// The session (`sid`) of its token: what a revocation closes.
    pub session: Option<&'a str>,
    /// It asked for batch frames at connect (`?batch=1`).
    pub batch: bool,
}

/// A live connection of a conversation: where its pushes go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub user: String,
    pub connection: ConnectionId,
    /// It takes several messages of the conversation in one frame.
    pub batch: bool,
    /// Found on the user's profile (a direct conversation's), not recorded under the
    /// conversation: if it is gone, it is forgotten there.
    pub on_profile: bool,
}

impl Target {
    /// A connection found on its user's profile.
    pub fn on_profile(user: String, connection: ConnectionId) -> Self {
        Self { user, connection, batch: false, on_profile: true }
    }

    /// Where a gone connection is forgotten: under `conversation` if it was recorded there, else
    /// (`None`) on the profile.
    pub fn found_under<'a>(&self, conversation: Option<&'a ConversationId>) -> Option<&'a ConversationId> {
        conversation.filter(|_| !self.on_profile)
    }
}

/// A sender's send limit: at most `limit` sends in the fixed window starting at `window_start`
/// (`window_ms` long).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendRate {
    pub window_start: i64,
    pub window_ms: i64,
    pub limit: u32,
}

/// Attempts counted under one throttle key in its current window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Attempts {
    pub count: u32,
    pub window_start: i64,
}

/// What taking an attempt did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Attempt {
    /// Counted: go on and evaluate it.
    Taken(Attempts),
    /// The window already holds `limit` attempts: refused, uncounted.
    Refused(Attempts),
}

/// Users, their unique emails and the user directory.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Creates the user and claims its email in one step: both or neither
    /// (`Conflict::UsernameTaken` / `Conflict::EmailTaken`).
    async fn create_user(&self, user: &UserRecord) -> Result<(), StoreError>;
    async fn get_user(&self, username: &str) -> Result<Option<UserRecord>, StoreError>;
    /// The users that exist among `usernames`, in no particular order.
    async fn get_users(&self, usernames: &[String]) -> Result<Vec<UserRecord>, StoreError>;
    async fn username_for_email(&self, email: &str) -> Result<Option<String>, StoreError>;
    /// Applies the update to `current` (as just read); an email change moves the email claim in the
    /// same step. `Conflict::Missing` when the stored email is no longer `current`'s.
    async fn update_user(&self, current: &UserRecord, update: &UserUpdate) -> Result<UserRecord, StoreError>;
    /// Users whose name starts with `prefix`, in name order, after `after`.
    async fn list_users(&self, prefix: &str, after: Option<&str>, limit: usize)
        -> Result<Page<UserRecord>, StoreError>;
}

/// Sessions: refresh-token families, rotation and revocation.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Opens a session family with its first refresh token.
    async fn create_session(&self, token: &RefreshTokenRecord, now: i64) -> Result<(), StoreError>;
    async fn get_refresh_token(&self, token_hash: &str) -> Result<Option<RefreshTokenRecord>, StoreError>;
    /// Marks `old` used and stores `new` in the same family, in one step, only if `old` is still
    /// unused and unexpired (`Conflict::TokenAlreadyUsed`) and the family is still open
    /// (`Conflict::SessionRevoked`).
    async fn rotate_refresh_token(
        &self,
        old: &RefreshTokenRecord,
        new: &RefreshTokenRecord,
        now: i64,
    ) -> Result<(), StoreError>;
    async fn revoke_session(&self, username: &str, family_id: &str) -> Result<(), StoreError>;
    /// Whether the session family is still open (a strongly consistent read): tokens of a revoked
    /// session open no socket.
    async fn session_open(&self, username: &str, family_id: &str) -> Result<bool, StoreError>;
    /// Revokes every session of the user but `keep`.
    async fn revoke_sessions(&self, username: &str, keep: Option<&str>) -> Result<(), StoreError>;
    /// When an open session expires (`None`: it is gone). Revoking a session, or its expiry,
    /// also removes the devices it registered ([`DeviceStore`]).
    async fn session_expiry(&self, username: &str, family_id: &str) -> Result<Option<i64>, StoreError>;
}

/// Devices that take push notifications, each bound to the session that registered it, and the
/// claim on each push token that makes a token belong to one device at a time.
#[async_trait]
pub trait DeviceStore: Send + Sync {
    /// The user's devices, in no particular order (expired ones too, until they are deleted).
    async fn devices(&self, username: &str) -> Result<Vec<Device>, StoreError>;
    /// Registers or refreshes `device`, in one step that fails if its session is gone
    /// (`Conflict::SessionRevoked`), or if `previous` (this device as read, if any) or the token's
    /// owner changed since they were read (`Conflict::Missing`): takes the token from whichever
    /// device held it (another user's too), forgets `previous`'s token if it had another, and
    /// drops `evict` (making room for a device over the limit).
    async fn put_device(
        &self,
        device: &Device,
        previous: Option<&Device>,
        evict: Option<&Device>,
    ) -> Result<(), StoreError>;
    /// Forgets a device and its token's claim; whether it existed.
    async fn delete_device(&self, username: &str, device_id: &DeviceId) -> Result<bool, StoreError>;
}

/// What the notify function reads and records (`crate::notifications::deliver`).
#[async_trait]
pub trait NotificationStore: Send + Sync {
    /// What deciding for one member takes first, read at once: their devices, the sessions with a
    /// live socket and their memberships (`conversations` and `typed_at` left empty). `None` for
    /// no such user.
    async fn recipient(&self, username: &str, now: i64) -> Result<Option<Recipient>, StoreError>;
    /// The rest, for a member a push may reach: their conversations as they are now (the badge)
    /// and when they last typed.
    async fn complete(&self, recipient: &mut Recipient) -> Result<(), StoreError>;
    /// The members of a conversation whose settings differ from the defaults.
    async fn settings_of(&self, conversation_id: &ConversationId) -> Result<Vec<(String, Settings)>, StoreError>;
    /// The last message id of the conversation whose notifications are done (`None`: none
    /// recorded yet).
    async fn notified(&self, conversation_id: &ConversationId) -> Result<Option<MessageId>, StoreError>;
    /// Records that notifications are done up to `to`, if the record is still `from`; whether it
    /// was.
    async fn set_notified(
        &self,
        conversation_id: &ConversationId,
        from: Option<MessageId>,
        to: MessageId,
    ) -> Result<bool, StoreError>;
    /// Marks a device disabled (the platform rejected its token), if it still holds that token.
    async fn disable_device(&self, device: &Device) -> Result<(), StoreError>;
}

/// The sync feed (`crate::sync`): each user's feed (a head of pending keys, closed into numbered
/// buckets), the conversations a user pulls, and pulled conversations' logs.
#[async_trait]
pub trait SyncStore: Send + Sync {
    /// The user's feed head and the conversations they pull, strongly consistent.
    async fn feed_head(&self, username: &str) -> Result<(FeedHead, Vec<Pull>), StoreError>;
    /// The user's feed head alone (one strongly consistent read).
    async fn feed_pending(&self, username: &str) -> Result<FeedHead, StoreError>;
    /// Records keys in the user's open bucket (adding to a set: recording one twice is one), in
    /// one write; returns the head after.
    async fn feed_record(&self, username: &str, keys: &[FeedKey]) -> Result<FeedHead, StoreError>;
    /// Closes the open bucket as `head` was read: bucket `head.seq + 1` gets `head.pending`, which
    /// leave the head (keys recorded since stay), in one step that fails with `Conflict::Missing`
    /// if another closing came first. The bucket expires at `expires_at` (epoch seconds).
    async fn feed_close(&self, username: &str, head: &FeedHead, at: i64, expires_at: i64) -> Result<(), StoreError>;
    /// The closed buckets numbered `from..=to`, in order, strongly consistent.
    async fn feed_buckets(&self, username: &str, from: i64, to: i64) -> Result<Vec<Bucket>, StoreError>;
    /// Adds a conversation to those the user pulls, from where it stands in `pull`.
    async fn pull(&self, username: &str, pull: &Pull) -> Result<(), StoreError>;
    /// Removes a conversation from those the user pulls.
    async fn unpull(&self, username: &str, conversation_id: &ConversationId) -> Result<(), StoreError>;
    /// Marks a conversation pulled, for good (its conversation item's `pulled`).
    async fn mark_pulled(&self, conversation_id: &ConversationId) -> Result<(), StoreError>;
    /// Appends a change to its (pulled) conversation's log, unless the log's last entry is that
    /// key already (a change delivered again, or one thing changed twice in a row); then moves the
    /// conversation item's `log_seq` to it. Appends to one conversation come one at a time (its
    /// stream shard's order).
    async fn log_append(&self, key: &FeedKey, at: i64, expires_at: i64) -> Result<(), StoreError>;
    /// Entries `after + 1..=to` of a conversation's log, in order, strongly consistent.
    async fn log_entries(
        &self,
        conversation_id: &ConversationId,
        after: i64,
        to: i64,
    ) -> Result<Vec<LogEntry>, StoreError>;
    /// How things are now, strongly consistent: what a sync reports.
    async fn states(&self, username: &str, keys: &StateKeys) -> Result<States, StoreError>;
}

/// Login throttling.
#[async_trait]
pub trait ThrottleStore: Send + Sync {
    /// Counts an attempt under `key` before it is evaluated, in one conditional write, so parallel
    /// attempts cannot all pass a check made before any of them counted: in the current window if
    /// it started after `window_start_min`, else in a new window starting `now`; refused when the
    /// window holds `limit` attempts already.
    async fn take_attempt(&self, key: &str, limit: u32, now: i64, window_start_min: i64)
        -> Result<Attempt, StoreError>;
    /// Gives back an attempt taken in the window that started at `window_start` (one that
    /// succeeded, where only failures should count); nothing if that window has been replaced.
    async fn refund_attempt(&self, key: &str, window_start: i64) -> Result<(), StoreError>;
    /// Forgets `key`'s attempts.
    async fn clear_attempts(&self, key: &str) -> Result<(), StoreError>;
}

/// Contact lists.
#[async_trait]
pub trait ContactStore: Send + Sync {
    /// `Conflict::AlreadyContact` when it is one already.
    async fn add_contact(&self, owner: &str, contact: &str, now: i64) -> Result<(), StoreError>;
    /// Whether it was a contact.
    async fn remove_contact(&self, owner: &str, contact: &str) -> Result<bool, StoreError>;
    /// Contact usernames in name order, after `after`.
    async fn list_contacts(&self, owner: &str, after: Option<&str>, limit: usize) -> Result<Page<String>, StoreError>;
}

/// Conversations and memberships. A member is two items: one under the conversation (listing,
/// ownership order) and one under the user (my conversations, read state).
#[async_trait]
pub trait ConversationStore: Send + Sync {
    /// Creates the conversation with its members. With `direct_key`, also claims the pair's
    /// direct conversation: `Conflict::DirectExists` when the pair has one already. Up to about
    /// 45 members it is one transaction; beyond, the conversation comes first and further members
    /// follow in transactions of their own (`add_members`).
    async fn create_conversation(
        &self,
        conversation: &Conversation,
        members: &[Member],
        direct_key: Option<&str>,
    ) -> Result<(), StoreError>;
    /// The id of the direct conversation claimed under `direct_key`.
    async fn direct_conversation(&self, direct_key: &str) -> Result<Option<ConversationId>, StoreError>;
    async fn get_conversation(&self, id: &ConversationId) -> Result<Option<Conversation>, StoreError>;
    /// The conversation and `username`'s read state in it, if `username` is a member (one read).
    async fn member_conversation(
        &self,
        id: &ConversationId,
        username: &str,
    ) -> Result<Option<(Conversation, ReadState)>, StoreError>;
    /// The conversations that exist among `ids`, in no particular order.
    async fn get_conversations(&self, ids: &[ConversationId]) -> Result<Vec<Conversation>, StoreError>;
    /// Every conversation `username` is a member of, with their read state.
    async fn memberships(&self, username: &str) -> Result<Vec<(ConversationId, ReadState)>, StoreError>;
    async fn read_state(
        &self,
        username: &str,
        conversation_id: &ConversationId,
    ) -> Result<Option<ReadState>, StoreError>;
    /// Which of `usernames` are members.
    async fn members_among(&self, id: &ConversationId, usernames: &[String]) -> Result<Vec<String>, StoreError>;
    /// Members in name order, after `after`.
    async fn list_members(
        &self,
        id: &ConversationId,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<Member>, StoreError>;
    /// The member who has been in longest (ties by name), other than `except`.
    async fn longest_standing(&self, id: &ConversationId, except: &str) -> Result<Option<String>, StoreError>;
    /// Renames and/or changes the icon of an existing conversation (`Conflict::NotMember` if it
    /// does not exist; the caller checked membership).
    async fn update_conversation(
        &self,
        id: &ConversationId,
        name: Option<&str>,
        icon_file_id: Option<Option<&FileId>>,
        now: i64,
    ) -> Result<Conversation, StoreError>;
    /// Adds members (none of them members yet: `Conflict::AlreadyMember`), if `caller` is one
    /// (`Conflict::NotMember`; with `caller` = `None`, anyone may if it is public: joining), and
    /// if the room stays within [`crate::chat::MEMBERS_MAX`] (`Conflict::Full`). `preview` is the
    /// member preview afterwards; `sockets`: whether they go on the conversation's roster
    /// ([`Sockets::for_joining`]). Returns the conversation as updated.
    async fn add_members(
        &self,
        id: &ConversationId,
        caller: Option<&str>,
        members: &[Member],
        sockets: Sockets,
        preview: &[String],
        now: i64,
    ) -> Result<Conversation, StoreError>;
    /// Removes a member; `new_owner` takes over when the owner leaves; `preview` is the member
    /// preview afterwards. Fails with `Conflict::Missing` if the owner changed since `expected`
    /// was read or `username` is no member.
    async fn remove_member(
        &self,
        expected: &Conversation,
        username: &str,
        new_owner: Option<&str>,
        preview: &[String],
    ) -> Result<(), StoreError>;
    /// Sets a member's notification settings for the conversation (`Conflict::NotMember` if not a
    /// member): on the membership, and for the conversation's notifications as a setting item
    /// under it (removed when back to the defaults), in one step.
    async fn set_notifications(
        &self,
        username: &str,
        conversation_id: &ConversationId,
        settings: &Settings,
    ) -> Result<(), StoreError>;
    /// Public conversations whose lower-cased name starts with `prefix`, by name.
    async fn list_public(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<Conversation>, StoreError>;
}

/// Messages, their ids, read markers, and the order pushes go out in.
#[async_trait]
pub trait MessageStore: Send + Sync {
    /// Hands out the next message id of the conversation, marks the activity, and signals the
    /// conversation's push turn, taking it if nobody holds it, all in one write
    /// (`Conflict::NotMember` if there is no such conversation). Membership is checked where the
    /// message is stored. Returns the conversation as updated and what the signal found.
    async fn allocate_message_id(
        &self,
        conversation_id: &ConversationId,
        claim: &TurnClaim<'_>,
    ) -> Result<(Conversation, Signalled), StoreError>;
    /// Stores a new message (and its `client_id` claim), counting it as the sender's own, in one
    /// step that fails if the sender is no member (`Conflict::NotMember`), its `reply_id` names no
    /// message (`Conflict::Missing`), its id was filled meanwhile (`Conflict::IdTaken`), or the
    /// sender used the `client_id` in this conversation (`Conflict::DuplicateClientId`), or the
    /// sender's sends in `rate`'s window reached its limit (`Conflict::RateLimited`): that count
    /// rides in the same step, so the limit costs no request of its own.
    async fn put_message(&self, message: &Message, rate: &SendRate) -> Result<(), StoreError>;
    /// Fills an id whose message was not stored (a lost `client_id` race), so ids stay dense.
    async fn put_void(&self, conversation_id: &ConversationId, id: MessageId) -> Result<(), StoreError>;
    async fn message_id_for_client_id(
        &self,
        conversation_id: &ConversationId,
        sender: &str,
        client_id: &str,
    ) -> Result<Option<MessageId>, StoreError>;
    async fn get_message(&self, conversation_id: &ConversationId, id: MessageId)
        -> Result<Option<Message>, StoreError>;
    /// The messages that exist among `keys` (conversation id, message id).
    async fn get_messages(&self, keys: &[(ConversationId, MessageId)]) -> Result<Vec<Message>, StoreError>;
    /// Up to `limit` messages in id order: after `after` (the first ones), before `before` (the
    /// last ones), both (the first ones strictly between), or the latest; and whether more lie
    /// beyond the page in that direction.
    async fn list_messages(
        &self,
        conversation_id: &ConversationId,
        before: Option<MessageId>,
        after: Option<MessageId>,
        limit: usize,
    ) -> Result<(Vec<Message>, bool), StoreError>;
    /// Replaces a stored message (an edit or a tombstone), unless it is a tombstone already
    /// (`Conflict::Deleted`): an edit racing a delete never brings the message back. Its reply
    /// count stays as the replies made it, and its reactions and pin as theirs made them, but a
    /// tombstone clears both: `message` carries them as read (the reactions to remove, and
    /// whether it was pinned: the pin goes in the same step, which fails with
    /// `Conflict::Stale` if the message was pinned or unpinned since).
    async fn update_message(&self, message: &Message) -> Result<(), StoreError>;
    /// The messages that reply to `parent`, oldest first, after `after` (from the first), at most
    /// `limit`, and whether more follow. A stored message counts its own: `reply_count`, which
    /// [`MessageStore::put_message`] raises in the reply's own write.
    async fn list_replies(
        &self,
        conversation_id: &ConversationId,
        parent: MessageId,
        after: Option<MessageId>,
        limit: usize,
    ) -> Result<(Vec<Message>, bool), StoreError>;
    /// Moves the read marker forward to `message_id` (never back); returns whether it moved.
    async fn mark_read(
        &self,
        username: &str,
        conversation_id: &ConversationId,
        message_id: MessageId,
        own_after_read: i64,
        now: i64,
    ) -> Result<bool, StoreError>;
    /// How many of `username`'s messages have ids in `(after, through]`.
    async fn count_own_messages(
        &self,
        conversation_id: &ConversationId,
        username: &str,
        after: MessageId,
        through: MessageId,
    ) -> Result<i64, StoreError>;
    /// Stored ids after `after` in id order, at most `limit`, read consistently: each a message
    /// (with its origin connection) or `None` for a void id. What a pusher has to push.
    async fn stored_after(
        &self,
        conversation_id: &ConversationId,
        after: MessageId,
        limit: usize,
    ) -> Result<Vec<(MessageId, Option<Message>)>, StoreError>;
    /// Signals the conversation's push turn without handing out an id (a retried send, a send
    /// whose store was slow, or the successor of a retiring holder: see [`crate::push`]), and
    /// takes the turn for `claim.holder` until `claim.lease_until` if nobody holds it or its
    /// holder's lease ran out at `claim.now` (so never [`Signalled::Stale`]). `Holder`: the caller
    /// now holds the turn and must push and then release it; `Held`: the holder will push what
    /// was signalled (or there is no such conversation); `Retiring`: it will not, and the caller
    /// claims again once it is released.
    async fn claim_push_turn(
        &self,
        conversation_id: &ConversationId,
        claim: &TurnClaim<'_>,
    ) -> Result<Signalled, StoreError>;
    /// Records that every id up to `pushed_id` has been pushed and releases or keeps the turn as
    /// `release.mode` says; a kept turn is held until `lease_until` and comes back as it is now.
    /// `Lost` when the caller no longer holds the turn.
    async fn release_push_turn(
        &self,
        conversation_id: &ConversationId,
        holder: &str,
        release: PushRelease,
    ) -> Result<Released, StoreError>;
}

/// What handing out an id found of the push turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signalled {
    /// The caller holds the turn: it must store its message, then push and release.
    Holder(PushTurn),
    /// Someone holds it with a live lease and will push what was signalled.
    Held,
    /// Someone holds it with a live lease but is retiring (its push budget is spent): it pushes
    /// only the ids handed out before it retired, so the caller, once its message is stored,
    /// claims the turn itself as soon as the retiring holder releases it
    /// ([`MessageStore::claim_push_turn`]).
    Retiring,
    /// Its holder's lease ran out (it died): the caller takes it over once its message is stored
    /// ([`MessageStore::claim_push_turn`]), so a failure there never leaves an id unfilled.
    Stale,
}

/// Who asks for a conversation's push turn, and for how long.
#[derive(Debug, Clone, Copy)]
pub struct TurnClaim<'a> {
    pub holder: &'a str,
    pub now: i64,
    pub lease_until: i64,
}

/// The push turn of a conversation, as its holder sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PushTurn {
    /// Every id up to this one has been pushed (or was void).
    pub pushed_id: MessageId,
    /// The last id handed out so far: every id up to it will be stored (or filled with a void).
    pub last_id: MessageId,
    /// Fills signalled so far.
    pub signal: i64,
    /// `signal` when the turn was last released clean (everything stored had been read).
    pub clean_signal: i64,
}

impl PushTurn {
    /// Whether the claimer's own signal is the only one since the last clean release: then the
    /// only id that can be stored and not pushed is the claimer's own, if it is `pushed_id + 1`.
    pub fn only_new_signal(&self) -> bool {
        self.signal == self.clean_signal + 1
    }
}

/// What a holder asks for when it releases its push turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PushRelease {
    /// Every id up to this one has been pushed.
    pub pushed_id: MessageId,
    pub mode: ReleaseMode,
    /// Until when the holder keeps the turn if it does not release it (in the past: anyone who
    /// signals next takes it over).
    pub lease_until: i64,
}

/// Whether a release gives the turn up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReleaseMode {
    /// Release if the signal count is still `seen` (nothing was signalled since the holder
    /// read), else keep the turn. `clean`: the holder read everything that was stored, no
    /// message is left above `pushed_id`, which lets later claims trust
    /// [`PushTurn::only_new_signal`].
    IfQuiet { seen: i64, clean: bool },
    /// Keep the turn whatever was signalled.
    Keep,
    /// Keep the turn and mark it retiring: from now on a signal finds it
    /// [`Signalled::Retiring`], and its send claims the turn itself once this holder is done.
    Retire,
    /// Release whatever was signalled: a retiring holder that pushed everything handed out
    /// before it retired (the sends that signalled since claim the turn themselves).
    Release,
}

/// How a release went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Released {
    /// Released: the next signal takes the turn.
    Released,
    /// Fills were signalled meanwhile: still the holder, with the turn as it is now.
    Signalled(PushTurn),
    /// Someone else holds the turn (this holder's lease ran out).
    Lost,
}

/// WebSocket connections and presence. A connection is recorded on its user's profile (presence,
/// pushes to a user) and, for pushes to a conversation, under each conversation of its user, so
/// a conversation's live connections are one Query whose cost follows the members online.
#[async_trait]
pub trait ConnectionStore: Send + Sync {
    /// Records a connection (and the session it was opened with) on the profile and under every
    /// conversation where the user is not on the roster ([`crate::chat::Sockets`]); returns
    /// whether it is the user's first live one, and when the user was last online.
    async fn add_connection(
        &self,
        username: &str,
        connection_id: &ConnectionId,
        socket: &SocketOptions<'_>,
        now: i64,
        expires_at: i64,
    ) -> Result<Connected, StoreError>;
    /// The user's live connections with the session each was opened with (strongly
    /// consistent): what a revocation closes.
    async fn sockets(&self, username: &str, now: i64) -> Result<Vec<(ConnectionId, Option<String>)>, StoreError>;
    /// Forgets a connection on the profile; returns whether the user has no live one left (then
    /// `last_online` is `now`), with whom they block. The records under conversations are left to
    /// expire, or to be forgotten when a push finds the connection gone: that keeps `$disconnect`
    /// cheap.
    async fn remove_connection(
        &self,
        username: &str,
        connection_id: &ConnectionId,
        now: i64,
    ) -> Result<Disconnected, StoreError>;
    /// Live connections of each of `usernames`: (username, connection id) pairs.
    async fn connections_of(&self, usernames: &[String], now: i64) -> Result<Vec<(String, ConnectionId)>, StoreError>;
    /// Live connections of a conversation: those recorded under it, and those on the profiles of
    /// the members on its roster ([`crate::chat::Sockets`]).
    async fn conversation_connections(
        &self,
        conversation_id: &ConversationId,
        now: i64,
    ) -> Result<Vec<Target>, StoreError>;
    /// Records the live connections of `usernames` under the conversation (they joined it; members
    /// on its roster, `sockets` = [`Sockets::OnProfiles`], get no record), and returns them.
    async fn register_connections(
        &self,
        conversation_id: &ConversationId,
        usernames: &[String],
        sockets: Sockets,
        now: i64,
    ) -> Result<Vec<(String, ConnectionId)>, StoreError>;
    /// Forgets connections recorded under the conversation: those of `username` (who left), or
    /// the one given (gone).
    async fn unregister_connections(
        &self,
        conversation_id: &ConversationId,
        username: &str,
        connection_id: Option<&ConnectionId>,
        now: i64,
    ) -> Result<(), StoreError>;
    /// Who has `username` as a contact.
    async fn contact_of(&self, username: &str) -> Result<Vec<String>, StoreError>;
}

/// What recording a connection found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connected {
    /// No other connection of the user was live: the user comes online.
    pub first: bool,
    pub last_online: Option<i64>,
    /// Whom the user blocks (read with the profile's write): they hear nothing of it.
    pub blocks: std::collections::BTreeSet<String>,
}

/// What forgetting a connection did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Disconnected {
    /// It was the user's last live connection: the user goes offline.
    pub last: bool,
    /// Whom the user blocks (read with the profile's write).
    pub blocks: std::collections::BTreeSet<String>,
}

/// Declared files.
#[async_trait]
pub trait FileStore: Send + Sync {
    async fn put_file(&self, file: &FileRecord) -> Result<(), StoreError>;
    async fn get_file(&self, id: &FileId) -> Result<Option<FileRecord>, StoreError>;
    async fn mark_file_referenced(&self, id: &FileId) -> Result<(), StoreError>;
}

/// Everything, for the functions' shared context.
pub trait Store:
    UserStore
    + crate::blocks::store::BlockStore
    + crate::reports::store::ReportStore
    + crate::reactions::store::ReactionStore
    + crate::pins::store::PinStore
    + SessionStore
    + DeviceStore
    + NotificationStore
    + SyncStore
    + ThrottleStore
    + ContactStore
    + ConversationStore
    + MessageStore
    + ConnectionStore
    + FileStore
{
}
impl<T> Store for T where
    T: UserStore
        + crate::blocks::store::BlockStore
        + crate::reports::store::ReportStore
        + crate::reactions::store::ReactionStore
        + crate::pins::store::PinStore
        + SessionStore
        + DeviceStore
        + NotificationStore
        + SyncStore
        + ThrottleStore
        + ContactStore
        + ConversationStore
        + MessageStore
        + ConnectionStore
        + FileStore
{
}
