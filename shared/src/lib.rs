//! Chathub's domain crate: the rules, the ports they need, the adapters behind those ports, and the
//! API Gateway edges every function shares.
//!
//! - Domain: [`model`] (validated types), [`auth`] (passwords, access and refresh tokens),
//!   [`keys`] (the Ed25519 keys that sign and verify access tokens).
//! - Services: [`accounts`], [`users`], [`contacts`]: one function per use case, on a [`Ctx`].
//! - Ports and adapters: [`store`] (the `Store` trait, embedded and DynamoDB adapters), [`clock`].
//! - Edges: [`http`] (API Gateway HTTP API events in, responses and RFC 9457 problems out), [`error`].

pub mod accounts;
pub mod auth;
pub mod aws;
pub mod blobs;
pub mod chat;
pub mod clock;
pub mod config;
pub mod contacts;
pub mod context;
pub mod conversations;
pub mod error;
pub mod files;
pub mod http;
pub mod keys;
pub mod messages;
pub mod model;
pub mod notify;
pub mod presence;
pub mod push;
pub mod store;
pub mod telemetry;
pub mod users;
pub mod ws;

pub use context::{Clients, Ctx};
pub use error::ApiError;
