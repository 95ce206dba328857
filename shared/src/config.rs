//! Configuration read from the environment once, at cold start.

use crate::error::ConfigError;

/// The smallest HS256 key we accept: 256 bits, as RFC 7518 asks.
pub const MIN_JWT_SECRET_BYTES: usize = 32;

#[derive(Clone)]
pub struct Config {
    /// HS256 signing key for access tokens (on AWS: from Secrets Manager through the template).
    pub jwt_secret: Vec<u8>,
    /// The DynamoDB table that holds everything.
    pub table_name: String,
    /// Per-user limits on sends and typing.
    pub limits: Limits,
}

/// Per-user limits: at most `sends` messages and `typing` typing signals in each fixed window of
/// `window_ms` (defaults: 100 each per 10 s, a burst of 100 and then 10 a second, more than any
/// person types). `SEND_LIMIT`, `TYPING_LIMIT` and `RATE_WINDOW_SECONDS` override them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub sends: u32,
    pub typing: u32,
    pub window_ms: i64,
}

impl Default for Limits {
    fn default() -> Self {
        Self { sends: 100, typing: 100, window_ms: 10_000 }
    }
}

impl Limits {
    fn from_env() -> Result<Self, ConfigError> {
        let number = |name: &'static str, default: u64| -> Result<u64, ConfigError> {
            match std::env::var(name) {
                Ok(v) if !v.is_empty() => v.parse::<u64>().ok().filter(|n| *n > 0).ok_or(ConfigError::Invalid(name)),
                _ => Ok(default),
            }
        };
        let default = Self::default();
        Ok(Self {
            sends: u32::try_from(number("SEND_LIMIT", default.sends.into())?)
                .map_err(|_| ConfigError::Invalid("SEND_LIMIT"))?,
            typing: u32::try_from(number("TYPING_LIMIT", default.typing.into())?)
                .map_err(|_| ConfigError::Invalid("TYPING_LIMIT"))?,
            window_ms: i64::try_from(number("RATE_WINDOW_SECONDS", 10)? * 1000)
                .map_err(|_| ConfigError::Invalid("RATE_WINDOW_SECONDS"))?,
        })
    }

    /// The fixed window `now` falls in: its start, and the seconds until it ends.
    pub fn window(&self, now: i64) -> (i64, u64) {
        let start = now - now.rem_euclid(self.window_ms);
        (start, crate::clock::seconds_until(start + self.window_ms, now))
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config").field("jwt_secret", &"<redacted>").field("table_name", &self.table_name).finish()
    }
}

impl Config {
    pub fn new(jwt_secret: impl Into<Vec<u8>>, table_name: impl Into<String>) -> Result<Self, ConfigError> {
        let jwt_secret = jwt_secret.into();
        if jwt_secret.len() < MIN_JWT_SECRET_BYTES {
            return Err(ConfigError::WeakSecret(MIN_JWT_SECRET_BYTES));
        }
        Ok(Self { jwt_secret, table_name: table_name.into(), limits: Limits::default() })
    }

    /// `JWT_SECRET` and `TABLE_NAME` (default `chathub`).
    pub fn from_env() -> Result<Self, ConfigError> {
        let secret = std::env::var("JWT_SECRET").map_err(|_| ConfigError::Missing("JWT_SECRET"))?;
        let table = std::env::var("TABLE_NAME").unwrap_or_else(|_| "chathub".to_owned());
        Ok(Self { limits: Limits::from_env()?, ..Self::new(secret, table)? })
    }
}
