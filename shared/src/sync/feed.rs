//! The sync feed's records and rules: what a change is keyed by, a user's feed (a head of pending
//! keys, closed into numbered buckets when read), and a pulled conversation's log.
//!
//! A change is recorded by *what* changed (a message, a member, my read marker in a
//! conversation), never by a difference: a sync reads each thing as it is now, so recording one
//! twice, or two changes of one thing between two syncs, costs one change in the answer.

use std::cmp::Ordering;

use crate::chat::{Conversation, Message, ReadState};
use crate::ids::{ConversationId, MessageId};

/// Rooms of up to this many members write their changes to each member's feed; bigger ones are
/// read at sync from their own log and their conversation item ("pulled"), so a message in a room
/// of 10,000 writes to nobody's feed. The same size that makes the notification default `all`.
pub const FANOUT_MAX: i64 = crate::notifications::settings::ALL_BY_DEFAULT_MAX;

/// Keys a feed's head holds before they are closed into a bucket even without a sync (so a user
/// who never syncs keeps a head of a few hundred bytes: one write unit a change).
pub const PENDING_MAX: usize = 24;

/// How long changes are kept (a cursor older than this is refused with 410), unless configured.
pub const RETENTION_DAYS: i64 = 30;

/// What a change is about. Ordered by conversation, then kind in the order a client should apply
/// them (joining first, leaving last), then the thing.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FeedKey {
    /// I joined or left (a member now: `conversation_joined`; not: `conversation_left`).
    Joined(ConversationId),
    /// The conversation's name, icon or owner.
    Updated(ConversationId),
    /// Someone joined or left (a member now: `member_joined`; not: `member_left`).
    Member(ConversationId, String),
    /// A message edited or deleted.
    Message(ConversationId, MessageId),
    /// A member's reaction on a message, added or removed (`reaction_added` while they have it).
    Reaction(ConversationId, MessageId, String, String),
    /// A message pinned or unpinned, by a member (`message_pinned` while it is pinned).
    Pin(ConversationId, MessageId, String),
    /// New messages.
    Activity(ConversationId),
    /// My read marker moved.
    Read(ConversationId),
    /// My notification settings changed.
    Settings(ConversationId),
}

impl FeedKey {
    pub fn conversation(&self) -> &ConversationId {
        match self {
            Self::Joined(c)
            | Self::Updated(c)
            | Self::Member(c, _)
            | Self::Message(c, _)
            | Self::Reaction(c, ..)
            | Self::Pin(c, ..)
            | Self::Activity(c)
            | Self::Read(c)
            | Self::Settings(c) => c,
        }
    }

    fn rank(&self) -> u8 {
        match self {
            Self::Joined(_) => 0,
            Self::Updated(_) => 1,
            Self::Member(..) => 2,
            Self::Message(..) => 3,
            Self::Reaction(..) => 4,
            Self::Pin(..) => 5,
            Self::Activity(_) => 6,
            Self::Read(_) => 7,
            Self::Settings(_) => 8,
        }
    }

    /// Whether it is about the feed's own user (kept in their feed whatever the room's size).
    pub fn is_own(&self) -> bool {
        matches!(self, Self::Joined(_) | Self::Read(_) | Self::Settings(_))
    }

    /// The stored form: a letter, the conversation id, and the thing, space-separated (ids are
    /// ULIDs, and usernames and reactions have no spaces).
    pub fn encode(&self) -> String {
        match self {
            Self::Joined(c) => format!("j {c}"),
            Self::Updated(c) => format!("u {c}"),
            Self::Member(c, user) => format!("m {c} {user}"),
            Self::Message(c, id) => format!("e {c} {}", id.get()),
            Self::Reaction(c, id, user, reaction) => format!("x {c} {} {user} {reaction}", id.get()),
            Self::Pin(c, id, user) => format!("p {c} {} {user}", id.get()),
            Self::Activity(c) => format!("a {c}"),
            Self::Read(c) => format!("r {c}"),
            Self::Settings(c) => format!("n {c}"),
        }
    }

    /// The key a stored form names; `None` for a form this version does not write.
    pub fn decode(text: &str) -> Option<Self> {
        let mut parts = text.split(' ');
        let kind = parts.next()?;
        let c = ConversationId::new(parts.next().filter(|c| !c.is_empty())?);
        let thing = parts.next();
        let id = |id: &str| id.parse().ok().filter(|id: &i64| *id > 0).map(MessageId::new);
        let word = |w: Option<&str>| w.filter(|w| !w.is_empty()).map(str::to_owned);
        match kind {
            "x" => {
                let (user, reaction) = (word(parts.next())?, word(parts.next())?);
                return parts.next().is_none().then_some(Self::Reaction(c, id(thing?)?, user, reaction));
            }
            "p" => {
                let user = word(parts.next())?;
                return parts.next().is_none().then_some(Self::Pin(c, id(thing?)?, user));
            }
            _ => {}
        }
        if parts.next().is_some() {
            return None;
        }
        Some(match (kind, thing) {
            ("j", None) => Self::Joined(c),
            ("u", None) => Self::Updated(c),
            ("m", Some(user)) if !user.is_empty() => Self::Member(c, user.to_owned()),
            ("e", Some(raw)) => Self::Message(c, id(raw)?),
            ("a", None) => Self::Activity(c),
            ("r", None) => Self::Read(c),
            ("n", None) => Self::Settings(c),
            _ => return None,
        })
    }
}

impl Ord for FeedKey {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.conversation(), self.rank())
            .cmp(&(other.conversation(), other.rank()))
            .then_with(|| self.encode().cmp(&other.encode()))
    }
}

impl PartialOrd for FeedKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A user's feed head: the last bucket closed, and the keys recorded since (the open bucket).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedHead {
    /// The number of the last closed bucket (0: none yet).
    pub seq: i64,
    /// Keys recorded since, in their stored form.
    pub pending: Vec<String>,
}

impl FeedHead {
    pub fn holds(&self, key: &FeedKey) -> bool {
        let key = key.encode();
        self.pending.contains(&key)
    }
}

/// A closed bucket of a user's feed: the keys recorded between two closings, in [`FeedKey`]
/// order, and when it was closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    pub seq: i64,
    pub at: i64,
    pub keys: Vec<FeedKey>,
}

impl Bucket {
    /// The bucket the pending keys make (those this version cannot read are dropped).
    pub fn close(seq: i64, at: i64, pending: &[String]) -> Self {
        let mut keys: Vec<FeedKey> = pending.iter().filter_map(|k| FeedKey::decode(k)).collect();
        keys.sort();
        keys.dedup();
        Self { seq, at, keys }
    }
}

/// One entry of a pulled conversation's log: one change, numbered from 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    pub seq: i64,
    pub at: i64,
    pub key: FeedKey,
}

/// A conversation a user pulls, and where it stood when they started to (what a cursor that
/// never saw it reads from).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pull {
    pub conversation_id: ConversationId,
    pub log_seq: i64,
    pub last_message_id: MessageId,
}

impl Pull {
    pub fn from(conversation: &Conversation) -> Self {
        Self {
            conversation_id: conversation.id.clone(),
            log_seq: conversation.feed.log_seq,
            last_message_id: conversation.last_message_id,
        }
    }
}

pub use crate::chat::ConversationFeed;

/// What a sync reads to say how things are now, in one strongly consistent read: conversations,
/// the user's memberships, messages and members.
#[derive(Debug, Clone, Default)]
pub struct States {
    pub conversations: Vec<Conversation>,
    pub memberships: Vec<(ConversationId, ReadState)>,
    pub messages: Vec<Message>,
    /// (conversation, member) pairs that exist.
    pub members: Vec<(ConversationId, String)>,
    /// Members' own reactions on messages, as asked (none recorded: absent).
    pub own_reactions: Vec<((ConversationId, MessageId, String), Vec<String>)>,
}

/// What to read into [`States`].
#[derive(Debug, Clone, Default)]
pub struct StateKeys {
    pub conversations: Vec<ConversationId>,
    pub memberships: Vec<ConversationId>,
    pub messages: Vec<(ConversationId, MessageId)>,
    pub members: Vec<(ConversationId, String)>,
    /// (conversation, message, member): that member's own reactions on that message.
    pub own_reactions: Vec<(ConversationId, MessageId, String)>,
}

impl StateKeys {
    pub fn is_empty(&self) -> bool {
        self.conversations.is_empty()
            && self.memberships.is_empty()
            && self.messages.is_empty()
            && self.members.is_empty()
            && self.own_reactions.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_order_by_conversation_then_kind() {
        let c = ConversationId::new("01J0000000000000000000000A");
        let keys = [
            FeedKey::Joined(c.clone()),
            FeedKey::Updated(c.clone()),
            FeedKey::Member(c.clone(), "bob".into()),
            FeedKey::Message(c.clone(), MessageId::new(7)),
            FeedKey::Reaction(c.clone(), MessageId::new(7), "bob".into(), "👩‍💻".into()),
            FeedKey::Pin(c.clone(), MessageId::new(7), "bob".into()),
            FeedKey::Activity(c.clone()),
            FeedKey::Read(c.clone()),
            FeedKey::Settings(c.clone()),
        ];
        for key in &keys {
            assert_eq!(FeedKey::decode(&key.encode()).as_ref(), Some(key));
        }
        let mut shuffled = keys.to_vec();
        shuffled.reverse();
        shuffled.sort();
        assert_eq!(shuffled, keys);
        for bad in [
            "",
            "a",
            "x c",
            "e c 0",
            "e c x",
            "m c",
            "a c d",
            "j  ",
            "x c 1 bob",
            "x c 1 bob 👍 z",
            "p c 0 bob",
            "p c 1",
        ] {
            assert_eq!(FeedKey::decode(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_bucket_sorts_and_dedups_its_keys() {
        let pending = vec!["a c2".to_owned(), "j c1".to_owned(), "a c1".to_owned(), "junk".to_owned()];
        let bucket = Bucket::close(3, 10, &pending);
        assert_eq!(
            bucket.keys,
            vec![FeedKey::Joined("c1".into()), FeedKey::Activity("c1".into()), FeedKey::Activity("c2".into())]
        );
    }
}
