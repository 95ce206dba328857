//! Pages of lists: limits and cursors, the same over REST and WebSocket.
//!
//! A cursor is the last key a page showed: a username (users, contacts, members),
//! `{last_activity_at}:{id}` (my conversations), or base64url of a public conversation's sort key
//! (its lower-cased name, `#`, its id: base64url keeps it safe in a query string). Clients treat
//! it as opaque and pass `next_cursor` back; the server takes any well-formed cursor as a
//! position, and the page starts after it, so the OpenAPI document can say exactly which cursors
//! are accepted.

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;

use crate::model::Invalid;

/// List limits: 1–100, default 50.
pub const DEFAULT_LIMIT: usize = 50;
pub const MAX_LIMIT: usize = 100;

/// The longest public-conversation cursor, in base64url characters: a sort key is a name of at
/// most 100 characters, lower-cased, `#` and an id, under 450 bytes.
pub const MAX_SORT_KEY_CURSOR: usize = 600;

/// A sort key resumes at most this many bytes in (DynamoDB keys end at 1,024).
const MAX_SORT_KEY_BYTES: usize = 1000;

/// base64url without padding; any trailing bits are accepted, so that every string of the
/// documented pattern is a cursor.
const SORT_KEY_CODEC: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone),
);

fn bad() -> Invalid {
    Invalid::new("cursor is not valid")
}

/// A cursor that holds a username, exactly as usernames are stored.
pub fn username_cursor(cursor: &str) -> Result<String, Invalid> {
    match crate::model::Username::parse(cursor) {
        Ok(name) if name.as_str() == cursor => Ok(cursor.to_owned()),
        _ => Err(bad()),
    }
}

/// A cursor of my conversations: `{last_activity_at}:{id}`.
pub fn activity_cursor(cursor: &str) -> Result<(i64, String), Invalid> {
    let (at, id) = cursor.split_once(':').ok_or_else(bad)?;
    let digits = !at.is_empty() && at.len() <= 15 && at.bytes().all(|b| b.is_ascii_digit());
    let id_ok = (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric());
    if !digits || !id_ok {
        return Err(bad());
    }
    Ok((at.parse().map_err(|_| bad())?, id.to_owned()))
}

/// The cursor of my conversations that resumes after this one.
pub fn activity_cursor_of(last_activity_at: i64, id: &str) -> String {
    format!("{last_activity_at}:{id}")
}

/// The cursor that resumes after a public conversation's sort key.
pub fn sort_key_cursor_of(key: &str) -> String {
    SORT_KEY_CODEC.encode(key)
}

/// A cursor that holds a sort key: 2–[`MAX_SORT_KEY_CURSOR`] base64url characters (no padding, so
/// never a length of 4n + 1). Bytes that are not UTF-8 stand for U+FFFD: any such cursor is a
/// position.
pub fn sort_key_cursor(cursor: &str) -> Result<String, Invalid> {
    if cursor.len() < 2 || cursor.len() > MAX_SORT_KEY_CURSOR {
        return Err(bad());
    }
    let bytes = SORT_KEY_CODEC.decode(cursor).map_err(|_| bad())?;
    let mut key = String::from_utf8_lossy(&bytes).into_owned();
    if key.len() > MAX_SORT_KEY_BYTES {
        let mut end = MAX_SORT_KEY_BYTES;
        while !key.is_char_boundary(end) {
            end -= 1;
        }
        key.truncate(end);
    }
    Ok(key)
}

/// Where a page of keys that start with `prefix` resumes after `after`: the cursor itself when it
/// lies among those keys, the first of them when it sorts before them all, and nowhere (`None`:
/// the page is empty) when it sorts after them all. A store that starts a range query at a key
/// outside the range is refused (DynamoDB's "starting key does not match the range key
/// predicate"), and a client may well keep a cursor while it changes the prefix.
pub fn resume_within<'a>(prefix: &str, after: Option<&'a str>) -> Option<Option<&'a str>> {
    match after {
        Some(after) if after.starts_with(prefix) => Some(Some(after)),
        Some(after) if after < prefix => Some(None),
        Some(_) => None,
        None => Some(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_are_checked_for_their_shape_only() {
        assert_eq!(username_cursor("bob.b").unwrap(), "bob.b");
        for bad in ["", "Bob", " bob", "bo", "bob!", "%%"] {
            assert!(username_cursor(bad).is_err(), "{bad:?}");
        }
        assert_eq!(activity_cursor("17:01ABC").unwrap(), (17, "01ABC".to_owned()));
        for bad in ["", "17", ":x", "17:", "-1:x", "1x:y", "1:a-b", "1234567890123456:x"] {
            assert!(activity_cursor(bad).is_err(), "{bad:?}");
        }
        assert_eq!(activity_cursor(&activity_cursor_of(5, "01J")).unwrap(), (5, "01J".to_owned()));
        let key = "général chat#01J";
        assert_eq!(sort_key_cursor(&sort_key_cursor_of(key)).unwrap(), key);
        // Any base64url of a valid length is a position, whatever its trailing bits or bytes.
        assert_eq!(sort_key_cursor("_w").unwrap(), "\u{fffd}");
        assert_eq!(sort_key_cursor("YR").unwrap(), "a");
        for bad in ["", "Y", "YWJjZ", "a b", "YQ==", "%%"] {
            assert!(sort_key_cursor(bad).is_err(), "{bad:?}");
        }
        assert!(sort_key_cursor(&"_".repeat(MAX_SORT_KEY_CURSOR)).unwrap().len() <= MAX_SORT_KEY_BYTES);
        assert!(sort_key_cursor(&"x".repeat(MAX_SORT_KEY_CURSOR + 2)).is_err());
    }

    #[test]
    fn a_cursor_outside_the_prefix_starts_or_ends_the_range() {
        assert_eq!(resume_within("bo", Some("bob")), Some(Some("bob")));
        assert_eq!(resume_within("bo", Some("al")), Some(None));
        assert_eq!(resume_within("bo", Some("zed")), None);
        assert_eq!(resume_within("", Some("zed")), Some(Some("zed")));
        assert_eq!(resume_within("bo", None), Some(None));
    }
}
