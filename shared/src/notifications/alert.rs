//! What a device is sent: an alert (title, body, badge, thread and data) or a silent badge
//! update, in words the platforms share; the provider adapter turns it into APNs and FCM payloads.

use serde::Serialize;

use crate::chat::{Conversation, Kind, Message};
use crate::ids::{ConversationId, MessageId};

/// An alert's body is cut to this many characters.
pub const BODY_MAX: usize = 200;

/// Whether alerts carry message text (`full`) or only "New message" and the data fields
/// (`hidden`: a deployment that must not hand message text to Apple or Google).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Content {
    #[default]
    Full,
    Hidden,
}

impl Content {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "full" => Some(Self::Full),
            "hidden" => Some(Self::Hidden),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Delivery {
    /// A visible notification.
    Alert,
    /// A silent badge-only update.
    Badge,
}

/// One notification for one member (the same for each of their devices).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub kind: Delivery,
    pub title: Option<String>,
    pub body: Option<String>,
    pub badge: i64,
    pub conversation_id: Option<ConversationId>,
    pub message_id: Option<MessageId>,
    pub sender_username: Option<String>,
}

impl Notification {
    /// The thread the platform groups alerts of one conversation under (APNs `thread-id`, an
    /// Android notification group).
    pub fn thread_id(&self) -> Option<&str> {
        self.conversation_id.as_ref().map(ConversationId::as_str)
    }

    /// A new message: titled with the conversation's name (the sender's name in a direct one),
    /// `<sender>: <content>` cut to [`BODY_MAX`] characters, or "sent an attachment".
    pub fn message(
        conversation: &Conversation,
        message: &Message,
        sender_name: &str,
        badge: i64,
        content: Content,
    ) -> Self {
        let (title, body) = match content {
            Content::Hidden => ("New message".to_owned(), "New message".to_owned()),
            Content::Full => {
                let title = match conversation.kind {
                    Kind::Direct => sender_name.to_owned(),
                    Kind::Group => conversation.display_name(),
                };
                let text = if message.content.trim().is_empty() { "sent an attachment" } else { &message.content };
                (title, cut(&format!("{sender_name}: {text}")))
            }
        };
        Self {
            kind: Delivery::Alert,
            title: Some(title),
            body: Some(body),
            badge,
            conversation_id: Some(conversation.id.clone()),
            message_id: Some(message.id),
            sender_username: Some(message.sender_username.clone()),
        }
    }

    /// Being added to a conversation: titled with its name, `<adder> added you`.
    pub fn added(conversation: &Conversation, adder: &str, adder_name: &str, badge: i64, content: Content) -> Self {
        let (title, body) = match content {
            Content::Hidden => ("New conversation".to_owned(), "New conversation".to_owned()),
            Content::Full => (conversation.display_name(), cut(&format!("{adder_name} added you"))),
        };
        Self {
            kind: Delivery::Alert,
            title: Some(title),
            body: Some(body),
            badge,
            conversation_id: Some(conversation.id.clone()),
            message_id: None,
            sender_username: Some(adder.to_owned()),
        }
    }

    /// A silent badge-only update.
    pub fn badge(badge: i64) -> Self {
        Self {
            kind: Delivery::Badge,
            title: None,
            body: None,
            badge,
            conversation_id: None,
            message_id: None,
            sender_username: None,
        }
    }
}

fn cut(text: &str) -> String {
    if text.chars().count() <= BODY_MAX {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(BODY_MAX - 1).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::{Sockets, Visibility};

    fn conversation(kind: Kind, name: Option<&str>) -> Conversation {
        Conversation {
            id: "c1".into(),
            name: name.map(str::to_owned),
            kind,
            visibility: Visibility::Private,
            owner: "ann".into(),
            member_count: 2,
            member_preview: vec!["ann".into(), "bob".into()],
            icon_file_id: None,
            created_at: 0,
            created_by: "ann".into(),
            last_message_id: MessageId::new(3),
            last_activity_at: 0,
            sockets: Sockets::Recorded,
            feed: Default::default(),
        }
    }

    fn message(content: &str) -> Message {
        Message {
            id: MessageId::new(3),
            conversation_id: "c1".into(),
            sender_username: "ann".into(),
            content: content.into(),
            reply_id: None,
            reply_count: 0,
            client_id: None,
            attachments: vec![],
            mentions: vec![],
            sent_at: 0,
            edited_at: None,
            deleted: false,
            reactions: Vec::new(),
            pinned: false,
            my_reactions: None,
            origin: None,
        }
    }

    #[test]
    fn a_message_alert_names_the_room_or_the_sender() {
        let group =
            Notification::message(&conversation(Kind::Group, Some("Team")), &message("hi"), "Ann A", 4, Content::Full);
        assert_eq!((group.title.as_deref(), group.body.as_deref()), (Some("Team"), Some("Ann A: hi")));
        assert_eq!((group.badge, group.thread_id(), group.message_id), (4, Some("c1"), Some(MessageId::new(3))));
        let direct = Notification::message(&conversation(Kind::Direct, None), &message(""), "Ann A", 1, Content::Full);
        assert_eq!(
            (direct.title.as_deref(), direct.body.as_deref()),
            (Some("Ann A"), Some("Ann A: sent an attachment"))
        );
        let unnamed = Notification::message(&conversation(Kind::Group, None), &message("x"), "Ann", 1, Content::Full);
        assert_eq!(unnamed.title.as_deref(), Some("ann, bob"));
    }

    #[test]
    fn bodies_are_cut_to_200_characters_and_hidden_content_says_nothing() {
        let long = "é".repeat(300);
        let alert =
            Notification::message(&conversation(Kind::Group, Some("T")), &message(&long), "Ann", 1, Content::Full);
        let body = alert.body.unwrap();
        assert_eq!(body.chars().count(), 200);
        assert!(body.starts_with("Ann: éé") && body.ends_with('…'));
        let hidden =
            Notification::message(&conversation(Kind::Group, Some("T")), &message("secret"), "Ann", 1, Content::Hidden);
        assert_eq!((hidden.title.as_deref(), hidden.body.as_deref()), (Some("New message"), Some("New message")));
        assert_eq!(hidden.message_id, Some(MessageId::new(3)));
        let added = Notification::added(&conversation(Kind::Group, Some("T")), "ann", "Ann A", 0, Content::Full);
        assert_eq!((added.body.as_deref(), added.message_id), (Some("Ann A added you"), None));
        let badge = Notification::badge(5);
        assert_eq!((badge.kind, badge.badge, badge.title), (Delivery::Badge, 5, None));
    }
}
