//! Reports: a member tells the people who run the deployment about a message (spam, abuse,
//! other). The report is stored with the message as it was when reported, then sent to the
//! moderation topic; the reporter hears nothing more. One report per reporter and message: asking
//! again answers the first one (and sends it, if storing it went through and sending did not).

pub mod moderation;
pub mod store;

use serde::{Deserialize, Serialize};

use crate::clients::{Moderates, With};
use crate::error::ApiError;
use crate::ids::{ConversationId, MessageId};
use store::{Reason, Report, NOTE_MAX};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportRequest {
    pub conversation_id: String,
    #[serde(deserialize_with = "crate::ids::whole_number")]
    pub message_id: i64,
    pub reason: String,
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Receipt {
    pub report_id: String,
}

/// `POST /reports`: 404 for a message the caller cannot read (not a member, no such message), 409
/// `message_deleted` for a tombstone (nothing left to show the moderators), 400 for an unknown
/// reason or a note over [`NOTE_MAX`] characters; 503 when the moderation topic could not take it
/// (stored: asking again sends it). Returns the receipt and whether the report is new.
pub async fn report(ctx: &With<impl Moderates>, caller: &str, req: ReportRequest) -> Result<(Receipt, bool), ApiError> {
    let reason =
        Reason::parse(&req.reason).ok_or_else(|| ApiError::invalid("reason must be one of spam, abuse, other"))?;
    if let Some(note) = &req.note {
        crate::model::validate_text("note", note, NOTE_MAX)?;
    }
    if req.message_id < 1 {
        return Err(ApiError::NotFound("message not found"));
    }
    // An id no conversation could have (ours are ULIDs) names none: 404, as for any other.
    if req.conversation_id.is_empty() || req.conversation_id.len() > 64 {
        return Err(ApiError::NotFound("conversation not found"));
    }
    let conversation_id = ConversationId::from(req.conversation_id);
    crate::conversations::membership(ctx, caller, &conversation_id).await?;
    let message_id = MessageId::new(req.message_id);
    let message =
        ctx.store.get_message(&conversation_id, message_id).await?.ok_or(ApiError::NotFound("message not found"))?;
    if message.deleted {
        return Err(ApiError::Conflict { code: "message_deleted", detail: "the message was deleted" });
    }
    let report = Report {
        report_id: ulid::Ulid::new().to_string(),
        reporter: caller.to_owned(),
        conversation_id,
        message_id,
        reason,
        note: req.note.filter(|n| !n.trim().is_empty()),
        message,
        created_at: ctx.now_ms(),
        published: false,
    };
    let (report, new) = match ctx.store.put_report(&report).await? {
        Some(existing) => (existing, false),
        None => (report, true),
    };
    if !report.published {
        if let Err(e) = ctx.moderation().publish(&report).await {
            tracing::warn!(error = %crate::error::Chain(e.as_ref()), report_id = report.report_id, "the moderation topic did not take a report; it is stored, and asking again sends it");
            return Err(ApiError::Unavailable { retry_after_secs: 1 });
        }
        ctx.store.mark_report_published(&report).await?;
    }
    Ok((Receipt { report_id: report.report_id }, new))
}
