//! The error types: `ApiError` (what a use case fails with, as the client will be told: its kind,
//! stable code and detail, and nothing of HTTP; the HTTP edge maps it to a status and an RFC 9457
//! problem, `http::status` and `http::problem`, and the WebSocket edge to its error envelope,
//! `ws::envelope_error`),
//! `StoreError` (what a store adapter fails with, mapped to `ApiError` once, below), the domain
//! validators' `model::Invalid` (mapped to 400 here too) and
//! `ConfigError` (cold start). Internal detail is logged, never sent: a failure keeps its cause
//! as its `source`, and logs print the whole chain with [`Chain`].

/// The cause a failure carries: an SDK error, a parse failure, or a sentence.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// An error and every cause under it, `: `-separated, for logs (`error = %Chain(&e)`).
pub struct Chain<'a>(pub &'a (dyn std::error::Error + 'static));

impl std::fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut cause = self.0.source();
        while let Some(err) = cause {
            write!(f, ": {err}")?;
            cause = err.source();
        }
        Ok(())
    }
}

/// Everything a use case can fail with, as the client will be told (the HTTP status each kind
/// becomes is `http::status`'s business).
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Malformed JSON, missing or invalid fields.
    #[error("{detail}")]
    BadRequest { code: &'static str, detail: String },
    /// Missing, invalid or expired credentials.
    #[error("{detail}")]
    Unauthorized { code: &'static str, detail: &'static str },
    /// Authenticated, but not allowed.
    #[error("{detail}")]
    Forbidden { code: &'static str, detail: &'static str },
    /// Unknown, or not visible to the caller.
    #[error("{0}")]
    NotFound(&'static str),
    /// Conflicts with what is stored.
    #[error("{detail}")]
    Conflict { code: &'static str, detail: &'static str },
    /// What the request names is no longer kept (a sync cursor older than the retention).
    #[error("{detail}")]
    Gone { code: &'static str, detail: &'static str },
    /// A request body or frame too large.
    #[error("request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    /// Too many attempts; retry after the given seconds.
    #[error("too many failed attempts; retry later")]
    TooManyRequests { retry_after_secs: u64 },
    /// The user's send or typing limit; retry after the given seconds.
    #[error("too many messages; retry later")]
    RateLimited { retry_after_secs: u64 },
    /// A dependency is throttled or down.
    #[error("service temporarily unavailable")]
    Unavailable { retry_after_secs: u64 },
    /// A bug or an unexpected dependency answer. The source is logged, never sent.
    #[error("internal error")]
    Internal(#[source] BoxError),
}

impl ApiError {
    pub fn invalid(detail: impl Into<String>) -> Self {
        Self::BadRequest { code: "invalid_request", detail: detail.into() }
    }

    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self::BadRequest { code, detail: detail.into() }
    }

    /// 403 `forbidden`.
    pub fn forbidden(detail: &'static str) -> Self {
        Self::Forbidden { code: "forbidden", detail }
    }

    /// 403 `blocked`: the user this would reach blocks the caller (who is told nothing more).
    pub fn blocked() -> Self {
        Self::Forbidden { code: "blocked", detail: "not allowed by this user" }
    }

    pub fn unauthorized(detail: &'static str) -> Self {
        Self::Unauthorized { code: "unauthorized", detail }
    }

    pub fn internal(source: impl Into<BoxError>) -> Self {
        Self::Internal(source.into())
    }

    /// Logs an internal error's cause chain (every edge calls this where the error becomes an
    /// answer, so the cause is logged once and never sent).
    pub fn log_if_internal(&self) {
        if let Self::Internal(source) = self {
            tracing::error!(error = %Chain(source.as_ref()), "internal error");
        }
    }

    /// The stable machine-readable code clients switch on.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest { code, .. }
            | Self::Unauthorized { code, .. }
            | Self::Forbidden { code, .. }
            | Self::Conflict { code, .. }
            | Self::Gone { code, .. } => code,
            Self::NotFound(_) => "not_found",
            Self::PayloadTooLarge(_) => "payload_too_large",
            Self::TooManyRequests { .. } => "too_many_requests",
            Self::RateLimited { .. } => "rate_limited",
            Self::Unavailable { .. } => "unavailable",
            Self::Internal(_) => "internal_error",
        }
    }

    /// Seconds for a `Retry-After` header, where one belongs.
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            Self::TooManyRequests { retry_after_secs }
            | Self::RateLimited { retry_after_secs }
            | Self::Unavailable { retry_after_secs } => Some(*retry_after_secs),
            _ => None,
        }
    }
}

impl From<crate::model::Invalid> for ApiError {
    fn from(err: crate::model::Invalid) -> Self {
        Self::invalid(err.to_string())
    }
}

/// What a store adapter can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness or existence condition failed; the name says which.
    #[error("conflict: {0:?}")]
    Conflict(Conflict),
    /// Throttled or unreachable: the caller may retry.
    #[error("store unavailable")]
    Unavailable(#[source] BoxError),
    /// Anything else: a bug, or an item that does not parse.
    #[error("store error")]
    Internal(#[source] BoxError),
}

impl StoreError {
    pub fn unavailable(cause: impl Into<BoxError>) -> Self {
        Self::Unavailable(cause.into())
    }

    pub fn internal(cause: impl Into<BoxError>) -> Self {
        Self::Internal(cause.into())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conflict {
    UsernameTaken,
    EmailTaken,
    AlreadyContact,
    /// The refresh token was used already (or expired) while we were rotating it.
    TokenAlreadyUsed,
    /// The session family was revoked.
    SessionRevoked,
    /// The item changed or vanished under us.
    Missing,
    /// Not a member of the conversation (or it does not exist).
    NotMember,
    /// The pair already has a direct conversation.
    DirectExists,
    /// The sender already used this `client_id` in the conversation.
    DuplicateClientId,
    /// Already a member.
    AlreadyMember,
    /// The conversation would exceed its member limit, `max`.
    Full {
        max: usize,
    },
    /// A message id was filled (with a void) before its send stored it: the send took too long.
    IdTaken,
    /// The message was deleted (its tombstone is final).
    Deleted,
    /// The sender's limit for this window is reached.
    RateLimited,
    /// The user this would reach blocks the caller.
    Blocked,
    /// Already blocked.
    AlreadyBlocked,
    /// A count this would raise is at its limit (which one, the caller knows).
    TooMany,
    /// It is so already (a reaction added twice, a message pinned twice): nothing changed.
    Unchanged,
    /// What the write was conditioned on changed since it was read: read again and retry.
    Stale,
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Conflict(Conflict::UsernameTaken) => {
                Self::Conflict { code: "username_taken", detail: "username already taken" }
            }
            StoreError::Conflict(Conflict::EmailTaken) => {
                Self::Conflict { code: "email_taken", detail: "email already in use" }
            }
            StoreError::Conflict(Conflict::AlreadyContact) => {
                Self::Conflict { code: "already_contact", detail: "already a contact" }
            }
            StoreError::Conflict(Conflict::TokenAlreadyUsed | Conflict::SessionRevoked) => {
                Self::Unauthorized { code: "invalid_refresh_token", detail: "refresh token is invalid or expired" }
            }
            StoreError::Conflict(Conflict::Missing | Conflict::IdTaken | Conflict::Stale) => {
                Self::Unavailable { retry_after_secs: 1 }
            }
            StoreError::Conflict(Conflict::Unchanged) => Self::Conflict { code: "unchanged", detail: "no change" },
            StoreError::Conflict(Conflict::NotMember) => Self::NotFound("conversation not found"),
            StoreError::Conflict(Conflict::RateLimited) => Self::RateLimited { retry_after_secs: 1 },
            StoreError::Conflict(Conflict::Deleted) => {
                Self::Conflict { code: "message_deleted", detail: "the message was deleted" }
            }
            StoreError::Conflict(Conflict::Blocked) => Self::blocked(),
            StoreError::Conflict(Conflict::AlreadyBlocked) => {
                Self::Conflict { code: "already_blocked", detail: "already blocked" }
            }
            StoreError::Conflict(Conflict::TooMany) => Self::Conflict { code: "too_many", detail: "too many" },
            StoreError::Conflict(Conflict::AlreadyMember) => {
                Self::Conflict { code: "already_member", detail: "already a member" }
            }
            StoreError::Conflict(Conflict::Full { max }) => {
                Self::invalid(format!("a conversation holds at most {max} members"))
            }
            StoreError::Conflict(Conflict::DirectExists | Conflict::DuplicateClientId) => {
                Self::Conflict { code: "conflict", detail: "conflicting change; retry" }
            }
            err @ StoreError::Unavailable(_) => {
                tracing::warn!(error = %Chain(&err), "store unavailable");
                Self::Unavailable { retry_after_secs: 1 }
            }
            err @ StoreError::Internal(_) => Self::internal(err),
        }
    }
}

/// Bad configuration at cold start.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("missing environment variable {0}")]
    Missing(&'static str),
    #[error("token key material must be at least {0} bytes")]
    WeakSecret(usize),
    #[error("token keys: {0}")]
    BadKey(&'static str),
    #[error("reading the signing key from Secrets Manager")]
    SigningKeyUnavailable(#[source] BoxError),
    #[error("environment variable {0} must be a positive whole number")]
    Invalid(&'static str),
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Shaped like the SDK's: a generic error whose cause names the service's complaint.
    #[derive(Debug, thiserror::Error)]
    #[error("service error")]
    struct Sdk(#[source] Service);

    #[derive(Debug, thiserror::Error)]
    #[error("ValidationException: the provided key element does not match the schema")]
    struct Service;

    #[test]
    fn a_failure_keeps_its_cause_for_the_log_and_not_for_the_client() {
        let err = ApiError::from(StoreError::internal(Sdk(Service)));
        assert_eq!(
            Chain(&err).to_string(),
            "internal error: store error: service error: \
             ValidationException: the provided key element does not match the schema"
        );
        // What a client sees: the detail and the code, never the cause.
        assert_eq!((err.to_string(), err.code()), ("internal error".to_owned(), "internal_error"));

        let busy = StoreError::unavailable(Sdk(Service));
        assert_eq!(Chain(&busy).to_string().matches(": ").count(), 3);
        assert!(matches!(ApiError::from(busy), ApiError::Unavailable { retry_after_secs: 1 }));
    }
}
