//! Chat types: conversations, memberships and messages, and their rules.

use serde::{Deserialize, Serialize};

use crate::ids::{ConnectionId, ConversationId, FileId, MessageId};
use crate::model::Invalid;
use crate::notifications::settings::Settings;

/// Conversation names: at most 100 characters.
pub const CONVERSATION_NAME_MAX: usize = 100;
/// Message content: 1–4000 characters (empty allowed only with attachments).
pub const CONTENT_MAX: usize = 4000;
/// `client_id`: at most 64 characters.
pub const CLIENT_ID_MAX: usize = 64;
/// Members one message may mention.
pub const MENTIONS_MAX: usize = 50;
/// Members of one conversation.
pub const MEMBERS_MAX: usize = 10_000;
/// Members named in one create or add request.
pub const MEMBERS_PER_REQUEST_MAX: usize = 1000;
/// A single conversation carries its members inline up to this many; beyond, clients page through
/// `GET /conversations/{id}/members`.
pub const MEMBERS_INLINE_MAX: usize = 1000;
/// Member names kept on the conversation for the default name of an unnamed one.
pub const PREVIEW_MAX: usize = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Direct,
    Group,
}

/// How the live sockets of a conversation (on a conversation), or of some of its members (on
/// their memberships), are found when something is pushed to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sockets {
    /// A record per live socket under the conversation, written at `$connect` (and when a member
    /// joins): a push reads them with one Query, whatever the room's size.
    #[default]
    Recorded,
    /// Through the members' profiles, read at push time. On a conversation: it has a roster of
    /// such members, at most [`ROSTER_MAX`] (a push reads their profiles, and `$connect` writes
    /// nothing for them): direct conversations, and groups created that small; members who
    /// join once it has more are recorded. On a membership: this member is on the roster.
    OnProfiles,
}

/// The most members a conversation finds on their profiles (its roster), chosen by price: a push
/// reads one profile per roster member (1 read unit, strongly consistent), while `$connect` writes
/// no record for them (1 write unit, five times the price, per conversation of the user on every
/// connection, plus the stale record's deletion and its 410 when a push finds it closed). For the
/// cost model's workload (10 connections and 30 sends a day per user in 20 conversations, a typing
/// push per message) the two meet at 59 members (scripts/cost_model.py, docs/architecture.md);
/// 50 keeps a margin and one BatchGetItem (100 keys) per push.
pub const ROSTER_MAX: usize = 50;

impl Sockets {
    /// How `joining` members who join `conversation` (as read before the join) are found: on the
    /// roster while it stays within [`ROSTER_MAX`] (a race of two joins may take it a member or two
    /// over; that costs a read unit per push, nothing else), recorded after.
    pub fn for_joining(conversation: &Conversation, joining: usize) -> Sockets {
        let within = conversation.member_count.max(0) as usize + joining <= ROSTER_MAX;
        if conversation.sockets == Sockets::OnProfiles && within {
            Sockets::OnProfiles
        } else {
            Sockets::Recorded
        }
    }

    /// How the sockets of a conversation created with `members` are found: a direct one's and a
    /// small group's on the profiles.
    pub fn for_new(direct: bool, members: usize) -> Sockets {
        if direct || members <= ROSTER_MAX {
            Sockets::OnProfiles
        } else {
            Sockets::Recorded
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    #[default]
    Private,
    Public,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Direct => "direct",
            Self::Group => "group",
        }
    }
}

impl Visibility {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Private => "private",
            Self::Public => "public",
        }
    }
}

/// A conversation as stored. Its members are items of their own ([`Member`]): nothing here grows
/// with the room.
#[derive(Debug, Clone, PartialEq)]
pub struct Conversation {
    pub id: ConversationId,
    /// The name given, if any; [`Conversation::display_name`] fills in the default.
    pub name: Option<String>,
    pub kind: Kind,
    pub visibility: Visibility,
    pub owner: String,
    pub member_count: i64,
    /// The first [`PREVIEW_MAX`] members by name: what an unnamed conversation is called.
    pub member_preview: Vec<String>,
    pub icon_file_id: Option<FileId>,
    pub created_at: i64,
    pub created_by: String,
    /// The highest message id handed out (0 before the first message).
    pub last_message_id: MessageId,
    pub last_activity_at: i64,
    pub sockets: Sockets,
    /// Whether its changes go to its own log (a room that grew past the sync feed's fan-out size),
    /// and how far that log goes.
    pub feed: ConversationFeed,
}

/// Where a pulled conversation's changes stand: its last message id and its log's last entry,
/// as its conversation item says.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConversationFeed {
    /// The conversation grew past the sync feed's fan-out size (`sync::feed::FANOUT_MAX`) once:
    /// its changes go to its log (for good).
    pub pulled: bool,
    /// The last entry of its log (0: none).
    pub log_seq: i64,
}

/// A conversation as clients see it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ConversationView {
    pub id: ConversationId,
    pub name: String,
    pub kind: Kind,
    pub visibility: Visibility,
    pub owner: String,
    pub member_count: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub members: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icon_file_id: Option<FileId>,
    pub created_at: i64,
    pub created_by: String,
    pub last_message_id: MessageId,
    pub last_activity_at: i64,
    /// The caller's own notification settings, in answers to a member about their conversation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notifications: Option<Settings>,
}

/// One member of a conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub username: String,
    pub joined_at: i64,
    /// Who added them (themselves when they created or joined it), where it is known.
    pub added_by: Option<String>,
}

/// A member as `GET /conversations/{id}/members` lists it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MemberView {
    pub username: String,
    pub role: Role,
    pub joined_at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Owner,
    Member,
}

impl Conversation {
    /// The name, or the members' usernames joined by `, ` (the first [`PREVIEW_MAX`], then `…`).
    /// Public conversations sort by lower-cased name, then id (both stores, and the cursor of
    /// `GET /conversations/public`).
    pub fn public_sort_key(&self) -> String {
        format!("{}#{}", self.display_name().to_lowercase(), self.id)
    }

    pub fn display_name(&self) -> String {
        match &self.name {
            Some(name) => name.clone(),
            None if self.member_count > self.member_preview.len() as i64 => {
                format!("{}, …", self.member_preview.join(", "))
            }
            None => self.member_preview.join(", "),
        }
    }

    /// The view clients get; `members` inline when given.
    pub fn view(&self, members: Option<Vec<String>>) -> ConversationView {
        ConversationView {
            id: self.id.clone(),
            name: self.display_name(),
            kind: self.kind,
            visibility: self.visibility,
            owner: self.owner.clone(),
            member_count: self.member_count,
            members,
            icon_file_id: self.icon_file_id.clone(),
            created_at: self.created_at,
            created_by: self.created_by.clone(),
            last_message_id: self.last_message_id,
            last_activity_at: self.last_activity_at,
            notifications: None,
        }
    }

    pub fn member_view(&self, member: &Member) -> MemberView {
        let role = if member.username == self.owner { Role::Owner } else { Role::Member };
        MemberView { username: member.username.clone(), role, joined_at: member.joined_at }
    }
}

/// The preview after `added` join and `removed` leave: the first [`PREVIEW_MAX`] names. `more`
/// are further members in name order (read when a name in the preview leaves).
pub fn preview(current: &[String], added: &[String], removed: Option<&str>, more: &[String]) -> Vec<String> {
    let mut names: Vec<String> =
        current.iter().chain(added).chain(more).filter(|n| Some(n.as_str()) != removed).cloned().collect();
    names.sort();
    names.dedup();
    names.truncate(PREVIEW_MAX);
    names
}

/// One user's side of a conversation: the read marker and what unread counting needs.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ReadState {
    /// Highest message id read.
    pub last_read: MessageId,
    /// How many of my own messages have ids above `last_read` (they never count as unread).
    pub own_after_read: i64,
    /// My notification settings there.
    pub notifications: Settings,
    /// When I last sent or read there (I am chatting: my phone stays quiet).
    pub active_at: Option<i64>,
    /// In a direct conversation, the other member blocks me: I may read, not send or type.
    pub blocked: bool,
}

impl ReadState {
    /// Other members' messages after my marker.
    pub fn unread_count(&self, last_message_id: MessageId) -> i64 {
        (last_message_id - self.last_read - self.own_after_read).max(0)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Attachment {
    pub file_id: FileId,
    pub content_type: String,
    pub size: i64,
    pub name: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Message {
    pub id: MessageId,
    pub conversation_id: ConversationId,
    pub sender_username: String,
    pub content: String,
    pub reply_id: Option<MessageId>,
    /// How many messages reply to this one (direct replies): counted by each reply's own write,
    /// so concurrent replies never lose one.
    #[serde(default)]
    pub reply_count: i64,
    pub client_id: Option<String>,
    pub attachments: Vec<Attachment>,
    /// Members the message mentions (at most [`MENTIONS_MAX`], each once), as sent.
    #[serde(default)]
    pub mentions: Vec<String>,
    pub sent_at: i64,
    pub edited_at: Option<i64>,
    pub deleted: bool,
    /// Its reactions, most used first: each with its count and some of its users (at most
    /// [`REACTION_USERS_SHOWN`]). A deleted message has none.
    #[serde(default)]
    pub reactions: Vec<Reaction>,
    /// Whether it is pinned in its conversation (a deleted message is not).
    #[serde(default)]
    pub pinned: bool,
    /// The caller's own reactions: in answers to a member (history, threads, pins, an edit),
    /// never in pushes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub my_reactions: Option<Vec<String>>,
    /// The WebSocket connection it was sent from: its push skips that one, which gets the answer.
    /// Kept with the message for whoever pushes it; never shown to clients.
    #[serde(skip)]
    pub origin: Option<ConnectionId>,
}

/// A message shows this many users of each reaction.
pub const REACTION_USERS_SHOWN: usize = 10;

/// One reaction on a message: how many members reacted so, and some of them.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Reaction {
    pub reaction: String,
    pub count: i64,
    /// Up to [`REACTION_USERS_SHOWN`] of them, in name order.
    pub users: Vec<String>,
}

impl Reaction {
    /// Whether `users` names everyone who reacted so (then a member's own reaction is known
    /// without reading it).
    pub fn lists_everyone(&self) -> bool {
        self.users.len() as i64 >= self.count
    }
}

/// Orders reactions most used first (then by the reaction, so every reader agrees).
pub fn sort_reactions(reactions: &mut [Reaction]) {
    reactions.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.reaction.cmp(&b.reaction)));
}

/// The key that makes a pair's direct conversation one: the two names in order.
pub fn direct_key(a: &str, b: &str) -> String {
    let (first, second) = if a <= b { (a, b) } else { (b, a) };
    format!("{first}#{second}")
}

/// Checks a conversation name given by a client.
pub fn validate_name(name: &str) -> Result<String, Invalid> {
    // Checked as given (length, control and format characters), so the OpenAPI document can state
    // the rule exactly; stored trimmed.
    crate::model::validate_text("name", name, CONVERSATION_NAME_MAX)?;
    let trimmed = name.trim();
    if trimmed.is_empty() {
        return Err(Invalid::new("name must not be empty"));
    }
    Ok(trimmed.to_owned())
}

/// Checks the names a message mentions: at most [`MENTIONS_MAX`], each a username, each once.
/// Returns them lower-cased, in the order given (whether they are members is the store's to say).
pub fn validate_mentions(raw: &[String]) -> Result<Vec<String>, Invalid> {
    if raw.len() > MENTIONS_MAX {
        return Err(Invalid::new(format!("a message mentions at most {MENTIONS_MAX} members")));
    }
    let mut names: Vec<String> = Vec::with_capacity(raw.len());
    for name in raw {
        let name = crate::model::Username::parse(name)
            .map_err(|_| Invalid::new("mentions must name members of the conversation"))?
            .into_string();
        if names.contains(&name) {
            return Err(Invalid::new("mentions must name each member at most once"));
        }
        names.push(name);
    }
    Ok(names)
}

/// Checks message content: 1–4000 characters, or empty with attachments.
pub fn validate_content(content: &str, has_attachments: bool) -> Result<(), Invalid> {
    let len = content.chars().count();
    if len > CONTENT_MAX {
        return Err(Invalid::new(format!("content must be at most {CONTENT_MAX} characters")));
    }
    if content.trim().is_empty() && !has_attachments {
        return Err(Invalid::new("content must not be empty"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conversation(members: &[&str], count: i64) -> Conversation {
        Conversation {
            id: "c".into(),
            name: None,
            kind: Kind::Group,
            visibility: Visibility::Private,
            owner: members[0].into(),
            member_count: count,
            member_preview: members.iter().map(|n| n.to_string()).collect(),
            icon_file_id: None,
            created_at: 0,
            created_by: members[0].into(),
            last_message_id: MessageId::NONE,
            last_activity_at: 0,
            sockets: Sockets::Recorded,
            feed: Default::default(),
        }
    }

    #[test]
    fn default_name_joins_the_preview_and_says_when_there_are_more() {
        assert_eq!(conversation(&["amy", "bob", "zoe"], 3).display_name(), "amy, bob, zoe");
        assert_eq!(conversation(&["amy", "bob"], 12).display_name(), "amy, bob, …");
    }

    #[test]
    fn previews_keep_the_first_names_in_order() {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let current = names(&["bob", "dan"]);
        assert_eq!(preview(&current, &names(&["amy"]), None, &[]), names(&["amy", "bob", "dan"]));
        assert_eq!(preview(&current, &[], Some("bob"), &names(&["eve"])), names(&["dan", "eve"]));
        let many: Vec<String> = (0..20).map(|i| format!("u{i:02}")).collect();
        assert_eq!(preview(&[], &many, None, &[]).len(), PREVIEW_MAX);
    }

    #[test]
    fn unread_counts_exclude_my_own_messages() {
        let id = MessageId::new;
        let state = ReadState { last_read: id(3), own_after_read: 2, ..ReadState::default() };
        assert_eq!(state.unread_count(id(10)), 5);
        assert_eq!(ReadState { last_read: id(10), own_after_read: 0, ..ReadState::default() }.unread_count(id(10)), 0);
        assert_eq!(ReadState { last_read: id(9), own_after_read: 5, ..ReadState::default() }.unread_count(id(10)), 0);
    }

    #[test]
    fn content_rules() {
        assert!(validate_content("hi", false).is_ok());
        assert!(validate_content("", true).is_ok());
        assert!(validate_content("  ", false).is_err());
        assert!(validate_content(&"x".repeat(4001), false).is_err());
        assert!(validate_content(&"é".repeat(4000), false).is_ok());
    }
}
