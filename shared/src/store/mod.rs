//! The store port: everything Chathub keeps, behind one trait with two adapters, [`memory`]
//! (embedded, for local runs and fast tests) and [`dynamo`] (one DynamoDB table). The same
//! behavioural suite runs against both.

pub mod dynamo;
pub mod memory;

use async_trait::async_trait;

use crate::error::StoreError;
use crate::model::{Page, UserRecord};

/// A change to a user's profile; `None` leaves a field alone, `Some(None)` clears it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserUpdate {
    pub fullname: Option<String>,
    pub email: Option<Option<String>>,
    pub first_name: Option<Option<String>>,
    pub last_name: Option<Option<String>>,
    pub role: Option<Option<String>>,
    pub date_of_birth: Option<Option<String>>,
    pub avatar_file_id: Option<Option<String>>,
    pub password_hash: Option<String>,
}

/// A stored refresh token (by hash) and the session family it belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct RefreshTokenRecord {
    pub token_hash: String,
    pub username: String,
    pub family_id: String,
    pub expires_at: i64,
    /// When it was rotated; a token presented again after that is theft.
    pub used_at: Option<i64>,
}

/// Failed logins for one username in the current window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoginFailures {
    pub count: u32,
    pub window_start: i64,
}

/// Users, their unique emails and the user directory.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Creates the user and claims its email in one step: both or neither
    /// (`Conflict::UsernameTaken` / `Conflict::EmailTaken`).
    async fn create_user(&self, user: &UserRecord) -> Result<(), StoreError>;
    async fn get_user(&self, username: &str) -> Result<Option<UserRecord>, StoreError>;
    /// The users that exist among `usernames`, in no particular order.
    async fn get_users(&self, usernames: &[String]) -> Result<Vec<UserRecord>, StoreError>;
    async fn username_for_email(&self, email: &str) -> Result<Option<String>, StoreError>;
    /// Applies the update to `current` (as just read); an email change moves the email claim in the
    /// same step. `Conflict::Missing` when the stored email is no longer `current`'s.
    async fn update_user(
        &self,
        current: &UserRecord,
        update: &UserUpdate,
    ) -> Result<UserRecord, StoreError>;
    /// Users whose name starts with `prefix`, in name order, after `after`.
    async fn list_users(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<UserRecord>, StoreError>;
}

/// Sessions: refresh-token families, rotation and revocation.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Opens a session family with its first refresh token.
    async fn create_session(&self, token: &RefreshTokenRecord, now: i64) -> Result<(), StoreError>;
    async fn get_refresh_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<RefreshTokenRecord>, StoreError>;
    /// Marks `old` used and stores `new` in the same family, in one step, only if `old` is still
    /// unused and unexpired (`Conflict::TokenAlreadyUsed`) and the family is still open
    /// (`Conflict::SessionRevoked`).
    async fn rotate_refresh_token(
        &self,
        old: &RefreshTokenRecord,
        new: &RefreshTokenRecord,
        now: i64,
    ) -> Result<(), StoreError>;
    async fn revoke_session(&self, username: &str, family_id: &str) -> Result<(), StoreError>;
    /// Revokes every session of the user but `keep`.
    async fn revoke_sessions(&self, username: &str, keep: Option<&str>) -> Result<(), StoreError>;
}

/// Login throttling.
#[async_trait]
pub trait ThrottleStore: Send + Sync {
    async fn login_failures(&self, key: &str) -> Result<Option<LoginFailures>, StoreError>;
    /// Counts a failure: in the current window if it started after `window_start_min`, else in a
    /// new window starting `now`.
    async fn record_login_failure(
        &self,
        key: &str,
        now: i64,
        window_start_min: i64,
    ) -> Result<LoginFailures, StoreError>;
    async fn clear_login_failures(&self, key: &str) -> Result<(), StoreError>;
}

/// Contact lists.
#[async_trait]
pub trait ContactStore: Send + Sync {
    /// `Conflict::AlreadyContact` when it is one already.
    async fn add_contact(&self, owner: &str, contact: &str, now: i64) -> Result<(), StoreError>;
    /// Whether it was a contact.
    async fn remove_contact(&self, owner: &str, contact: &str) -> Result<bool, StoreError>;
    /// Contact usernames in name order, after `after`.
    async fn list_contacts(
        &self,
        owner: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<String>, StoreError>;
}

/// Everything, for the functions' shared context.
pub trait Store: UserStore + SessionStore + ThrottleStore + ContactStore {}
impl<T: UserStore + SessionStore + ThrottleStore + ContactStore> Store for T {}
