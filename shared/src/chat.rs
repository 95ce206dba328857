//! Chat types: conversations, memberships and messages, and their rules.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// Conversation names: at most 100 characters.
pub const CONVERSATION_NAME_MAX: usize = 100;
/// Message content: 1–4000 characters (empty allowed only with attachments).
pub const CONTENT_MAX: usize = 4000;
/// `client_id`: at most 64 characters.
pub const CLIENT_ID_MAX: usize = 64;
/// Members of one conversation.
pub const MEMBERS_MAX: usize = 1000;
/// Members named in one create or add request (one DynamoDB transaction holds 100 writes).
pub const MEMBERS_PER_REQUEST_MAX: usize = 98;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Direct,
    Group,
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

/// A conversation as stored: the members with when each joined.
#[derive(Debug, Clone, PartialEq)]
pub struct Conversation {
    pub id: String,
    /// The name given, if any; [`Conversation::display_name`] fills in the default.
    pub name: Option<String>,
    pub kind: Kind,
    pub visibility: Visibility,
    pub owner: String,
    /// username → joined_at (ms)
    pub members: BTreeMap<String, i64>,
    pub icon_file_id: Option<String>,
    pub created_at: i64,
    pub created_by: String,
    /// The highest message id handed out (0 before the first message).
    pub last_message_id: i64,
    pub last_activity_at: i64,
}

/// A conversation as clients see it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ConversationView {
    pub id: String,
    pub name: String,
    pub kind: Kind,
    pub visibility: Visibility,
    pub owner: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub members: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icon_file_id: Option<String>,
    pub created_at: i64,
    pub created_by: String,
    pub last_message_id: i64,
    pub last_activity_at: i64,
}

impl Conversation {
    pub fn is_member(&self, username: &str) -> bool {
        self.members.contains_key(username)
    }

    /// The name, or the members' usernames joined by `, `.
    pub fn display_name(&self) -> String {
        match &self.name {
            Some(name) => name.clone(),
            None => self.members.keys().cloned().collect::<Vec<_>>().join(", "),
        }
    }

    /// The member who has been in longest (ties by name), other than `leaving`.
    pub fn longest_standing_except(&self, leaving: &str) -> Option<String> {
        self.members
            .iter()
            .filter(|(name, _)| name.as_str() != leaving)
            .min_by(|a, b| a.1.cmp(b.1).then_with(|| a.0.cmp(b.0)))
            .map(|(name, _)| name.clone())
    }

    pub fn view(&self, with_members: bool) -> ConversationView {
        ConversationView {
            id: self.id.clone(),
            name: self.display_name(),
            kind: self.kind,
            visibility: self.visibility,
            owner: self.owner.clone(),
            members: with_members.then(|| self.members.keys().cloned().collect()),
            icon_file_id: self.icon_file_id.clone(),
            created_at: self.created_at,
            created_by: self.created_by.clone(),
            last_message_id: self.last_message_id,
            last_activity_at: self.last_activity_at,
        }
    }
}

/// One user's side of a conversation: the read marker and what unread counting needs.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ReadState {
    /// Highest message id read.
    pub last_read: i64,
    /// How many of my own messages have ids above `last_read` (they never count as unread).
    pub own_after_read: i64,
}

impl ReadState {
    /// Other members' messages after my marker.
    pub fn unread_count(&self, last_message_id: i64) -> i64 {
        (last_message_id - self.last_read - self.own_after_read).max(0)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Attachment {
    pub file_id: String,
    pub content_type: String,
    pub size: i64,
    pub name: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Message {
    pub id: i64,
    pub conversation_id: String,
    pub sender_username: String,
    pub content: String,
    pub reply_id: Option<i64>,
    pub client_id: Option<String>,
    pub attachments: Vec<Attachment>,
    pub sent_at: i64,
    pub edited_at: Option<i64>,
    pub deleted: bool,
    /// The WebSocket connection it was sent from: its push skips that one, which gets the answer.
    /// Kept with the message for whoever pushes it; never shown to clients.
    #[serde(skip)]
    pub origin: Option<String>,
}

/// Checks a conversation name given by a client.
pub fn validate_name(name: &str) -> Result<String, ApiError> {
    let trimmed = name.trim();
    if trimmed.is_empty() {
        return Err(ApiError::invalid("name must not be empty"));
    }
    crate::model::validate_text("name", trimmed, CONVERSATION_NAME_MAX)?;
    Ok(trimmed.to_owned())
}

/// Checks message content: 1–4000 characters, or empty with attachments.
pub fn validate_content(content: &str, has_attachments: bool) -> Result<(), ApiError> {
    let len = content.chars().count();
    if len > CONTENT_MAX {
        return Err(ApiError::invalid(format!("content must be at most {CONTENT_MAX} characters")));
    }
    if content.trim().is_empty() && !has_attachments {
        return Err(ApiError::invalid("content must not be empty"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conversation(members: &[(&str, i64)]) -> Conversation {
        Conversation {
            id: "c".into(),
            name: None,
            kind: Kind::Group,
            visibility: Visibility::Private,
            owner: members[0].0.into(),
            members: members.iter().map(|(n, t)| (n.to_string(), *t)).collect(),
            icon_file_id: None,
            created_at: 0,
            created_by: members[0].0.into(),
            last_message_id: 0,
            last_activity_at: 0,
        }
    }

    #[test]
    fn default_name_joins_members_and_ownership_goes_to_the_longest_standing() {
        let c = conversation(&[("zoe", 1), ("amy", 5), ("bob", 5)]);
        assert_eq!(c.display_name(), "amy, bob, zoe");
        assert_eq!(c.longest_standing_except("zoe").as_deref(), Some("amy"));
        assert_eq!(conversation(&[("zoe", 1)]).longest_standing_except("zoe"), None);
    }

    #[test]
    fn unread_counts_exclude_my_own_messages() {
        let state = ReadState { last_read: 3, own_after_read: 2 };
        assert_eq!(state.unread_count(10), 5);
        assert_eq!(ReadState { last_read: 10, own_after_read: 0 }.unread_count(10), 0);
        assert_eq!(ReadState { last_read: 9, own_after_read: 5 }.unread_count(10), 0);
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
