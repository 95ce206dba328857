//! Catching up: the sync feed (API.md, "Catching up: the sync feed"). One function per use case on
//! a [`Ctx`], as the other areas.
//!
//! - [`feed`]: what a change is keyed by, a user's feed and a pulled conversation's log (the types
//!   the store keeps); [`cursor`]: the cursor clients hold.
//! - [`capture`]: the notify function's part, off the send path: from the table's changes to
//!   keys in members' feeds (rooms of up to [`feed::FANOUT_MAX`]) or in the conversation's log.
//! - [`sync`] (here): `GET /sync` and the WebSocket `sync`.
//!
//! How a sync stays exact: it reads the feed's head, closes its open bucket (the pending keys
//! become the next bucket, in one conditional write) and only then reads how things are, strongly
//! consistent. A key recorded after the closing lands in the next bucket; one recorded before it
//! is in this answer with the state read after it. So a change is either in this answer or in
//! the next one, whatever the stream's lag (docs/architecture.md, "The sync feed").

pub mod capture;
pub mod cursor;
pub mod feed;

use std::collections::HashMap;

use serde::Serialize;
use serde_json::{json, Value};

use crate::chat::{Conversation, Message, ReadState};
use crate::error::{ApiError, Conflict, StoreError};
use crate::ids::{ConversationId, MessageId};
use crate::Ctx;
use cursor::{conversation_tag, user_tag, Cursor, PulledAt, Refused};
use feed::{FeedHead, FeedKey, StateKeys, States};

/// Changes a page holds unless `limit` says otherwise, and at most.
pub const LIMIT_DEFAULT: usize = 100;
pub const LIMIT_MAX: usize = 500;
/// A REST answer's budget (the WebSocket's is its frame budget).
pub const REST_MAX_BYTES: usize = 1024 * 1024;
/// Further tries when another sync closed the open bucket first.
const CLOSE_TRIES: usize = 4;
/// Kept beyond the retention before DynamoDB's TTL may delete a record (a cursor within the
/// retention never finds its records gone).
const TTL_MARGIN_MS: i64 = 86_400_000;

/// One change, as clients get it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Change {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub conversation_id: ConversationId,
    pub at: i64,
    pub data: Value,
}

/// `GET /sync`'s answer.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Page {
    pub changes: Vec<Change>,
    pub next_cursor: String,
    pub has_more: bool,
}

/// When a record written now may be deleted (epoch seconds).
pub fn expires_at(ctx: &Ctx, now: i64) -> i64 {
    (now + ctx.config.sync_retention_ms + TTL_MARGIN_MS) / 1000
}

/// Parses `limit` (1–[`LIMIT_MAX`], default [`LIMIT_DEFAULT`]).
pub fn parse_limit(raw: Option<&str>) -> Result<usize, ApiError> {
    match raw {
        None => Ok(LIMIT_DEFAULT),
        Some(raw) => raw
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=LIMIT_MAX).contains(n))
            .ok_or_else(|| ApiError::invalid(format!("limit must be a whole number from 1 to {LIMIT_MAX}"))),
    }
}

fn refused(why: Refused) -> ApiError {
    match why {
        Refused::Malformed => ApiError::bad_request("invalid_cursor", "since is not a cursor this service handed out"),
        Refused::Foreign => ApiError::bad_request("invalid_cursor", "since is another user's cursor"),
        Refused::Expired => ApiError::Gone {
            code: "cursor_expired",
            detail: "since is older than the changes kept; start again without since",
        },
    }
}

/// The changes that concern `username` since `since`, oldest first, at most `limit` of them and
/// `max_bytes` of JSON; without `since`, none and the current cursor.
pub async fn sync(
    ctx: &Ctx,
    username: &str,
    since: Option<&str>,
    limit: usize,
    max_bytes: usize,
) -> Result<Page, ApiError> {
    let now = ctx.now_ms();
    let store = &ctx.store;
    let since = since
        .map(|text| Cursor::decode(text, username, now, ctx.config.sync_retention_ms).map_err(refused))
        .transpose()?;
    let (mut head, pulled) = store.feed_head(username).await?;
    let ids: Vec<ConversationId> = pulled.iter().map(|p| p.conversation_id.clone()).collect();
    let pulled_rooms = if ids.is_empty() { Vec::new() } else { store.get_conversations(&ids).await? };
    let Some(since) = since else {
        // Taken before the client reads its snapshot: what is pending now is in that snapshot,
        // and comes again (harmlessly) in the first sync.
        let cursor = Cursor {
            user: user_tag(username),
            issued_at: now,
            bucket: head.seq + 1,
            index: 0,
            pulled: pulled_rooms.iter().map(position).collect(),
        };
        return Ok(Page { changes: Vec::new(), next_cursor: cursor.encode(), has_more: false });
    };
    if since.bucket > head.seq + 1 {
        return Err(refused(Refused::Foreign));
    }
    // Take the position before reading anything: close the open bucket.
    let mut tries = 0;
    while !head.pending.is_empty() {
        match store.feed_close(username, &head, now, expires_at(ctx, now)).await {
            Ok(()) => {
                head = FeedHead { seq: head.seq + 1, pending: Vec::new() };
                break;
            }
            Err(StoreError::Conflict(Conflict::Missing)) if tries < CLOSE_TRIES => {
                tries += 1;
                head = store.feed_pending(username).await?;
            }
            Err(e) => return Err(e.into()),
        }
    }
    let buckets =
        if since.bucket <= head.seq { store.feed_buckets(username, since.bucket, head.seq).await? } else { Vec::new() };

    // Everything this page may say, in order: the feed's keys, then each pulled room's log and
    // activity.
    let mut items: Vec<Item> = Vec::new();
    for bucket in &buckets {
        for (i, key) in bucket.keys.iter().enumerate() {
            if bucket.seq == since.bucket && i < since.index as usize {
                continue;
            }
            let after = Position::Feed { bucket: bucket.seq, index: i as u32 + 1, len: bucket.keys.len() as u32 };
            items.push(Item { key: key.clone(), at: bucket.at, after, activity: None, skip: false });
        }
    }
    // A room the cursor never saw is read from where it stood when the user started to pull it.
    let mut rooms: Vec<(Conversation, Option<PulledAt>)> = pulled_rooms
        .into_iter()
        .map(|c| {
            let at = since.pulled_at(&c.id);
            (c, at)
        })
        .collect();
    rooms.sort_by(|a, b| a.0.id.cmp(&b.0.id));
    for (room, at) in &rooms {
        let started = pulled.iter().find(|p| p.conversation_id == room.id);
        let (from_log, from_id) = at
            .map(|p| (p.log_seq, p.last_message_id))
            .or(started.map(|p| (p.log_seq, p.last_message_id)))
            .unwrap_or((room.feed.log_seq, room.last_message_id));
        if room.feed.log_seq > from_log {
            for entry in store.log_entries(&room.id, from_log, room.feed.log_seq).await? {
                let after = Position::Log { room: room.id.clone(), seq: entry.seq };
                // My own joining or leaving is in my feed.
                let skip = matches!(&entry.key, FeedKey::Member(_, user) if user == username);
                items.push(Item { key: entry.key, at: entry.at, after, activity: None, skip });
            }
        }
        if room.last_message_id > from_id {
            let after = Position::Activity { room: room.id.clone(), last_message_id: room.last_message_id };
            let key = FeedKey::Activity(room.id.clone());
            items.push(Item { key, at: room.last_activity_at, after, activity: Some(room.clone()), skip: false });
        }
    }

    let states = read_states(ctx, username, &items).await?;
    let mut page = Cut::new(limit, max_bytes);
    let mut position = Tracker::new(&since, &rooms);
    for item in items {
        let change = if item.skip { None } else { states.change(&item) };
        if let Some(change) = change {
            if !page.take(&item.key, change) {
                break;
            }
        }
        position.passed(&item.after);
    }
    let cursor = position.cursor(username, now, &buckets, &rooms, (!page.cut).then_some(head.seq + 1));
    Ok(Page {
        changes: page.changes.into_iter().map(|(_, c, _)| c).collect(),
        next_cursor: cursor.encode(),
        has_more: page.cut,
    })
}

fn position(room: &Conversation) -> PulledAt {
    PulledAt { tag: conversation_tag(&room.id), last_message_id: room.last_message_id, log_seq: room.feed.log_seq }
}

/// Where having said an item leaves the cursor.
#[derive(Debug, Clone)]
enum Position {
    Feed { bucket: i64, index: u32, len: u32 },
    Log { room: ConversationId, seq: i64 },
    Activity { room: ConversationId, last_message_id: MessageId },
}

struct Item {
    key: FeedKey,
    at: i64,
    after: Position,
    /// A pulled room's conversation item, as read for its position.
    activity: Option<Conversation>,
    /// Passed over (its position counts): said elsewhere.
    skip: bool,
}

/// The cursor as the page goes.
struct Tracker {
    bucket: i64,
    index: u32,
    /// (room, position; `None`: not there yet)
    rooms: Vec<(ConversationId, Option<PulledAt>)>,
}

impl Tracker {
    fn new(since: &Cursor, rooms: &[(Conversation, Option<PulledAt>)]) -> Self {
        Self {
            bucket: since.bucket,
            index: since.index,
            rooms: rooms.iter().map(|(c, at)| (c.id.clone(), *at)).collect(),
        }
    }

    fn room(&mut self, id: &ConversationId) -> Option<&mut PulledAt> {
        let (_, at) = self.rooms.iter_mut().find(|(c, _)| c == id)?;
        Some(at.get_or_insert(PulledAt { tag: conversation_tag(id), last_message_id: MessageId::NONE, log_seq: 0 }))
    }

    fn passed(&mut self, after: &Position) {
        match after {
            Position::Feed { bucket, index, len } => {
                (self.bucket, self.index) = if index == len { (bucket + 1, 0) } else { (*bucket, *index) };
            }
            Position::Log { room, seq } => {
                if let Some(at) = self.room(room) {
                    at.log_seq = *seq;
                }
            }
            Position::Activity { room, last_message_id } => {
                if let Some(at) = self.room(room) {
                    at.last_message_id = *last_message_id;
                }
            }
        }
    }

    /// The cursor after the page: rooms whose log or activity the page did not reach keep their
    /// position (a room new to the cursor gets its current one, its activity said); a cut inside
    /// a bucket is dated from that bucket's closing, so the bucket outlives the cursor.
    fn cursor(
        mut self,
        username: &str,
        now: i64,
        buckets: &[feed::Bucket],
        rooms: &[(Conversation, Option<PulledAt>)],
        // `Some(next bucket)` when the page holds everything: the position is the head's.
        complete: Option<i64>,
    ) -> Cursor {
        if let Some(next) = complete {
            (self.bucket, self.index) = (next, 0);
            for (room, _) in rooms {
                let current = position(room);
                if let Some(at) = self.room(&room.id) {
                    *at = current;
                }
            }
        }
        let issued_at = if self.index > 0 {
            buckets.iter().find(|b| b.seq == self.bucket).map_or(now, |b| b.at.min(now))
        } else {
            now
        };
        Cursor {
            user: user_tag(username),
            issued_at,
            bucket: self.bucket,
            index: self.index,
            pulled: self.rooms.into_iter().filter_map(|(_, at)| at).collect(),
        }
    }
}

/// The page being filled: a key said twice is said once, where it last falls.
struct Cut {
    limit: usize,
    budget: usize,
    used: usize,
    cut: bool,
    changes: Vec<(FeedKey, Change, usize)>,
}

impl Cut {
    fn new(limit: usize, max_bytes: usize) -> Self {
        // The envelope around the changes: the cursor (a few KB at most) and the field names.
        Self { limit, budget: max_bytes.saturating_sub(16 * 1024), used: 0, cut: false, changes: Vec::new() }
    }

    /// Adds a change; false (the page is full, and cut) if it does not fit.
    fn take(&mut self, key: &FeedKey, change: Change) -> bool {
        let size = serde_json::to_vec(&change).map_or(0, |v| v.len()) + 1;
        let earlier = self.changes.iter().position(|(k, _, _)| k == key);
        let freed = earlier.map_or(0, |i| self.changes[i].2);
        let count = self.changes.len() - usize::from(earlier.is_some());
        if count >= self.limit || self.used - freed + size > self.budget {
            self.cut = true;
            return false;
        }
        if let Some(i) = earlier {
            self.changes.remove(i);
        }
        self.used = self.used - freed + size;
        self.changes.push((key.clone(), change, size));
        true
    }
}

/// Reads, in one strongly consistent read, what the items' changes report.
async fn read_states(ctx: &Ctx, username: &str, items: &[Item]) -> Result<Resolved, ApiError> {
    fn add<T: PartialEq>(list: &mut Vec<T>, value: T) {
        if !list.contains(&value) {
            list.push(value);
        }
    }
    let mut keys = StateKeys::default();
    for item in items.iter().filter(|i| !i.skip) {
        let c = item.key.conversation();
        add(&mut keys.memberships, c.clone());
        match &item.key {
            FeedKey::Joined(_) | FeedKey::Updated(_) => add(&mut keys.conversations, c.clone()),
            FeedKey::Activity(_) if item.activity.is_none() => add(&mut keys.conversations, c.clone()),
            FeedKey::Member(_, user) => {
                add(&mut keys.conversations, c.clone());
                add(&mut keys.members, (c.clone(), user.clone()));
            }
            FeedKey::Message(_, id) | FeedKey::Pin(_, id, _) => add(&mut keys.messages, (c.clone(), *id)),
            FeedKey::Reaction(_, id, user, _) => {
                add(&mut keys.messages, (c.clone(), *id));
                add(&mut keys.own_reactions, (c.clone(), *id, user.clone()));
            }
            _ => {}
        }
    }
    let states = if keys.is_empty() { States::default() } else { ctx.store.states(username, &keys).await? };
    Ok(Resolved::new(states))
}

/// How things are now, by key.
struct Resolved {
    conversations: HashMap<ConversationId, Conversation>,
    memberships: HashMap<ConversationId, ReadState>,
    messages: HashMap<(ConversationId, MessageId), Message>,
    members: Vec<(ConversationId, String)>,
    own_reactions: HashMap<(ConversationId, MessageId, String), Vec<String>>,
}

impl Resolved {
    fn new(states: States) -> Self {
        Self {
            conversations: states.conversations.into_iter().map(|c| (c.id.clone(), c)).collect(),
            memberships: states.memberships.into_iter().collect(),
            messages: states.messages.into_iter().map(|m| ((m.conversation_id.clone(), m.id), m)).collect(),
            members: states.members,
            own_reactions: states.own_reactions.into_iter().collect(),
        }
    }

    /// The change an item reports now, if any: nothing of a conversation I am not in, but that I
    /// left.
    fn change(&self, item: &Item) -> Option<Change> {
        let c = item.key.conversation();
        let change = |kind, data| Some(Change { kind, conversation_id: c.clone(), at: item.at, data });
        let Some(membership) = self.memberships.get(c) else {
            return match item.key {
                FeedKey::Joined(_) => change("conversation_left", json!({ "conversation_id": c })),
                _ => None,
            };
        };
        let conversation = item.activity.as_ref().or_else(|| self.conversations.get(c));
        match &item.key {
            FeedKey::Joined(_) => change("conversation_joined", json!(conversation?.view(None))),
            FeedKey::Updated(_) => change("conversation_updated", json!(conversation?.view(None))),
            FeedKey::Member(_, user) => {
                let kind =
                    if self.members.contains(&(c.clone(), user.clone())) { "member_joined" } else { "member_left" };
                let owner = conversation.map(|c| c.owner.clone());
                change(kind, json!({ "conversation_id": c, "username": user, "owner": owner }))
            }
            FeedKey::Message(_, id) => {
                let message = self.messages.get(&(c.clone(), *id))?;
                let kind = if message.deleted { "message_deleted" } else { "message_edited" };
                let at = message.edited_at.unwrap_or(item.at);
                Some(Change { kind, conversation_id: c.clone(), at, data: json!(message) })
            }
            FeedKey::Reaction(_, id, user, reaction) => {
                // As it is now: added while the member has it (a deleted message has none).
                let message = self.messages.get(&(c.clone(), *id))?;
                let own = self.own_reactions.get(&(c.clone(), *id, user.clone()));
                let has = !message.deleted && own.is_some_and(|own| own.contains(reaction));
                let count = message.reactions.iter().find(|r| &r.reaction == reaction).map_or(0, |r| r.count);
                let kind = if has { "reaction_added" } else { "reaction_removed" };
                let data = json!({
                    "conversation_id": c, "message_id": id, "reaction": reaction, "username": user, "count": count,
                });
                change(kind, data)
            }
            FeedKey::Pin(_, id, user) => {
                let message = self.messages.get(&(c.clone(), *id))?;
                let kind = if message.pinned { "message_pinned" } else { "message_unpinned" };
                change(kind, json!({ "conversation_id": c, "message_id": id, "username": user }))
            }
            FeedKey::Activity(_) => {
                let conversation = conversation?;
                let data = json!({
                    "last_message_id": conversation.last_message_id,
                    "unread_count": membership.unread_count(conversation.last_message_id),
                });
                Some(Change {
                    kind: "conversation_activity",
                    conversation_id: c.clone(),
                    at: conversation.last_activity_at,
                    data,
                })
            }
            FeedKey::Read(_) => {
                change("read_marker", json!({ "conversation_id": c, "message_id": membership.last_read }))
            }
            FeedKey::Settings(_) => change("notifications_changed", json!(membership.notifications)),
        }
    }
}
