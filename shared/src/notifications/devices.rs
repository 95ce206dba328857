//! Devices: an app installation's push token, bound to the session that registered it.

use serde::{Deserialize, Serialize};

use crate::model::Invalid;

/// The most devices one user keeps: registering one more drops the least recently registered.
pub const DEVICES_MAX: usize = 20;
/// A push token's length, in characters (APNs tokens are 64 hex digits, FCM's about 160).
pub const TOKEN_MAX: usize = 4096;
/// An installation id's length.
pub const DEVICE_ID_MAX: usize = 64;
/// `app_version` and `locale`: short free text.
pub const LABEL_MAX: usize = 64;
/// How much of the token a device shows its owner.
const SUFFIX_LEN: usize = 8;

/// The app's own installation id: 1–64 of `A-Za-z0-9_-`, unique per user.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct DeviceId(String);

impl DeviceId {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let ok = (1..=DEVICE_ID_MAX).contains(&raw.len())
            && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !ok {
            return Err(Invalid::new("device_id must be 1-64 characters of A-Z, a-z, 0-9, '_', '-'"));
        }
        Ok(Self(raw.to_owned()))
    }

    /// An id that was validated before it was stored.
    pub fn from_trusted(stored: String) -> Self {
        Self(stored)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for DeviceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The push service a device is reached through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Platform {
    /// Apple's production APNs.
    Apns,
    /// Apple's sandbox APNs (development builds).
    ApnsSandbox,
    /// Firebase Cloud Messaging (Android, and web through FCM).
    Fcm,
}

impl Platform {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Apns => "apns",
            Self::ApnsSandbox => "apns_sandbox",
            Self::Fcm => "fcm",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "apns" => Some(Self::Apns),
            "apns_sandbox" => Some(Self::ApnsSandbox),
            "fcm" => Some(Self::Fcm),
            _ => None,
        }
    }
}

/// A push token: 1–4096 printable ASCII characters without spaces (APNs tokens are hex, FCM's
/// base64url with `:`), so nothing that would break a provider's request gets stored.
pub fn validate_token(token: &str) -> Result<(), Invalid> {
    let ok = (1..=TOKEN_MAX).contains(&token.len()) && token.bytes().all(|b| b.is_ascii_graphic());
    if ok {
        Ok(())
    } else {
        Err(Invalid::new("token must be 1-4096 printable characters without spaces"))
    }
}

/// `app_version` and `locale`: at most 64 characters, no control characters.
pub fn validate_label(field: &str, value: &str) -> Result<(), Invalid> {
    if value.chars().count() > LABEL_MAX || value.chars().any(char::is_control) {
        return Err(Invalid::new(format!("{field} must be at most {LABEL_MAX} characters without control characters")));
    }
    Ok(())
}

/// A registered device as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Device {
    pub username: String,
    pub device_id: DeviceId,
    /// The session (refresh-token family) that registered it: its end removes the device.
    pub session: String,
    pub platform: Platform,
    pub token: String,
    pub app_version: Option<String>,
    pub locale: Option<String>,
    /// False once the platform rejected the token; registering again enables it.
    pub enabled: bool,
    pub created_at: i64,
    pub updated_at: i64,
    /// When its session expires (the device goes with it).
    pub expires_at: i64,
    /// The push provider's handle for it (an SNS platform endpoint's ARN), once it has one.
    pub endpoint: Option<String>,
}

/// A device as its owner sees it: never the whole token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DeviceView {
    pub device_id: String,
    pub platform: Platform,
    pub token_suffix: String,
    pub app_version: Option<String>,
    pub locale: Option<String>,
    pub enabled: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Device {
    pub fn view(&self) -> DeviceView {
        let chars: Vec<char> = self.token.chars().collect();
        let suffix: String = chars[chars.len().saturating_sub(SUFFIX_LEN)..].iter().collect();
        DeviceView {
            device_id: self.device_id.to_string(),
            platform: self.platform,
            token_suffix: suffix,
            app_version: self.app_version.clone(),
            locale: self.locale.clone(),
            enabled: self.enabled,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }

    /// Whether it can still be pushed to at `now`: enabled, and its session not expired.
    pub fn live(&self, now: i64) -> bool {
        self.enabled && self.expires_at > now
    }
}

/// Which of `devices` (a user's, as read) makes room for one more: the least recently
/// registered, when the user already has [`DEVICES_MAX`] other than `registering`.
pub fn evicted<'a>(devices: &'a [Device], registering: &DeviceId) -> Option<&'a Device> {
    let others: Vec<&Device> = devices.iter().filter(|d| &d.device_id != registering).collect();
    if others.len() < DEVICES_MAX {
        return None;
    }
    others.into_iter().min_by(|a, b| (a.updated_at, &a.device_id).cmp(&(b.updated_at, &b.device_id)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(id: &str, updated_at: i64) -> Device {
        Device {
            username: "ann".into(),
            device_id: DeviceId::parse(id).unwrap(),
            session: "s".into(),
            platform: Platform::Fcm,
            token: format!("token-{id}"),
            app_version: None,
            locale: None,
            enabled: true,
            created_at: 0,
            updated_at,
            expires_at: i64::MAX,
            endpoint: None,
        }
    }

    #[test]
    fn device_ids_are_short_safe_names() {
        assert!(DeviceId::parse("iPhone_15-pro").is_ok());
        assert!(DeviceId::parse(&"a".repeat(64)).is_ok());
        for bad in ["", &"a".repeat(65), "a b", "a/b", "é", "a.b"] {
            assert!(DeviceId::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn tokens_are_printable_and_bounded() {
        assert!(validate_token("a1b2:APA91b-_x").is_ok());
        assert!(validate_token(&"f".repeat(4096)).is_ok());
        for bad in ["", " ", "ab cd", "ab\ncd", &"f".repeat(4097), "é"] {
            assert!(validate_token(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_device_shows_only_the_end_of_its_token() {
        let mut d = device("phone", 1);
        d.token = "0123456789abcdef".into();
        assert_eq!(d.view().token_suffix, "89abcdef");
        d.token = "abc".into();
        assert_eq!(d.view().token_suffix, "abc");
    }

    #[test]
    fn the_twenty_first_device_drops_the_least_recently_registered() {
        let devices: Vec<Device> = (0..20).map(|i| device(&format!("d{i}"), 100 - i)).collect();
        // Re-registering one of the twenty drops nothing.
        assert_eq!(evicted(&devices, &DeviceId::parse("d3").unwrap()), None);
        // A new one drops d19, registered longest ago.
        assert_eq!(evicted(&devices, &DeviceId::parse("new").unwrap()).unwrap().device_id.as_str(), "d19");
        assert_eq!(evicted(&devices[..19], &DeviceId::parse("new").unwrap()), None);
    }
}
