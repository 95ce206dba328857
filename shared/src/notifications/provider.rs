//! The push-provider port: publish a notification to a device, and get a device ready to be
//! published to. Its adapters: Amazon SNS mobile push ([`super::sns`]) on AWS, and [`Recorder`],
//! which keeps what it would have published (the local gateway's `GET /_local/pushes`, tests).
//! A direct APNs or FCM adapter would be a third.

use std::collections::HashSet;
use std::sync::Mutex;

use async_trait::async_trait;
use serde::Serialize;

use crate::ids::{ConversationId, MessageId};
use crate::notifications::alert::{Delivery, Notification};
use crate::notifications::decision::Reason;
use crate::notifications::devices::{Device, Platform};

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The platform no longer takes this token (APNs Unregistered, FCM UNREGISTERED; an SNS
    /// endpoint disabled): the device is disabled.
    #[error("the platform rejected the device's token")]
    Rejected,
    /// Throttled: try again later, never drop.
    #[error("throttled")]
    Throttled(#[source] crate::error::BoxError),
    /// The deployment takes no devices of this platform (no platform application for it).
    #[error("no push for this platform here")]
    Unsupported,
    /// Anything else (a bad payload, a provider fault).
    #[error("publish failed")]
    Failed(#[source] crate::error::BoxError),
}

#[async_trait]
pub trait PushProvider: Send + Sync {
    /// Gets a device ready to be published to and returns the provider's handle for it (an SNS
    /// platform endpoint's ARN), or `None` where the provider needs none. Called at registration.
    async fn register(&self, device: &Device) -> Result<Option<String>, PublishError>;
    /// Publishes one notification to one device.
    async fn publish(&self, device: &Device, notification: &Notification) -> Result<(), PublishError>;
    /// A decision not to push, for a local provider to show (`GET /_local/pushes`); AWS
    /// adapters leave it to the log line.
    fn skipped(&self, _skip: Skipped) {}
}

/// A decision not to push: who, which device (none where the member's devices were not read),
/// which message (none for other alerts), and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    pub username: String,
    pub device_id: Option<String>,
    pub conversation_id: ConversationId,
    pub message_id: Option<MessageId>,
    pub reason: Reason,
}

/// A publish as the local stand-in records it (`GET /_local/pushes`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Published {
    pub device_id: String,
    pub username: String,
    pub platform: Platform,
    pub token: String,
    pub kind: Delivery,
    pub title: Option<String>,
    pub body: Option<String>,
    pub badge: i64,
    pub conversation_id: Option<ConversationId>,
    pub message_id: Option<MessageId>,
    pub thread_id: Option<String>,
    pub sender_username: Option<String>,
    pub at: i64,
}

/// The embedded provider: keeps every publish and every decision not to push, and rejects the
/// tokens it was told to (as APNs and FCM do for an uninstalled app).
#[derive(Default)]
pub struct Recorder {
    state: Mutex<RecorderState>,
}

#[derive(Default)]
struct RecorderState {
    published: Vec<Published>,
    skipped: Vec<Skipped>,
    rejected: HashSet<String>,
}

impl Recorder {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, RecorderState> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// What was published, oldest first, to `username`'s devices (everyone's with `None`).
    pub fn published(&self, username: Option<&str>) -> Vec<Published> {
        let state = self.lock();
        state.published.iter().filter(|p| username.is_none_or(|u| p.username == u)).cloned().collect()
    }

    /// The decisions not to push, oldest first, about `username` (everyone with `None`).
    pub fn skipped_for(&self, username: Option<&str>) -> Vec<Skipped> {
        let state = self.lock();
        state.skipped.iter().filter(|s| username.is_none_or(|u| s.username == u)).cloned().collect()
    }

    /// From now on the platform rejects `token`.
    pub fn reject(&self, token: &str) {
        self.lock().rejected.insert(token.to_owned());
    }
}

#[async_trait]
impl PushProvider for Recorder {
    async fn register(&self, _device: &Device) -> Result<Option<String>, PublishError> {
        Ok(None)
    }

    async fn publish(&self, device: &Device, n: &Notification) -> Result<(), PublishError> {
        let mut state = self.lock();
        if state.rejected.contains(&device.token) {
            return Err(PublishError::Rejected);
        }
        state.published.push(Published {
            device_id: device.device_id.to_string(),
            username: device.username.clone(),
            platform: device.platform,
            token: device.token.clone(),
            kind: n.kind,
            title: n.title.clone(),
            body: n.body.clone(),
            badge: n.badge,
            conversation_id: n.conversation_id.clone(),
            message_id: n.message_id,
            thread_id: n.thread_id().map(str::to_owned),
            sender_username: n.sender_username.clone(),
            at: crate::clock::SystemClock.now_ms(),
        });
        Ok(())
    }

    fn skipped(&self, skip: Skipped) {
        self.lock().skipped.push(skip);
    }
}

use crate::clock::Clock as _;
