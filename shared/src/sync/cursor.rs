//! The sync cursor: opaque to clients, a position in what has been recorded (never a clock).
//!
//! It holds the position in the user's feed (a bucket and how many of its keys were read), and
//! for each pulled conversation (a room over [`super::feed::FANOUT_MAX`]) the last message id and
//! log entry seen there. It is validated, not signed: it names its user (a hash of the username,
//! so another user's cursor is refused), when it was handed out (older than the retention: 410),
//! and positions that must not lie beyond the feed's head. Editing one can only make its holder
//! see their own changes again or skip them.
//!
//! Binary, then base64url: a version byte, 8 bytes of the user's hash, then LEB128 numbers: when
//! it was handed out (ms), the bucket, the keys read in it, the count of pulled conversations and
//! for each 6 bytes of its id's hash, its last message id and its log position: about 10 bytes a
//! pulled room, so 100 big rooms make a cursor of about 1.4 KB.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

use crate::ids::{ConversationId, MessageId};

const VERSION: u8 = 1;
const PULLED_MAX: usize = 10_000;

/// A position in a pulled conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PulledAt {
    pub tag: [u8; 6],
    pub last_message_id: MessageId,
    pub log_seq: i64,
}

/// A decoded cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub user: [u8; 8],
    pub issued_at: i64,
    /// Every bucket before this one was read, and `index` keys of this one.
    pub bucket: i64,
    pub index: u32,
    pub pulled: Vec<PulledAt>,
}

/// Why a cursor is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Not a cursor this service handed out.
    Malformed,
    /// Handed out to another user.
    Foreign,
    /// Older than the retention.
    Expired,
}

pub fn user_tag(username: &str) -> [u8; 8] {
    let digest = Sha256::digest(username.as_bytes());
    let mut tag = [0; 8];
    tag.copy_from_slice(&digest[..8]);
    tag
}

pub fn conversation_tag(id: &ConversationId) -> [u8; 6] {
    let digest = Sha256::digest(id.as_str().as_bytes());
    let mut tag = [0; 6];
    tag.copy_from_slice(&digest[..6]);
    tag
}

fn put(out: &mut Vec<u8>, mut value: u64) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn bytes<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.0.split_at_checked(N)?;
        self.0 = rest;
        head.try_into().ok()
    }

    fn number(&mut self) -> Option<i64> {
        let mut value: u64 = 0;
        for shift in (0..64).step_by(7) {
            let [byte] = self.bytes::<1>()?;
            value |= u64::from(byte & 0x7f).checked_shl(shift)?;
            if byte & 0x80 == 0 {
                return i64::try_from(value).ok();
            }
        }
        None
    }
}

impl Cursor {
    pub fn encode(&self) -> String {
        let mut out = vec![VERSION];
        out.extend_from_slice(&self.user);
        for n in [self.issued_at, self.bucket, i64::from(self.index), self.pulled.len() as i64] {
            put(&mut out, n.max(0) as u64);
        }
        for p in &self.pulled {
            out.extend_from_slice(&p.tag);
            put(&mut out, p.last_message_id.get().max(0) as u64);
            put(&mut out, p.log_seq.max(0) as u64);
        }
        URL_SAFE_NO_PAD.encode(out)
    }

    /// Reads a cursor handed out to `username`, if it is no older than `retention_ms` at `now`.
    pub fn decode(text: &str, username: &str, now: i64, retention_ms: i64) -> Result<Self, Refused> {
        let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| Refused::Malformed)?;
        let cursor = Self::parse(&bytes).ok_or(Refused::Malformed)?;
        if cursor.user != user_tag(username) {
            return Err(Refused::Foreign);
        }
        if cursor.issued_at > now + 60_000 {
            return Err(Refused::Malformed);
        }
        if cursor.issued_at < now - retention_ms {
            return Err(Refused::Expired);
        }
        Ok(cursor)
    }

    fn parse(bytes: &[u8]) -> Option<Self> {
        let mut r = Reader(bytes);
        if r.bytes::<1>()? != [VERSION] {
            return None;
        }
        let user = r.bytes::<8>()?;
        let issued_at = r.number()?;
        let bucket = r.number()?;
        let index = u32::try_from(r.number()?).ok()?;
        let count = usize::try_from(r.number()?).ok().filter(|n| *n <= PULLED_MAX)?;
        let mut pulled = Vec::with_capacity(count);
        for _ in 0..count {
            let tag = r.bytes::<6>()?;
            let last_message_id = MessageId::new(r.number()?);
            let log_seq = r.number()?;
            pulled.push(PulledAt { tag, last_message_id, log_seq });
        }
        if !r.0.is_empty() || bucket < 1 {
            return None;
        }
        Some(Self { user, issued_at, bucket, index, pulled })
    }

    /// Where this cursor stands in a pulled conversation, if it has been there.
    pub fn pulled_at(&self, id: &ConversationId) -> Option<PulledAt> {
        let tag = conversation_tag(id);
        self.pulled.iter().find(|p| p.tag == tag).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cursor() -> Cursor {
        Cursor {
            user: user_tag("ann"),
            issued_at: 1_700_000_000_000,
            bucket: 42,
            index: 3,
            pulled: vec![PulledAt {
                tag: conversation_tag(&"c1".into()),
                last_message_id: MessageId::new(900),
                log_seq: 12,
            }],
        }
    }

    #[test]
    fn round_trips_for_its_user_within_the_retention() {
        let c = cursor();
        let text = c.encode();
        assert_eq!(Cursor::decode(&text, "ann", c.issued_at + 5, 1000), Ok(c.clone()));
        assert_eq!(Cursor::decode(&text, "bob", c.issued_at + 5, 1000), Err(Refused::Foreign));
        assert_eq!(Cursor::decode(&text, "ann", c.issued_at + 1001, 1000), Err(Refused::Expired));
        assert_eq!(c.pulled_at(&"c1".into()).map(|p| p.log_seq), Some(12));
        assert_eq!(c.pulled_at(&"c2".into()), None);
    }

    #[test]
    fn anything_else_is_malformed() {
        let text = cursor().encode();
        let now = cursor().issued_at;
        for bad in ["", "!!!", "AAAA", &text[..text.len() - 2], &format!("{text}AA")] {
            assert_eq!(Cursor::decode(bad, "ann", now, 1000), Err(Refused::Malformed), "{bad:?}");
        }
        let mut zero = cursor();
        zero.bucket = 0;
        assert_eq!(Cursor::decode(&zero.encode(), "ann", now, 1000), Err(Refused::Malformed));
    }
}
