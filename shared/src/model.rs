//! Validated domain types: a value of one of these types is valid by construction.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ids::{ConnectionId, ConversationId, FileId};

/// A value that breaks a rule of the model: what the domain's validators (here, in `chat` and in
/// `paging`) fail with. It knows nothing of HTTP: `error.rs` maps it, once, to 400
/// `invalid_request` with this text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(String);

impl Invalid {
    pub fn new(detail: impl Into<String>) -> Self {
        Self(detail.into())
    }
}

/// 3–32 characters of `a-z 0-9 _ . -`, stored lower-case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Username(String);

impl Username {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let lower = raw.trim().to_ascii_lowercase();
        let len = lower.chars().count();
        let valid_chars = lower.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_.-".contains(c));
        if !(3..=32).contains(&len) || !valid_chars {
            return Err(Invalid::new("username must be 3-32 characters of a-z, 0-9, '_', '.', '-'"));
        }
        Ok(Self(lower))
    }

    /// A username that was validated before it was stored.
    pub fn from_trusted(stored: String) -> Self {
        Self(stored)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl std::fmt::Display for Username {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A case-insensitive email address (stored lower-case), at most 254 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let lower = raw.trim().to_lowercase();
        let ok = raw.chars().count() <= 254
            && !lower.chars().any(char::is_whitespace)
            && matches!(lower.split_once('@'), Some((local, domain))
                if !local.is_empty() && !domain.is_empty() && !domain.contains('@')
                    && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.'));
        if !ok {
            return Err(Invalid::new("email is not a valid address"));
        }
        Ok(Self(lower))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// 8–256 characters.
pub fn validate_password(field: &str, password: &str) -> Result<(), Invalid> {
    let len = password.chars().count();
    if !(8..=256).contains(&len) {
        return Err(Invalid::new(format!("{field} must be 8-256 characters")));
    }
    Ok(())
}

/// A free-text name of at most `max` characters, with no control characters and no format
/// characters (Unicode category Cf: bidi overrides, zero-width joiners and spaces), which let one
/// name pass for another.
pub fn validate_text(field: &str, value: &str, max: usize) -> Result<(), Invalid> {
    use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};
    if value.chars().count() > max {
        return Err(Invalid::new(format!("{field} must be at most {max} characters")));
    }
    if value.chars().any(char::is_control) {
        return Err(Invalid::new(format!("{field} must not contain control characters")));
    }
    if value.chars().any(|c| c.general_category() == GeneralCategory::Format) {
        return Err(Invalid::new(format!(
            "{field} must not contain invisible format characters (bidi controls, zero-width)"
        )));
    }
    Ok(())
}

/// A calendar date `YYYY-MM-DD` that exists (leap years included).
pub fn validate_date(field: &str, value: &str) -> Result<(), Invalid> {
    let bad = || Invalid::new(format!("{field} must be a date YYYY-MM-DD"));
    let b = value.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return Err(bad());
    }
    let num = |s: &str| s.parse::<u32>().ok().filter(|_| s.bytes().all(|c| c.is_ascii_digit()));
    let (y, m, d) = match (num(&value[0..4]), num(&value[5..7]), num(&value[8..10])) {
        (Some(y), Some(m), Some(d)) => (y, m, d),
        _ => return Err(bad()),
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return Err(bad()),
    };
    if y == 0 || d == 0 || d > days {
        return Err(bad());
    }
    Ok(())
}

/// For PATCH bodies: tells a field given as `null` (`Some(None)`, clear it) from an absent one
/// (`None`, leave it), with `#[serde(default, deserialize_with = "crate::model::present")]`.
pub fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

pub use crate::ids::whole_number;

/// Maximum length of `fullname`, `first_name`, `last_name` and `role`.
pub const NAME_MAX: usize = 100;

/// A user as stored. The password hash never leaves the server: see [`UserView`].
#[derive(Debug, Clone, PartialEq)]
pub struct UserRecord {
    pub username: String,
    pub password_hash: String,
    pub fullname: String,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub role: Option<String>,
    pub date_of_birth: Option<String>,
    pub avatar_file_id: Option<FileId>,
    pub created_at: i64,
    pub last_online: Option<i64>,
    /// Open WebSocket connections: connection id → when it expires (ms). Online while one is live.
    pub connections: BTreeMap<ConnectionId, i64>,
    /// The users this one blocks (`blocks`): kept on the profile, which every place a block
    /// stops reads already (presence, adding, direct conversations, push decisions).
    pub blocks: std::collections::BTreeSet<String>,
}

/// A user as clients see it. `email` and `date_of_birth` only on one's own profile.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UserView {
    pub username: String,
    pub fullname: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date_of_birth: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub avatar_file_id: Option<FileId>,
    pub is_online: bool,
    pub last_online: Option<i64>,
    pub created_at: i64,
}

impl UserRecord {
    /// Live connections at `now`.
    pub fn live_connections(&self, now: i64) -> impl Iterator<Item = &ConnectionId> {
        self.connections.iter().filter(move |(_, expires)| **expires > now).map(|(id, _)| id)
    }

    /// The profile as its owner sees it, with presence at `now`.
    pub fn private_view(&self, now: i64) -> UserView {
        UserView {
            username: self.username.clone(),
            fullname: self.fullname.clone(),
            email: self.email.clone(),
            first_name: self.first_name.clone(),
            last_name: self.last_name.clone(),
            role: self.role.clone(),
            date_of_birth: self.date_of_birth.clone(),
            avatar_file_id: self.avatar_file_id.clone(),
            is_online: self.live_connections(now).next().is_some(),
            last_online: self.last_online,
            created_at: self.created_at,
        }
    }

    /// The profile as everyone else sees it.
    pub fn public_view(&self, now: i64) -> UserView {
        UserView { email: None, date_of_birth: None, ..self.private_view(now) }
    }

    /// The profile as `viewer` sees it: their own in full; another's public fields, offline to
    /// those it blocks (who are told nothing more).
    pub fn seen_by(&self, viewer: &str, now: i64) -> UserView {
        if self.username == viewer {
            return self.private_view(now);
        }
        let mut view = self.public_view(now);
        if self.blocks(viewer) {
            view.is_online = false;
        }
        view
    }

    /// Whether this user blocks `username`.
    pub fn blocks(&self, username: &str) -> bool {
        self.blocks.contains(username)
    }
}

/// One page of a list.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// What a file is for (`files` decides who may upload and read it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Purpose {
    Avatar,
    Icon,
    Attachment,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Avatar => "avatar",
            Self::Icon => "icon",
            Self::Attachment => "attachment",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "avatar" => Some(Self::Avatar),
            "icon" => Some(Self::Icon),
            "attachment" => Some(Self::Attachment),
            _ => None,
        }
    }
}

/// A file as declared by its uploader.
#[derive(Debug, Clone, PartialEq)]
pub struct FileRecord {
    pub id: FileId,
    pub owner: String,
    pub purpose: Purpose,
    pub content_type: String,
    pub size: i64,
    pub name: Option<String>,
    /// Attachments belong to a conversation.
    pub conversation_id: Option<ConversationId>,
    pub created_at: i64,
    /// Referenced somewhere (avatar, icon, message): its bytes moved from `uploads/` to `files/`.
    pub referenced: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_lowercased_and_checked() {
        assert_eq!(Username::parse("Alice_1").unwrap().as_str(), "alice_1");
        for bad in ["ab", "a b c", "ålice", "x".repeat(33).as_str(), "bob!", ""] {
            assert!(Username::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn emails_need_a_local_part_and_a_dotted_domain() {
        assert_eq!(Email::parse("Bob@Example.COM").unwrap().as_str(), "bob@example.com");
        for bad in ["bob", "@x.io", "bob@", "bob@localhost", "a@b@c.io", "a b@c.io", "a@.io"] {
            assert!(Email::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn dates_must_exist() {
        assert!(validate_date("d", "2000-02-29").is_ok());
        for bad in ["1999-02-29", "2001-13-01", "2001-04-31", "01-01-2001", "2001-1-01", "+001-01-01"] {
            assert!(validate_date("d", bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn integers_may_carry_a_zero_fraction_and_nothing_else() {
        #[derive(Deserialize)]
        struct Body {
            #[serde(deserialize_with = "whole_number")]
            n: i64,
            // An optional id (as `reply_id`): `MessageId` reads the same whole numbers.
            #[serde(default)]
            m: Option<crate::ids::MessageId>,
        }
        let parse = |text: &str| serde_json::from_str::<Body>(text).map(|b| (b.n, b.m.map(|m| m.get())));
        assert_eq!(parse(r#"{"n": 7}"#).unwrap(), (7, None));
        assert_eq!(parse(r#"{"n": 1.0, "m": 2e3}"#).unwrap(), (1, Some(2000)));
        assert_eq!(parse(r#"{"n": -3, "m": null}"#).unwrap(), (-3, None));
        for bad in
            [r#"{"n": 1.5}"#, r#"{"n": "1"}"#, r#"{"n": 1e300}"#, r#"{"n": 9223372036854775808}"#, r#"{"n": null}"#]
        {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
