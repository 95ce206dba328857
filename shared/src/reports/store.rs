//! Reports as stored and as sent to the moderators: the port the adapters implement.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::chat::Message;
use crate::error::StoreError;
use crate::ids::{ConversationId, MessageId};

/// The most a report's note may say.
pub const NOTE_MAX: usize = 1000;

/// Why a message is reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Reason {
    Spam,
    Abuse,
    Other,
}

impl Reason {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "spam" => Some(Self::Spam),
            "abuse" => Some(Self::Abuse),
            "other" => Some(Self::Other),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Spam => "spam",
            Self::Abuse => "abuse",
            Self::Other => "other",
        }
    }
}

/// One report: who reported which message, why, and the message as it was when reported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub report_id: String,
    pub reporter: String,
    pub conversation_id: ConversationId,
    pub message_id: MessageId,
    pub reason: Reason,
    pub note: Option<String>,
    pub message: Message,
    pub created_at: i64,
    /// Sent to the moderation topic (a report is stored first, then sent; a retry sends one that
    /// was stored but not sent).
    #[serde(skip)]
    pub published: bool,
}

/// Reports, one per reporter and message.
#[async_trait]
pub trait ReportStore: Send + Sync {
    /// Stores `report` unless its reporter reported that message already: then returns that one.
    async fn put_report(&self, report: &Report) -> Result<Option<Report>, StoreError>;
    /// Records that the report went to the moderators.
    async fn mark_report_published(&self, report: &Report) -> Result<(), StoreError>;
}
