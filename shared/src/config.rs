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
        Ok(Self { jwt_secret, table_name: table_name.into() })
    }

    /// `JWT_SECRET` and `TABLE_NAME` (default `chathub`).
    pub fn from_env() -> Result<Self, ConfigError> {
        let secret = std::env::var("JWT_SECRET").map_err(|_| ConfigError::Missing("JWT_SECRET"))?;
        let table = std::env::var("TABLE_NAME").unwrap_or_else(|_| "chathub".to_owned());
        Self::new(secret, table)
    }
}
