//! Configuration read from the environment once, at cold start.

use crate::error::ConfigError;
use crate::keys::{Keyring, SigningKey};

#[derive(Clone, Debug)]
pub struct Config {
    /// The public keys access tokens are verified with (on AWS: `JWT_PUBLIC_KEYS`). The signing
    /// key is not configuration: the functions that issue tokens get it as a client
    /// (`crate::clients::Signs`), read from Secrets Manager at cold start.
    pub keys: Keyring,
    /// The DynamoDB table that holds everything.
    pub table_name: String,
    /// Per-user limits on sends and typing.
    pub limits: Limits,
    /// How long a send may push others' messages, holding its conversation's push turn, before it
    /// retires: it pushes what was handed out so far and leaves the rest to the sends after it
    /// (`PUSH_BUDGET_SECONDS`, default 20: the send functions time out at 29 s).
    pub push_budget_ms: u64,
    /// How long the sync feed keeps changes: an older cursor is refused with 410
    /// (`SYNC_RETENTION_DAYS`, default 30, 1 to 365).
    pub sync_retention_ms: i64,
}

const DAY_MS: i64 = 86_400_000;

/// [`Config::push_budget_ms`] unless configured.
pub const PUSH_BUDGET_MS: u64 = 20_000;

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
    /// The limits the environment sets (`SEND_LIMIT`, `TYPING_LIMIT`, `RATE_WINDOW_SECONDS`), the
    /// defaults where it sets none.
    pub fn from_env() -> Result<Self, ConfigError> {
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

impl Config {
    /// Verifies with the public key of the one key pair `key_material` gives
    /// ([`SigningKey::from_material`]: a private JWK, or at least 32 bytes hashed into a seed): the
    /// local gateway and tests, which sign with `Signer::local` of the same key.
    pub fn new(key_material: impl AsRef<[u8]>, table_name: impl Into<String>) -> Result<Self, ConfigError> {
        let keys = Keyring::local(&SigningKey::from_material(key_material.as_ref())?);
        Ok(Self::with_keys(keys, table_name))
    }

    pub fn with_keys(keys: Keyring, table_name: impl Into<String>) -> Self {
        Self {
            keys,
            table_name: table_name.into(),
            limits: Limits::default(),
            push_budget_ms: PUSH_BUDGET_MS,
            sync_retention_ms: crate::sync::feed::RETENTION_DAYS * DAY_MS,
        }
    }

    /// A Lambda function's configuration: `JWT_PUBLIC_KEYS` (the JWK set tokens are verified with),
    /// `TABLE_NAME` (default `chathub`) and the limits. The signing key, for the functions that
    /// issue tokens, is a client (`crate::clients::Signing`), read from Secrets Manager.
    pub fn from_env() -> Result<Self, ConfigError> {
        let jwks = std::env::var("JWT_PUBLIC_KEYS").map_err(|_| ConfigError::Missing("JWT_PUBLIC_KEYS"))?;
        let table = std::env::var("TABLE_NAME").unwrap_or_else(|_| "chathub".to_owned());
        let push_budget_ms = match std::env::var("PUSH_BUDGET_SECONDS") {
            Ok(v) if !v.is_empty() => {
                v.parse::<u64>()
                    .ok()
                    .filter(|n| (1..=900).contains(n))
                    .ok_or(ConfigError::Invalid("PUSH_BUDGET_SECONDS"))?
                    * 1000
            }
            _ => PUSH_BUDGET_MS,
        };
        let sync_retention_ms = match std::env::var("SYNC_RETENTION_DAYS") {
            Ok(v) if !v.is_empty() => {
                v.parse::<i64>()
                    .ok()
                    .filter(|n| (1..=365).contains(n))
                    .ok_or(ConfigError::Invalid("SYNC_RETENTION_DAYS"))?
                    * DAY_MS
            }
            _ => crate::sync::feed::RETENTION_DAYS * DAY_MS,
        };
        Ok(Self {
            limits: Limits::from_env()?,
            push_budget_ms,
            sync_retention_ms,
            ..Self::with_keys(Keyring::verifying(&jwks)?, table)
        })
    }
}
