//! Accounts: register, log in, refresh (rotation with reuse detection), log out, verify.

use serde::{Deserialize, Serialize};

use crate::auth::{self, Claims};
use crate::clients::{Pushes, Signs, With};
use crate::error::{ApiError, Conflict, StoreError};
use crate::model::{validate_date, validate_password, validate_text, Email, UserRecord, UserView, Username, NAME_MAX};
use crate::presence::{self, Revoked};
use crate::store::RefreshTokenRecord;
use crate::Ctx;

/// Password attempts per (username, source address) in a window, counted before each is
/// evaluated; a success starts the count over. Throttling per pair, never per username alone, so
/// nobody can lock an owner out from elsewhere.
pub const LOGIN_ATTEMPT_LIMIT: u32 = 5;
/// Failed password attempts per source address across usernames in a window: spraying one
/// password over many accounts.
pub const SOURCE_FAILURE_LIMIT: u32 = 100;
pub const LOGIN_WINDOW_MS: i64 = 15 * 60 * 1000;

#[derive(Debug, Deserialize)]
pub struct RegisterRequest {
    pub username: String,
    pub password: String,
    pub fullname: Option<String>,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub role: Option<String>,
    pub date_of_birth: Option<String>,
}

/// `username` may hold a username or an email address; `email` is accepted too.
#[derive(Debug, Deserialize)]
pub struct LoginRequest {
    pub username: Option<String>,
    pub email: Option<String>,
    pub password: String,
}

#[derive(Debug, Deserialize)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct LogoutRequest {
    pub refresh_token: Option<String>,
    #[serde(default)]
    pub all: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: String,
    pub expires_in: i64,
    pub refresh_token: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<UserView>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct VerifyResponse {
    pub username: String,
    /// Epoch milliseconds.
    pub expires_at: i64,
}

fn optional_text(field: &str, value: Option<String>) -> Result<Option<String>, ApiError> {
    match value {
        Some(v) => {
            validate_text(field, &v, NAME_MAX)?;
            Ok(Some(v))
        }
        None => Ok(None),
    }
}

/// Argon2 is deliberately slow: keep it off the async workers.
async fn hash_password(password: String) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || auth::hash_password(&password)).await.map_err(ApiError::internal)?
}

async fn password_matches(password: String, hash: Option<String>) -> Result<bool, ApiError> {
    tokio::task::spawn_blocking(move || match hash {
        Some(hash) => auth::verify_password(&password, &hash),
        None => {
            auth::verify_against_dummy(&password);
            false
        }
    })
    .await
    .map_err(ApiError::internal)
}

pub async fn register(ctx: &With<impl Signs>, req: RegisterRequest) -> Result<TokenResponse, ApiError> {
    let username = Username::parse(&req.username)?;
    validate_password("password", &req.password)?;
    let email = req.email.as_deref().map(Email::parse).transpose()?;
    let fullname = optional_text("fullname", req.fullname)?.unwrap_or_else(|| username.to_string());
    if let Some(dob) = &req.date_of_birth {
        validate_date("date_of_birth", dob)?;
    }
    let user = UserRecord {
        username: username.into_string(),
        password_hash: hash_password(req.password).await?,
        fullname,
        email: email.map(Email::into_string),
        first_name: optional_text("first_name", req.first_name)?,
        last_name: optional_text("last_name", req.last_name)?,
        role: optional_text("role", req.role)?,
        date_of_birth: req.date_of_birth,
        avatar_file_id: None,
        created_at: ctx.now_ms(),
        last_online: None,
        connections: Default::default(),
        blocks: Default::default(),
    };
    ctx.store.create_user(&user).await?;
    let mut tokens = open_session(ctx, &user.username).await?;
    tokens.user = Some(user.private_view(ctx.now_ms()));
    Ok(tokens)
}

/// `source`: the client's address (API Gateway's `sourceIp`), for the throttle.
pub async fn login(ctx: &With<impl Signs>, req: LoginRequest, source: &str) -> Result<TokenResponse, ApiError> {
    let identifier = req.username.or(req.email).ok_or_else(|| ApiError::invalid("username or email is required"))?;
    if identifier.trim().is_empty() || identifier.chars().count() > 254 {
        return Err(ApiError::invalid("username or email is required"));
    }
    if req.password.chars().count() > 1024 {
        return Err(ApiError::invalid("password must be 8-256 characters"));
    }
    // Resolve the account; an unknown one still costs a password check and counts attempts.
    let username = if identifier.contains('@') {
        match Email::parse(&identifier) {
            Ok(email) => ctx.store.username_for_email(email.as_str()).await?,
            Err(_) => None,
        }
    } else {
        Username::parse(&identifier).ok().map(Username::into_string)
    };
    let throttle_key = username.clone().unwrap_or_else(|| identifier.trim().to_lowercase());
    let user = match &username {
        Some(name) => ctx.store.get_user(name).await?,
        None => None,
    };
    let hash = user.as_ref().map(|u| u.password_hash.clone());
    let invalid = || ApiError::Unauthorized { code: "invalid_credentials", detail: "invalid username or password" };
    if !guarded_password_check(ctx, &throttle_key, source, req.password, hash).await? {
        return Err(invalid());
    }
    let Some(user) = user else {
        return Err(invalid());
    };
    let mut tokens = open_session(ctx, &user.username).await?;
    tokens.user = Some(user.private_view(ctx.now_ms()));
    Ok(tokens)
}

pub async fn refresh(ctx: &With<impl Signs + Pushes>, req: RefreshRequest) -> Result<TokenResponse, ApiError> {
    let invalid =
        || ApiError::Unauthorized { code: "invalid_refresh_token", detail: "refresh token is invalid or expired" };
    if req.refresh_token.is_empty() || req.refresh_token.len() > 512 {
        return Err(invalid());
    }
    let now = ctx.now_ms();
    let Some(old) = ctx.store.get_refresh_token(&auth::hash_refresh_token(&req.refresh_token)).await? else {
        return Err(invalid());
    };
    if old.used_at.is_some() {
        // A rotated token came back: someone holds a copy. End the whole session.
        tracing::warn!(username = %old.username, "refresh token reuse; revoking its session");
        revoke(ctx, &old.username, &old.family_id).await?;
        return Err(invalid());
    }
    if old.expires_at <= now {
        return Err(invalid());
    }
    let token = auth::new_refresh_token();
    let new = RefreshTokenRecord {
        token_hash: auth::hash_refresh_token(&token),
        username: old.username.clone(),
        family_id: old.family_id.clone(),
        expires_at: now + auth::REFRESH_TOKEN_TTL_MS,
        used_at: None,
    };
    match ctx.store.rotate_refresh_token(&old, &new, now).await {
        Ok(()) => {}
        Err(StoreError::Conflict(Conflict::TokenAlreadyUsed)) => {
            // Lost a race with another use of the same token: that is reuse too.
            revoke(ctx, &old.username, &old.family_id).await?;
            return Err(invalid());
        }
        Err(StoreError::Conflict(Conflict::SessionRevoked)) => return Err(invalid()),
        Err(e) => return Err(e.into()),
    }
    Ok(TokenResponse {
        access_token: ctx.signer().issue(&old.username, &old.family_id, now)?,
        token_type: "Bearer".into(),
        expires_in: auth::ACCESS_TOKEN_TTL_SECS,
        refresh_token: token,
        user: None,
    })
}

/// Revokes the named refresh token's session, or with `all` every session of the caller, or else
/// the session the access token belongs to; the revoked sessions' sockets are closed.
pub async fn logout(ctx: &With<impl Pushes>, caller: &Claims, req: LogoutRequest) -> Result<(), ApiError> {
    if req.all {
        return revoke_all_but(ctx, &caller.sub, None).await;
    }
    if let Some(token) = req.refresh_token {
        if let Some(record) = ctx.store.get_refresh_token(&auth::hash_refresh_token(&token)).await? {
            if record.username == caller.sub {
                revoke(ctx, &caller.sub, &record.family_id).await?;
            }
        }
        return Ok(());
    }
    if let Some(sid) = &caller.sid {
        revoke(ctx, &caller.sub, sid).await?;
    }
    Ok(())
}

/// Revokes one session and closes its sockets.
async fn revoke(ctx: &With<impl Pushes>, username: &str, family_id: &str) -> Result<(), ApiError> {
    ctx.store.revoke_session(username, family_id).await?;
    presence::close_sessions(ctx, username, Revoked::Only(family_id)).await
}

/// Revokes every session of the user but `keep` (a password change keeps the caller's), and
/// closes their sockets.
pub async fn revoke_all_but(ctx: &With<impl Pushes>, username: &str, keep: Option<&str>) -> Result<(), ApiError> {
    ctx.store.revoke_sessions(username, keep).await?;
    presence::close_sessions(ctx, username, Revoked::AllBut(keep)).await
}

pub fn verify(caller: &Claims) -> VerifyResponse {
    VerifyResponse { username: caller.sub.clone(), expires_at: caller.exp * 1000 }
}

/// A new session family: its first refresh token and an access token bound to it.
pub async fn open_session(ctx: &With<impl Signs>, username: &str) -> Result<TokenResponse, ApiError> {
    tracing::Span::current().record("user", username);
    let now = ctx.now_ms();
    let family_id = ulid::Ulid::new().to_string();
    let token = auth::new_refresh_token();
    let record = RefreshTokenRecord {
        token_hash: auth::hash_refresh_token(&token),
        username: username.to_owned(),
        family_id: family_id.clone(),
        expires_at: now + auth::REFRESH_TOKEN_TTL_MS,
        used_at: None,
    };
    ctx.store.create_session(&record, now).await?;
    Ok(TokenResponse {
        access_token: ctx.signer().issue(username, &family_id, now)?,
        token_type: "Bearer".into(),
        expires_in: auth::ACCESS_TOKEN_TTL_SECS,
        refresh_token: token,
        user: None,
    })
}

/// Used by the password change: the hash of a new password, after checking the current one under
/// the login throttle (the same counters: guessing here is guessing a login).
pub async fn change_password(
    ctx: &Ctx,
    user: &UserRecord,
    current: String,
    new: String,
    source: &str,
) -> Result<String, ApiError> {
    validate_password("new_password", &new)?;
    if current.len() > 1024
        || !guarded_password_check(ctx, &user.username, source, current, Some(user.password_hash.clone())).await?
    {
        return Err(ApiError::forbidden("current password is wrong"));
    }
    hash_password(new).await
}

/// Checks a password (against a dummy hash when the account is unknown) after counting the attempt:
/// per (`key`, `source`) and per `source`, each in one conditional write that refuses past its
/// limit (429 with `Retry-After`), so parallel guesses cannot all pass a check made before any of
/// them was counted. A success clears the pair's count and gives the source's attempt back, so
/// only failures add up per source.
async fn guarded_password_check(
    ctx: &Ctx,
    key: &str,
    source: &str,
    password: String,
    hash: Option<String>,
) -> Result<bool, ApiError> {
    use crate::store::Attempt;
    let now = ctx.now_ms();
    let window_start_min = now - LOGIN_WINDOW_MS;
    let refused = |window_start: i64| ApiError::TooManyRequests {
        retry_after_secs: crate::clock::seconds_until(window_start + LOGIN_WINDOW_MS, now),
    };
    let from_source = format!("source#{source}");
    let pair = format!("password#{key}#{source}");
    let source_window = match ctx.store.take_attempt(&from_source, SOURCE_FAILURE_LIMIT, now, window_start_min).await? {
        Attempt::Taken(a) => a.window_start,
        Attempt::Refused(a) => return Err(refused(a.window_start)),
    };
    match ctx.store.take_attempt(&pair, LOGIN_ATTEMPT_LIMIT, now, window_start_min).await? {
        Attempt::Taken(_) => {}
        Attempt::Refused(a) => {
            ctx.store.refund_attempt(&from_source, source_window).await?;
            return Err(refused(a.window_start));
        }
    }
    let matches = password_matches(password, hash).await?;
    if matches {
        ctx.store.clear_attempts(&pair).await?;
        ctx.store.refund_attempt(&from_source, source_window).await?;
    }
    Ok(matches)
}
