//! Files: avatars, group icons and message attachments. Clients upload and download straight to
//! and from storage with presigned URLs; this module decides who may, and signs.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::blobs::expires_at;
use crate::clients::{HoldsFiles, With};
use crate::error::ApiError;
use crate::ids::{ConversationId, FileId};
use crate::Ctx;

pub const IMAGE_MAX_BYTES: i64 = 5 * 1024 * 1024;
pub const ATTACHMENT_MAX_BYTES: i64 = 25 * 1024 * 1024;
pub const IMAGE_TYPES: [&str; 4] = ["image/png", "image/jpeg", "image/webp", "image/gif"];
/// How long an upload URL works.
pub const UPLOAD_URL_TTL: Duration = Duration::from_secs(15 * 60);
/// How long a download URL works.
pub const DOWNLOAD_URL_TTL: Duration = Duration::from_secs(5 * 60);

pub use crate::model::{FileRecord, Purpose};

/// Where an upload lands. The bucket removes what is still here after a day: uploads that nothing
/// ever referenced.
pub fn upload_key(file_id: &FileId) -> String {
    format!("uploads/{file_id}")
}

/// Where a referenced file's bytes live for good.
pub fn object_key(file_id: &FileId) -> String {
    format!("files/{file_id}")
}

fn current_key(file: &FileRecord) -> String {
    if file.referenced {
        object_key(&file.id)
    } else {
        upload_key(&file.id)
    }
}

#[derive(Debug, Deserialize)]
pub struct CreateFile {
    pub purpose: String,
    pub content_type: String,
    #[serde(deserialize_with = "crate::model::whole_number")]
    pub size: i64,
    pub name: Option<String>,
    pub conversation_id: Option<ConversationId>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Upload {
    pub file_id: FileId,
    pub upload_url: String,
    pub upload_method: String,
    pub upload_headers: BTreeMap<String, String>,
    pub expires_at: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Download {
    pub url: String,
    pub expires_at: i64,
}

fn valid_content_type(value: &str) -> bool {
    let parts: Vec<&str> = value.split('/').collect();
    let token = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "!#$&^_.+-".contains(c));
    value.len() <= 255 && parts.len() == 2 && token(parts[0]) && token(parts[1])
}

/// Declares a file and signs its upload: the URL accepts exactly the declared size and type.
pub async fn create(ctx: &With<impl HoldsFiles>, caller: &str, req: CreateFile) -> Result<Upload, ApiError> {
    let purpose =
        Purpose::parse(&req.purpose).ok_or_else(|| ApiError::invalid("purpose must be avatar, icon or attachment"))?;
    let content_type = req.content_type.trim().to_ascii_lowercase();
    if req.content_type.chars().count() > 255 || !valid_content_type(&content_type) {
        return Err(ApiError::invalid("content_type must be a MIME type such as image/png"));
    }
    if let Some(name) = &req.name {
        crate::model::validate_text("name", name, 255)?;
    }
    let limit = match purpose {
        Purpose::Avatar | Purpose::Icon => {
            if !IMAGE_TYPES.contains(&content_type.as_str()) {
                return Err(ApiError::invalid(
                    "avatars and icons must be image/png, image/jpeg, image/webp or image/gif",
                ));
            }
            IMAGE_MAX_BYTES
        }
        Purpose::Attachment => ATTACHMENT_MAX_BYTES,
    };
    if req.size < 1 {
        return Err(ApiError::invalid("size must be at least 1 byte"));
    }
    if req.size > limit {
        return Err(ApiError::PayloadTooLarge(limit as usize));
    }
    let conversation_id = match purpose {
        Purpose::Attachment => {
            let id = req.conversation_id.ok_or_else(|| ApiError::invalid("an attachment needs its conversation_id"))?;
            require_member(ctx, caller, &id).await?;
            Some(id)
        }
        _ => None,
    };
    let now = ctx.now_ms();
    let record = FileRecord {
        id: FileId::new(ulid::Ulid::new().to_string()),
        owner: caller.to_owned(),
        purpose,
        content_type: content_type.clone(),
        size: req.size,
        name: req.name,
        conversation_id,
        created_at: now,
        referenced: false,
    };
    ctx.store.put_file(&record).await?;
    let presigned =
        ctx.blobs().presign_upload(&upload_key(&record.id), &content_type, record.size, now, UPLOAD_URL_TTL).await?;
    Ok(Upload {
        file_id: record.id,
        upload_url: presigned.url,
        upload_method: "PUT".into(),
        upload_headers: presigned.headers.into_iter().collect(),
        expires_at: expires_at(now, UPLOAD_URL_TTL),
    })
}

/// A short-lived download URL: attachments for their conversation's members only (404 to
/// others), avatars and icons for anyone signed in.
pub async fn download(ctx: &With<impl HoldsFiles>, caller: &str, file_id: &FileId) -> Result<Download, ApiError> {
    let not_found = || ApiError::NotFound("file not found");
    let file = ctx.store.get_file(file_id).await?.ok_or_else(not_found)?;
    if let Some(conversation) = &file.conversation_id {
        // A non-member gets the file's 404, never the conversation's; a store that fails stays a
        // failure (503), which the client may retry.
        require_member(ctx, caller, conversation).await.map_err(|e| match e {
            ApiError::NotFound(_) => not_found(),
            other => other,
        })?;
    }
    let now = ctx.now_ms();
    let disposition = disposition(&file);
    let url = ctx.blobs().presign_download(&current_key(&file), disposition.as_deref(), now, DOWNLOAD_URL_TTL).await?;
    Ok(Download { url, expires_at: expires_at(now, DOWNLOAD_URL_TTL) })
}

/// 404 unless `caller` is a member of conversation `id` (the store's membership read, as
/// `conversations::member_view` makes it; files do not depend on the conversations service).
async fn require_member(ctx: &Ctx, caller: &str, id: &ConversationId) -> Result<(), ApiError> {
    match ctx.store.member_conversation(id, caller).await? {
        Some(_) => Ok(()),
        None => Err(ApiError::NotFound("conversation not found")),
    }
}

/// Everything but the four image types downloads as an attachment, never rendered inline (an
/// uploaded HTML or SVG file must not run in the browser); the file's name goes along, encoded
/// as RFC 6266 asks.
fn disposition(file: &FileRecord) -> Option<String> {
    if IMAGE_TYPES.contains(&file.content_type.as_str()) {
        return None;
    }
    Some(match &file.name {
        Some(name) => {
            use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
            // RFC 8187's attr-char, less the few that some clients mishandle.
            const KEEP: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');
            format!("attachment; filename*=UTF-8''{}", utf8_percent_encode(name, KEEP))
        }
        None => "attachment".to_owned(),
    })
}

fn not_uploaded(detail: &str) -> ApiError {
    ApiError::bad_request("file_not_uploaded", detail.to_owned())
}

/// The caller's uploaded file for `purpose` (and, for attachments, `conversation`): 400
/// `file_not_uploaded` when it is not theirs, not for that use, never uploaded, or stored with
/// another size or type than declared.
pub async fn usable(
    ctx: &With<impl HoldsFiles>,
    caller: &str,
    file_id: &FileId,
    purpose: Purpose,
    conversation: Option<&ConversationId>,
) -> Result<FileRecord, ApiError> {
    let detail = format!("{file_id} is no uploaded {} of yours", purpose.as_str());
    let file = ctx.store.get_file(file_id).await?.ok_or_else(|| not_uploaded(&detail))?;
    if file.owner != caller || file.purpose != purpose || file.conversation_id.as_ref() != conversation {
        return Err(not_uploaded(&detail));
    }
    if file.referenced {
        return Ok(file);
    }
    let stored = ctx.blobs().inspect(&upload_key(file_id)).await?.ok_or_else(|| not_uploaded(&detail))?;
    let same_type = stored.content_type.as_deref().map(|t| t.eq_ignore_ascii_case(&file.content_type)).unwrap_or(false);
    if stored.size != file.size || !same_type {
        return Err(not_uploaded(&format!("{file_id} was stored with another size or type than declared")));
    }
    // First use: keep the bytes for good (out of reach of the unreferenced-uploads rule).
    ctx.blobs().copy(&upload_key(file_id), &object_key(file_id)).await?;
    ctx.store.mark_file_referenced(file_id).await?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_images_render_inline() {
        let file = |content_type: &str, name: Option<&str>| FileRecord {
            id: "f".into(),
            owner: "o".into(),
            purpose: Purpose::Attachment,
            content_type: content_type.into(),
            size: 1,
            name: name.map(str::to_owned),
            conversation_id: None,
            created_at: 0,
            referenced: true,
        };
        for image in IMAGE_TYPES {
            assert_eq!(disposition(&file(image, Some("a.png"))), None);
        }
        assert_eq!(disposition(&file("text/html", None)).as_deref(), Some("attachment"));
        assert_eq!(
            disposition(&file("image/svg+xml", Some("é \"x\".svg"))).as_deref(),
            Some("attachment; filename*=UTF-8''%C3%A9%20%22x%22.svg")
        );
    }

    #[test]
    fn content_types_are_checked() {
        assert!(valid_content_type("image/png"));
        assert!(valid_content_type("application/vnd.ms-excel"));
        for bad in ["", "image", "image/", "/png", "image/png/x", "text/plain; charset=utf-8", "a b/c"] {
            assert!(!valid_content_type(bad), "{bad:?} accepted");
        }
    }
}
