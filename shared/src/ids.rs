//! Typed ids: a conversation's, a message's, a WebSocket connection's and a file's, so that
//! arguments swapped between them (or with a username, which stays `&str`) do not compile. Each
//! is parsed once at the edge (a path parameter, a body field, the WebSocket event) or read from
//! the store; the JSON and the stored form are the plain string or number, unchanged.
//!
//! Nothing converts implicitly in either direction: an id gives its text with `as_str()` (store
//! keys) or `Display` (logs), and text becomes an id by `new` or `From` where it is parsed from a
//! request or read back from the store. So a `ConversationId` cannot stand in for a username
//! (`&str`) any more than a username for it.

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn new(id: impl Into<String>) -> Self {
                Self(id.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> Self {
                Self(id)
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> Self {
                Self(id.to_owned())
            }
        }
    };
}

string_id!(
    /// A conversation's id (a ULID for a group, derived from the pair for a direct one).
    ConversationId
);
string_id!(
    /// An API Gateway WebSocket connection id.
    ConnectionId
);
string_id!(
    /// An uploaded file's id.
    FileId
);

/// A message's id: its position in its conversation, from 1, dense. `MessageId::NONE` (0) is
/// "before the first message" (a read marker that has read nothing, a push turn that has pushed
/// nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Default)]
#[serde(transparent)]
pub struct MessageId(i64);

/// From JSON, a whole number: `3` or `3.0` (JSON Schema's `integer`), never `3.5` or `"3"`.
impl<'de> Deserialize<'de> for MessageId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        whole_number(d).map(MessageId)
    }
}

/// A JSON integer, also written with a zero fraction (`1.0`, `1e3`): JSON Schema counts those as
/// integers, so a client generated from the OpenAPI document may send them. Other fractions and
/// values outside `i64` are refused.
pub fn whole_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    let number = serde_json::Number::deserialize(d)?;
    if let Some(n) = number.as_i64() {
        return Ok(n);
    }
    match number.as_f64() {
        Some(f) if f.fract() == 0.0 && f >= i64::MIN as f64 && f < i64::MAX as f64 => Ok(f as i64),
        _ => Err(serde::de::Error::custom("expected an integer")),
    }
}

/// [`whole_number`], or `null` (with `#[serde(default)]`, also absent).
pub fn optional_whole_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    #[derive(Deserialize)]
    struct Whole(#[serde(deserialize_with = "whole_number")] i64);
    Ok(Option::<Whole>::deserialize(d)?.map(|whole| whole.0))
}

impl MessageId {
    pub const NONE: MessageId = MessageId(0);

    pub const fn new(id: i64) -> Self {
        Self(id)
    }

    pub const fn get(self) -> i64 {
        self.0
    }
}

/// An id equals its number (`id == 3`), as in history and in assertions.
impl PartialEq<i64> for MessageId {
    fn eq(&self, other: &i64) -> bool {
        self.0 == *other
    }
}

impl PartialEq<MessageId> for i64 {
    fn eq(&self, other: &MessageId) -> bool {
        *self == other.0
    }
}

/// A position plus a count: `id + 1` is the next id (as an `Instant` plus a `Duration`).
impl std::ops::Add<i64> for MessageId {
    type Output = MessageId;

    fn add(self, n: i64) -> MessageId {
        MessageId(self.0.saturating_add(n))
    }
}

impl std::ops::AddAssign<i64> for MessageId {
    fn add_assign(&mut self, n: i64) {
        self.0 = self.0.saturating_add(n);
    }
}

impl std::ops::Sub<i64> for MessageId {
    type Output = MessageId;

    fn sub(self, n: i64) -> MessageId {
        MessageId(self.0.saturating_sub(n))
    }
}

/// How many ids lie between two positions (unread counts).
impl std::ops::Sub for MessageId {
    type Output = i64;

    fn sub(self, other: MessageId) -> i64 {
        self.0 - other.0
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl From<i64> for MessageId {
    fn from(id: i64) -> Self {
        Self(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_serialize_as_their_plain_value() {
        let c = ConversationId::new("01J0");
        assert_eq!(serde_json::to_string(&c).unwrap(), "\"01J0\"");
        assert_eq!(serde_json::from_str::<ConversationId>("\"01J0\"").unwrap(), c);
        assert_eq!(serde_json::to_string(&MessageId::new(7)).unwrap(), "7");
        assert_eq!(serde_json::from_str::<MessageId>("7").unwrap() + 1, MessageId::new(8));
        assert!(MessageId::NONE < MessageId::new(1));
        assert_eq!(serde_json::from_str::<MessageId>("3.0").unwrap(), MessageId::new(3));
        assert!(serde_json::from_str::<MessageId>("3.5").is_err());
        assert!(serde_json::from_str::<MessageId>("\"3\"").is_err());
        assert_eq!(MessageId::new(9) - MessageId::new(4), 5);
    }
}
