//! Chathub's domain crate: the rules, the ports they need, the adapters behind those ports, and the
//! API Gateway edges every function shares.
//!
//! - Domain: [`model`] (validated user and file types), [`ids`] (typed ids), [`chat`] (conversations, messages, read
//!   state), [`auth`] (passwords, token claims, refresh tokens), [`keys`] (the Ed25519 keys that
//!   sign and verify access tokens), [`paging`] (limits and cursors), [`error`].
//! - Services, one function per use case on a [`Ctx`]: [`accounts`], [`users`], [`contacts`],
//!   [`conversations`], [`messages`], [`files`], [`presence`], [`reactions`], [`pins`], [`blocks`], [`reports`]; pushes through [`fanout`] and, for
//!   messages, the push turn in [`push`].
//! - Ports and adapters: [`store`] (the `Store` trait, embedded and DynamoDB adapters),
//!   [`notify`] (WebSocket pushes), [`blobs`] (S3), [`clock`]; their wiring in [`context`],
//!   [`clients`] (the capabilities a route declares), [`config`] and [`aws`].
//! - Edges: [`http`] (API Gateway HTTP API events in, responses and RFC 9457 problems out), [`ws`]
//!   (WebSocket events, answer envelopes, the authorizer), [`telemetry`] (JSON logs).
//!
//! `tests/layers.rs` holds the module graph: no cycles, the domain never uses the edges.

pub mod accounts;
pub mod auth;
pub mod aws;
pub mod blobs;
pub mod blocks;
pub mod chat;
pub mod clients;
pub mod clock;
pub mod config;
pub mod contacts;
pub mod context;
pub mod conversations;
pub mod error;
pub mod fanout;
pub mod files;
pub mod http;
pub mod ids;
pub mod keys;
pub mod messages;
pub mod model;
pub mod notifications;
pub mod notify;
pub mod paging;
pub mod pins;
pub mod presence;
pub mod push;
pub mod reactions;
pub mod reports;
pub mod store;
pub mod sync;
pub mod telemetry;
pub mod users;
pub mod ws;

pub use clients::With;
pub use context::Ctx;
pub use error::ApiError;
pub use ids::{ConnectionId, ConversationId, FileId, MessageId};
