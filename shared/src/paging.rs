//! Pages of lists: limits and cursors, the same over REST and WebSocket. Cursors are opaque to
//! clients: base64url of the last key seen.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use crate::error::ApiError;

/// List limits: 1–100, default 50.
pub const DEFAULT_LIMIT: usize = 50;
pub const MAX_LIMIT: usize = 100;

/// The cursor that resumes after `last`.
pub fn encode_cursor(last: &str) -> String {
    URL_SAFE_NO_PAD.encode(last)
}

/// A cursor that holds a username.
pub fn decode_cursor(cursor: &str) -> Result<String, ApiError> {
    let last = decode_cursor_raw(cursor)?;
    crate::model::Username::parse(&last).map_err(|_| ApiError::invalid("cursor is not valid"))?;
    Ok(last)
}

/// Any cursor; the caller checks what it holds.
pub fn decode_cursor_raw(cursor: &str) -> Result<String, ApiError> {
    let bad = || ApiError::invalid("cursor is not valid");
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    String::from_utf8(bytes).map_err(|_| bad())
}
