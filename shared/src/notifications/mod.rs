//! Offline clients: the devices that take push notifications, and each member's notification
//! settings per conversation. One function per use case on a [`Ctx`], as the other areas.
//!
//! - [`devices`]: installations and their push tokens, bound to the session that registered them.
//! - [`settings`]: notification levels and mutes, and what the default means by room size.
//! - [`decision`]: who hears of what, and why a device stays silent; [`alert`]: what it is sent.
//! - [`deliver`]: the notify function's service, from changes to pushes, off the send path.
//! - [`provider`]: the push-provider port and its embedded adapter; [`sns`]: the SNS adapter.

pub mod alert;
pub mod decision;
pub mod deliver;
pub mod devices;
pub mod provider;
pub mod settings;
pub mod sns;

use serde::Deserialize;

use crate::auth::Claims;
use crate::clients::{RegistersDevices, With};
use crate::error::{ApiError, Conflict, StoreError};
use crate::ids::ConversationId;
use crate::notifications::provider::PublishError;
use crate::Ctx;
pub use devices::{Device, DeviceId, DeviceView, Platform};
pub use settings::{Level, Settings};

/// `PUT /devices/{device_id}`'s body.
#[derive(Debug, Deserialize)]
pub struct RegisterDevice {
    pub platform: String,
    pub token: String,
    pub app_version: Option<String>,
    pub locale: Option<String>,
}

/// `PUT /conversations/{id}/notifications`'s body: the whole setting (an absent `muted_until`
/// unmutes).
#[derive(Debug, Deserialize)]
pub struct SetSettings {
    pub level: String,
    /// A JSON Schema integer: `1700000000000.0` too.
    #[serde(default, deserialize_with = "crate::ids::optional_whole_number")]
    pub muted_until: Option<i64>,
}

/// Further tries when a concurrent registration changed the user's devices or the token's owner
/// between the read and the write.
const REGISTER_TRIES: usize = 3;

fn session(caller: &Claims) -> Result<&str, ApiError> {
    caller.sid.as_deref().ok_or(ApiError::unauthorized("the access token names no session"))
}

/// Registers or refreshes the caller's device `device_id` for the caller's session: the token
/// moves here from any other device or user that had it; a 21st device drops the least recently
/// registered. 401 if the session ended meanwhile. The push provider gets the device ready (an
/// SNS platform endpoint) when it is new, its token changed, or the platform had rejected it.
pub async fn register(
    ctx: &With<impl RegistersDevices>,
    caller: &Claims,
    device_id: &str,
    req: RegisterDevice,
) -> Result<DeviceView, ApiError> {
    let device_id = DeviceId::parse(device_id)?;
    let platform = Platform::parse(&req.platform)
        .ok_or_else(|| ApiError::invalid("platform must be one of apns, apns_sandbox, fcm"))?;
    devices::validate_token(&req.token)?;
    for (field, value) in [("app_version", &req.app_version), ("locale", &req.locale)] {
        if let Some(value) = value {
            devices::validate_label(field, value)?;
        }
    }
    let username = caller.sub.as_str();
    let sid = session(caller)?;
    let revoked = || ApiError::unauthorized("the session has ended");
    let expires_at = ctx.store.session_expiry(username, sid).await?.ok_or_else(revoked)?;
    if expires_at <= ctx.now_ms() {
        return Err(revoked());
    }
    let mut tries = 0;
    loop {
        let now = ctx.now_ms();
        let mine = ctx.store.devices(username).await?;
        let previous = mine.iter().find(|d| d.device_id == device_id);
        let same_token = previous.filter(|p| p.token == req.token && p.platform == platform);
        let mut device = Device {
            username: username.to_owned(),
            device_id: device_id.clone(),
            session: sid.to_owned(),
            platform,
            token: req.token.clone(),
            app_version: req.app_version.clone(),
            locale: req.locale.clone(),
            enabled: true,
            created_at: previous.map_or(now, |p| p.created_at),
            updated_at: now,
            expires_at,
            endpoint: same_token.filter(|p| p.enabled).and_then(|p| p.endpoint.clone()),
        };
        if device.endpoint.is_none() {
            device.endpoint = ctx.push_provider().register(&device).await.map_err(|e| match e {
                PublishError::Unsupported => {
                    ApiError::bad_request("platform_unavailable", "this deployment takes no devices of that platform")
                }
                other => {
                    tracing::warn!(error = %crate::error::Chain(&other), "the push provider did not take the device");
                    ApiError::Unavailable { retry_after_secs: 1 }
                }
            })?;
        }
        let evict = devices::evicted(&mine, &device_id);
        match ctx.store.put_device(&device, previous, evict).await {
            Ok(()) => return Ok(device.view()),
            Err(StoreError::Conflict(Conflict::SessionRevoked)) => return Err(revoked()),
            Err(StoreError::Conflict(Conflict::Missing)) if tries + 1 < REGISTER_TRIES => tries += 1,
            Err(e) => return Err(e.into()),
        }
    }
}

/// The caller's devices, most recently registered first.
pub async fn list(ctx: &Ctx, caller: &str) -> Result<Vec<DeviceView>, ApiError> {
    let mut devices = ctx.store.devices(caller).await?;
    let now = ctx.now_ms();
    devices.retain(|d| d.expires_at > now);
    devices.sort_by(|a, b| (b.updated_at, &b.device_id).cmp(&(a.updated_at, &a.device_id)));
    Ok(devices.iter().map(Device::view).collect())
}

/// Stops pushing to one of the caller's devices; 404 if there is no such device.
pub async fn remove(ctx: &Ctx, caller: &str, device_id: &str) -> Result<(), ApiError> {
    let not_found = || ApiError::NotFound("device not found");
    let device_id = DeviceId::parse(device_id).map_err(|_| not_found())?;
    if ctx.store.delete_device(caller, &device_id).await? {
        Ok(())
    } else {
        Err(not_found())
    }
}

/// Sets the caller's notification settings for a conversation they are a member of (404
/// otherwise).
pub async fn set(ctx: &Ctx, caller: &str, id: &ConversationId, req: SetSettings) -> Result<Settings, ApiError> {
    let level = Level::parse(&req.level)
        .ok_or_else(|| ApiError::invalid("level must be one of default, all, mentions, none"))?;
    if req.muted_until.is_some_and(|at| at < 0) {
        return Err(ApiError::invalid("muted_until must be epoch milliseconds or null"));
    }
    let settings = Settings { level, muted_until: req.muted_until };
    ctx.store.set_notifications(caller, id, &settings).await?;
    Ok(settings)
}
