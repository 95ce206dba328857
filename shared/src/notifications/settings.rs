//! Notification levels: what a member wants to hear of a conversation when not connected.

use serde::{Deserialize, Serialize};

/// Rooms up to this many members notify every message by default; bigger ones only mentions.
pub const ALL_BY_DEFAULT_MAX: i64 = 100;

/// A member's choice for one conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Follow the room: `all` in direct conversations and rooms of up to
    /// [`ALL_BY_DEFAULT_MAX`] members, `mentions` in bigger ones.
    #[default]
    Default,
    All,
    Mentions,
    None,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Default => "default",
            Self::All => "all",
            Self::Mentions => "mentions",
            Self::None => "none",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "default" => Some(Self::Default),
            "all" => Some(Self::All),
            "mentions" => Some(Self::Mentions),
            "none" => Some(Self::None),
            _ => None,
        }
    }

    /// What the level means in a room of `member_count` members: never [`Level::Default`].
    pub fn effective(self, member_count: i64) -> Level {
        match self {
            Self::Default if member_count <= ALL_BY_DEFAULT_MAX => Self::All,
            Self::Default => Self::Mentions,
            chosen => chosen,
        }
    }
}

/// A member's notification settings for one conversation, as answers to that member carry them
/// (`notifications` on a conversation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Settings {
    pub level: Level,
    /// Epoch milliseconds until which nothing is pushed (whatever the level); `null`: not muted.
    pub muted_until: Option<i64>,
}

impl Settings {
    /// Whether the member chose anything: the default level, not muted.
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }

    /// Whether it is muted at `now`.
    pub fn muted(&self, now: i64) -> bool {
        self.muted_until.is_some_and(|until| until > now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_follows_the_room_size() {
        assert_eq!(Level::Default.effective(2), Level::All);
        assert_eq!(Level::Default.effective(100), Level::All);
        assert_eq!(Level::Default.effective(101), Level::Mentions);
        assert_eq!(Level::None.effective(2), Level::None);
        assert_eq!(Level::All.effective(10_000), Level::All);
    }

    #[test]
    fn muted_until_a_moment_in_the_future() {
        let s = Settings { level: Level::All, muted_until: Some(1_000) };
        assert!(s.muted(999));
        assert!(!s.muted(1_000));
        assert!(!Settings::default().muted(0));
        assert!(Settings::default().is_default());
    }

    #[test]
    fn levels_read_and_write_as_the_contract_names_them() {
        for level in [Level::Default, Level::All, Level::Mentions, Level::None] {
            assert_eq!(Level::parse(level.as_str()), Some(level));
            assert_eq!(serde_json::to_value(level).unwrap(), level.as_str());
        }
        assert_eq!(Level::parse("loud"), None);
    }
}
