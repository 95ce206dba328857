//! Who is notified of what: the changes the notify function is fed, and the rules that decide,
//! per member and device, whether a push goes out and why not.

use serde::Serialize;

use crate::chat::{Conversation, Message, ReadState};
use crate::ids::{ConversationId, MessageId};
use crate::notifications::devices::Device;
use crate::notifications::settings::Level;

/// A member counts as active (chatting elsewhere) for this long after sending, reading or typing.
pub const ACTIVE_MS: i64 = 2 * 60 * 1000;

/// What the notify function is fed: a change to the table that may call for a push (on AWS, a
/// DynamoDB stream record; locally, the embedded store's own feed of the same changes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A message id was filled (a message, or a void) in a conversation.
    Message { conversation_id: ConversationId, id: MessageId },
    /// `username` joined a conversation at `joined_at`; `by` added them (themselves for a join or
    /// the creator).
    MemberAdded { conversation_id: ConversationId, username: String, by: Option<String>, joined_at: i64 },
    /// `username` moved their read marker in a conversation, or changed their notification
    /// settings there (`settings`): their badge changed.
    Read { username: String, conversation_id: ConversationId, settings: bool },
    /// A message was edited or deleted.
    MessageChanged { conversation_id: ConversationId, id: MessageId },
    /// `username` added or removed their `reaction` on a message.
    Reacted { conversation_id: ConversationId, id: MessageId, username: String, reaction: String },
    /// `username` pinned or unpinned a message.
    Pinned { conversation_id: ConversationId, id: MessageId, username: String },
    /// `username` left a conversation or was removed.
    MemberRemoved { conversation_id: ConversationId, username: String },
    /// A conversation was renamed, got another icon, or another owner.
    ConversationChanged { conversation_id: ConversationId },
}

/// Why a device got no push (`GET /_local/pushes` lists these; each message's log line counts
/// them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Reason {
    /// The member sent it.
    Sender,
    /// The device's own session has a live socket: it got the message live.
    Online,
    /// The member sent, read or typed within [`ACTIVE_MS`].
    Active,
    /// The member's level does not admit it.
    Level,
    /// The member muted the conversation until later.
    Muted,
    /// The member blocks the sender.
    Blocked,
    /// The message was deleted before it was published.
    Deleted,
    /// The platform rejected the device's token.
    Disabled,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sender => "sender",
            Self::Online => "online",
            Self::Active => "active",
            Self::Level => "level",
            Self::Muted => "muted",
            Self::Blocked => "blocked",
            Self::Deleted => "deleted",
            Self::Disabled => "disabled",
        }
    }
}

/// What deciding for one member takes: their devices, live sessions and memberships read at once
/// (`NotificationStore::recipient`), and, only for a member a push may reach, their conversations
/// and typing (`NotificationStore::complete`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Recipient {
    pub username: String,
    pub devices: Vec<Device>,
    /// Sessions with a live socket.
    pub online_sessions: Vec<String>,
    /// Every conversation of the member with their read state there.
    pub memberships: Vec<(ConversationId, ReadState)>,
    /// Those conversations as they are now (for the badge).
    pub conversations: Vec<Conversation>,
    /// When the member last typed (the start of their latest typing window), if ever.
    pub typed_at: Option<i64>,
    /// Their sync feed's head, read in the same request (what the feed needs of a message:
    /// whether its conversation's activity is already recorded there).
    pub feed: crate::sync::feed::FeedHead,
    /// The users they block (on their profile, read in the same request).
    pub blocks: std::collections::BTreeSet<String>,
}

impl Recipient {
    /// Their read state in `conversation`, if they are a member.
    pub fn membership(&self, conversation: &ConversationId) -> Option<&ReadState> {
        self.memberships.iter().find(|(id, _)| id == conversation).map(|(_, state)| state)
    }

    /// The badge: their total unread count over conversations whose level is not `none`, as
    /// `GET /conversations` shows it now.
    pub fn badge(&self) -> i64 {
        self.memberships
            .iter()
            .filter(|(_, state)| state.notifications.level != Level::None)
            .filter_map(|(id, state)| {
                let conversation = self.conversations.iter().find(|c| &c.id == id)?;
                Some(state.unread_count(conversation.last_message_id))
            })
            .sum()
    }

    /// Whether they sent, read or typed within [`ACTIVE_MS`] of `now`.
    pub fn active(&self, now: i64) -> bool {
        let since = now - ACTIVE_MS;
        let acted = self.memberships.iter().filter_map(|(_, state)| state.active_at).max();
        acted.is_some_and(|at| at > since) || self.typed_at.is_some_and(|at| at > since)
    }

    /// The devices a push may go to at `now`: live ones (their session not expired).
    pub fn live_devices(&self, now: i64) -> impl Iterator<Item = &Device> {
        self.devices.iter().filter(move |d| d.expires_at > now)
    }
}

/// What a message is to a member, before their devices are considered: whether their level,
/// mute and the message's state admit a push.
pub fn member_verdict(
    recipient: &Recipient,
    conversation: &Conversation,
    message: &Message,
    replied_to: Option<&str>,
    now: i64,
) -> Result<(), Reason> {
    if message.sender_username == recipient.username {
        return Err(Reason::Sender);
    }
    if recipient.blocks.contains(&message.sender_username) {
        return Err(Reason::Blocked);
    }
    if message.deleted {
        return Err(Reason::Deleted);
    }
    let state = recipient.membership(&conversation.id).copied().unwrap_or_default();
    let admitted = match state.notifications.level.effective(conversation.member_count) {
        Level::All => true,
        Level::Mentions => message.mentions.contains(&recipient.username) || replied_to == Some(&recipient.username),
        Level::None | Level::Default => false,
    };
    if !admitted {
        return Err(Reason::Level);
    }
    if state.notifications.muted(now) {
        return Err(Reason::Muted);
    }
    Ok(())
}

/// What can be told of a device before the member's activity is read: not if the platform
/// rejected it, nor if its session has a live socket.
pub fn device_ready(recipient: &Recipient, device: &Device) -> Result<(), Reason> {
    if !device.enabled {
        return Err(Reason::Disabled);
    }
    if recipient.online_sessions.contains(&device.session) {
        return Err(Reason::Online);
    }
    Ok(())
}

/// Whether one device of an admitted member gets the push: not if the platform rejected it, nor
/// if its session has a live socket, nor if the member is active elsewhere.
pub fn device_verdict(recipient: &Recipient, device: &Device, now: i64) -> Result<(), Reason> {
    device_ready(recipient, device)?;
    if recipient.active(now) {
        return Err(Reason::Active);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::{Kind, Sockets, Visibility};
    use crate::notifications::devices::{DeviceId, Platform};
    use crate::notifications::settings::Settings;

    const NOW: i64 = 1_000_000_000;

    fn conversation(id: &str, members: i64, last: i64) -> Conversation {
        Conversation {
            id: id.into(),
            name: Some("room".into()),
            kind: Kind::Group,
            visibility: Visibility::Private,
            owner: "ann".into(),
            member_count: members,
            member_preview: vec![],
            icon_file_id: None,
            created_at: 0,
            created_by: "ann".into(),
            last_message_id: MessageId::new(last),
            last_activity_at: 0,
            sockets: Sockets::Recorded,
            feed: Default::default(),
        }
    }

    fn message(sender: &str, mentions: &[&str]) -> Message {
        Message {
            id: MessageId::new(10),
            conversation_id: "c".into(),
            sender_username: sender.into(),
            content: "hi".into(),
            reply_id: None,
            reply_count: 0,
            client_id: None,
            attachments: vec![],
            mentions: mentions.iter().map(|m| m.to_string()).collect(),
            sent_at: NOW,
            edited_at: None,
            deleted: false,
            reactions: Vec::new(),
            pinned: false,
            my_reactions: None,
            origin: None,
        }
    }

    fn device(session: &str) -> Device {
        Device {
            username: "bob".into(),
            device_id: DeviceId::parse("phone").unwrap(),
            session: session.into(),
            platform: Platform::Fcm,
            token: "t".into(),
            app_version: None,
            locale: None,
            enabled: true,
            created_at: 0,
            updated_at: 0,
            expires_at: NOW + 1,
            endpoint: None,
        }
    }

    fn bob(level: Level, muted_until: Option<i64>) -> Recipient {
        let state = ReadState { notifications: Settings { level, muted_until }, ..ReadState::default() };
        Recipient {
            username: "bob".into(),
            devices: vec![device("s1")],
            memberships: vec![("c".into(), state)],
            conversations: vec![conversation("c", 3, 10)],
            ..Recipient::default()
        }
    }

    #[test]
    fn levels_decide_by_room_size_mentions_and_replies() {
        let small = conversation("c", 100, 10);
        let big = conversation("c", 101, 10);
        let plain = message("ann", &[]);
        let mentioning = message("ann", &["bob"]);
        let verdict =
            |r: &Recipient, c: &Conversation, m: &Message, replied: Option<&str>| member_verdict(r, c, m, replied, NOW);
        let default = bob(Level::Default, None);
        assert_eq!(verdict(&default, &small, &plain, None), Ok(()));
        assert_eq!(verdict(&default, &big, &plain, None), Err(Reason::Level));
        assert_eq!(verdict(&default, &big, &mentioning, None), Ok(()));
        assert_eq!(verdict(&default, &big, &plain, Some("bob")), Ok(()));
        assert_eq!(verdict(&default, &big, &plain, Some("cat")), Err(Reason::Level));
        assert_eq!(verdict(&bob(Level::All, None), &big, &plain, None), Ok(()));
        assert_eq!(verdict(&bob(Level::Mentions, None), &small, &plain, None), Err(Reason::Level));
        assert_eq!(verdict(&bob(Level::None, None), &small, &mentioning, None), Err(Reason::Level));
        assert_eq!(verdict(&bob(Level::All, Some(NOW + 1)), &small, &mentioning, None), Err(Reason::Muted));
        assert_eq!(verdict(&bob(Level::All, Some(NOW)), &small, &plain, None), Ok(()));
        assert_eq!(verdict(&default, &small, &message("bob", &[]), None), Err(Reason::Sender));
        let deleted = Message { deleted: true, ..plain };
        assert_eq!(verdict(&default, &small, &deleted, None), Err(Reason::Deleted));
    }

    #[test]
    fn devices_are_skipped_when_disabled_online_or_their_member_is_active() {
        let mut r = bob(Level::All, None);
        let phone = r.devices[0].clone();
        assert_eq!(device_verdict(&r, &phone, NOW), Ok(()));
        r.online_sessions = vec!["s2".into()];
        assert_eq!(device_verdict(&r, &phone, NOW), Ok(()), "another session's socket does not silence it");
        r.online_sessions = vec!["s1".into()];
        assert_eq!(device_verdict(&r, &phone, NOW), Err(Reason::Online));
        r.online_sessions.clear();
        r.memberships[0].1.active_at = Some(NOW - ACTIVE_MS + 1);
        assert_eq!(device_verdict(&r, &phone, NOW), Err(Reason::Active));
        r.memberships[0].1.active_at = Some(NOW - ACTIVE_MS);
        assert_eq!(device_verdict(&r, &phone, NOW), Ok(()));
        r.typed_at = Some(NOW - 1_000);
        assert_eq!(device_verdict(&r, &phone, NOW), Err(Reason::Active));
        let disabled = Device { enabled: false, ..phone };
        assert_eq!(device_verdict(&r, &disabled, NOW), Err(Reason::Disabled));
    }

    #[test]
    fn the_badge_sums_unread_counts_outside_conversations_at_level_none() {
        let state = |last_read: i64, own: i64, level: Level| ReadState {
            last_read: MessageId::new(last_read),
            own_after_read: own,
            notifications: Settings { level, muted_until: None },
            active_at: None,
            blocked: false,
        };
        let r = Recipient {
            username: "bob".into(),
            memberships: vec![
                ("a".into(), state(2, 1, Level::Default)),
                ("b".into(), state(0, 0, Level::Mentions)),
                ("c".into(), state(0, 0, Level::None)),
                ("gone".into(), state(0, 0, Level::All)),
            ],
            conversations: vec![conversation("a", 2, 10), conversation("b", 500, 4), conversation("c", 2, 7)],
            ..Recipient::default()
        };
        // a: 10 - 2 - 1 = 7; b: 4 (muted or mentions-only rooms count); c: level none; gone: no
        // conversation read.
        assert_eq!(r.badge(), 11);
    }
}
