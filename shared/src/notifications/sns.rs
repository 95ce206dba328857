//! The push provider on Amazon SNS mobile push: a platform endpoint per device, made at
//! registration (its ARN kept with the device), and `Publish` with `MessageStructure=json`
//! carrying the APNs and FCM (v1) payloads. The platform applications are the operator's (one per
//! platform; CloudFormation has no resource for them): their ARNs come from the configuration.

use async_trait::async_trait;
use aws_sdk_sns::error::ProvideErrorMetadata;
use serde_json::{json, Map, Value};

use crate::notifications::alert::{Delivery, Notification};
use crate::notifications::devices::{Device, Platform};
use crate::notifications::provider::{PublishError, PushProvider};

/// The platform applications' ARNs, per platform (`SNS_APNS_APPLICATION_ARN`,
/// `SNS_APNS_SANDBOX_APPLICATION_ARN`, `SNS_FCM_APPLICATION_ARN`); a platform without one takes
/// no devices.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applications {
    pub apns: Option<String>,
    pub apns_sandbox: Option<String>,
    pub fcm: Option<String>,
}

impl Applications {
    pub fn from_env() -> Self {
        let arn = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        Self {
            apns: arn("SNS_APNS_APPLICATION_ARN"),
            apns_sandbox: arn("SNS_APNS_SANDBOX_APPLICATION_ARN"),
            fcm: arn("SNS_FCM_APPLICATION_ARN"),
        }
    }

    fn for_platform(&self, platform: Platform) -> Option<&str> {
        match platform {
            Platform::Apns => self.apns.as_deref(),
            Platform::ApnsSandbox => self.apns_sandbox.as_deref(),
            Platform::Fcm => self.fcm.as_deref(),
        }
        .filter(|arn| !arn.is_empty())
    }
}

pub struct SnsProvider {
    client: aws_sdk_sns::Client,
    applications: Applications,
}

impl SnsProvider {
    pub fn new(client: aws_sdk_sns::Client, applications: Applications) -> Self {
        Self { client, applications }
    }

    /// On AWS: the shared configuration and the applications of the environment; with
    /// `SNS_ENDPOINT` set (moto locally), that endpoint.
    pub fn from_env(shared: &aws_config::SdkConfig) -> Self {
        let mut config = aws_sdk_sns::config::Builder::from(shared);
        if let Ok(endpoint) = std::env::var("SNS_ENDPOINT") {
            if !endpoint.is_empty() {
                config = config.endpoint_url(endpoint);
            }
        }
        Self::new(aws_sdk_sns::Client::from_conf(config.build()), Applications::from_env())
    }

    /// For an SNS stand-in at `endpoint` (moto's server), with the local keys and the environment's
    /// applications.
    pub async fn local(endpoint: &str) -> Self {
        let config = aws_sdk_sns::config::Builder::from(&crate::aws::local().await).endpoint_url(endpoint).build();
        Self::new(aws_sdk_sns::Client::from_conf(config), Applications::from_env())
    }

    /// The endpoint's ARN from SNS's refusal to make a second endpoint for a known token with
    /// other attributes ("Endpoint <arn> already exists with the same Token, but different
    /// attributes."): the token moved here, and that endpoint is ours to update.
    fn existing_endpoint(message: &str) -> Option<String> {
        let rest = &message[message.find("arn:")?..];
        Some(rest.split_whitespace().next()?.to_owned())
    }

    async fn enable(&self, endpoint: &str, device: &Device) -> Result<(), PublishError> {
        self.client
            .set_endpoint_attributes()
            .endpoint_arn(endpoint)
            .attributes("Token", &device.token)
            .attributes("CustomUserData", &device.username)
            .attributes("Enabled", "true")
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }
}

/// What an SNS error means here.
fn classify<E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static>(e: E) -> PublishError {
    match e.code() {
        Some("EndpointDisabled" | "EndpointDisabledException") => PublishError::Rejected,
        Some("Throttling" | "ThrottlingException" | "ThrottledException" | "InternalError" | "InternalFailure") => {
            PublishError::Throttled(Box::new(e))
        }
        _ => PublishError::Failed(Box::new(e)),
    }
}

#[async_trait]
impl PushProvider for SnsProvider {
    async fn register(&self, device: &Device) -> Result<Option<String>, PublishError> {
        let Some(application) = self.applications.for_platform(device.platform) else {
            return Err(PublishError::Unsupported);
        };
        let created = self
            .client
            .create_platform_endpoint()
            .platform_application_arn(application)
            .token(&device.token)
            .custom_user_data(&device.username)
            .send()
            .await;
        let endpoint = match created {
            Ok(out) => out.endpoint_arn.ok_or_else(|| PublishError::Failed("no endpoint ARN".into()))?,
            Err(e) => match e.message().and_then(Self::existing_endpoint) {
                Some(existing) => existing,
                None => return Err(classify(e)),
            },
        };
        // A known endpoint may be disabled (the token was rejected) or another user's: enabling it
        // with the token and this user's data makes it this device's.
        self.enable(&endpoint, device).await?;
        Ok(Some(endpoint))
    }

    async fn publish(&self, device: &Device, notification: &Notification) -> Result<(), PublishError> {
        let endpoint = match &device.endpoint {
            Some(endpoint) => endpoint.clone(),
            // Registered before SNS was configured: made now (and again next time).
            None => self.register(device).await?.unwrap_or_default(),
        };
        let message = payload(device.platform, notification);
        let published = self
            .client
            .publish()
            .target_arn(endpoint)
            .message_structure("json")
            .message(message.to_string())
            .send()
            .await;
        match published {
            Ok(_) => Ok(()),
            Err(e) => {
                let code = e.as_service_error().map(|se| se.is_endpoint_disabled_exception());
                if code == Some(true) {
                    return Err(PublishError::Rejected);
                }
                Err(classify(e))
            }
        }
    }
}

/// The `MessageStructure=json` message for a device: `default`, and the platform's own payload
/// (SNS delivers only the key of the endpoint's platform).
pub fn payload(platform: Platform, n: &Notification) -> Value {
    let key = match platform {
        Platform::Apns => "APNS",
        Platform::ApnsSandbox => "APNS_SANDBOX",
        Platform::Fcm => "GCM",
    };
    let body = match platform {
        Platform::Apns | Platform::ApnsSandbox => apns(n),
        Platform::Fcm => fcm(n),
    };
    json!({ "default": n.body.clone().unwrap_or_default(), key: body.to_string() })
}

/// The data fields an app reads to know what to fetch.
fn data(n: &Notification) -> Map<String, Value> {
    let mut data = Map::new();
    if let Some(id) = &n.conversation_id {
        data.insert("conversation_id".into(), json!(id.as_str()));
    }
    if let Some(id) = n.message_id {
        data.insert("message_id".into(), json!(id.get().to_string()));
    }
    if let Some(sender) = &n.sender_username {
        data.insert("sender_username".into(), json!(sender));
    }
    data
}

/// APNs: an alert with its badge, sound and thread, or a badge alone.
fn apns(n: &Notification) -> Value {
    let mut aps = Map::new();
    if n.kind == Delivery::Alert {
        aps.insert("alert".into(), json!({ "title": n.title, "body": n.body }));
        aps.insert("sound".into(), json!("default"));
        if let Some(thread) = n.thread_id() {
            aps.insert("thread-id".into(), json!(thread));
        }
    }
    aps.insert("badge".into(), json!(n.badge));
    let mut payload = data(n);
    payload.insert("aps".into(), Value::Object(aps));
    Value::Object(payload)
}

/// FCM (HTTP v1 through SNS): an alert is a notification with its count, grouped by the app on
/// `thread_id` (no `tag`: a tag would collapse a conversation's alerts into one), with the data
/// fields; a badge update is data alone.
fn fcm(n: &Notification) -> Value {
    let mut data = data(n);
    data.insert("badge".into(), json!(n.badge.to_string()));
    let mut message = Map::new();
    if n.kind == Delivery::Alert {
        if let Some(thread) = n.thread_id() {
            data.insert("thread_id".into(), json!(thread));
        }
        message.insert("notification".into(), json!({ "title": n.title, "body": n.body }));
        message.insert(
            "android".into(),
            json!({ "priority": "high", "notification": { "notification_count": n.badge, "sound": "default" } }),
        );
    }
    message.insert("data".into(), Value::Object(data));
    json!({ "fcmV1Message": { "message": message } })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::MessageId;

    fn alert() -> Notification {
        Notification {
            kind: Delivery::Alert,
            title: Some("Team".into()),
            body: Some("Ann: hi".into()),
            badge: 3,
            conversation_id: Some("c1".into()),
            message_id: Some(MessageId::new(7)),
            sender_username: Some("ann".into()),
        }
    }

    #[test]
    fn apns_payloads_carry_alert_badge_thread_and_data() {
        let message = payload(Platform::Apns, &alert());
        assert_eq!(message["default"], "Ann: hi");
        let apns: Value = serde_json::from_str(message["APNS"].as_str().unwrap()).unwrap();
        assert_eq!(apns["aps"]["alert"], json!({"title": "Team", "body": "Ann: hi"}));
        assert_eq!((apns["aps"]["badge"].clone(), apns["aps"]["thread-id"].clone()), (json!(3), json!("c1")));
        assert_eq!((apns["conversation_id"].clone(), apns["message_id"].clone()), (json!("c1"), json!("7")));
        let sandbox = payload(Platform::ApnsSandbox, &Notification::badge(0));
        let badge: Value = serde_json::from_str(sandbox["APNS_SANDBOX"].as_str().unwrap()).unwrap();
        assert_eq!(badge, json!({"aps": {"badge": 0}}));
    }

    #[test]
    fn fcm_payloads_are_v1_messages_that_never_collapse() {
        let message = payload(Platform::Fcm, &alert());
        let gcm: Value = serde_json::from_str(message["GCM"].as_str().unwrap()).unwrap();
        let inner = &gcm["fcmV1Message"]["message"];
        assert_eq!(inner["notification"], json!({"title": "Team", "body": "Ann: hi"}));
        assert_eq!(inner["android"]["notification"]["notification_count"], 3);
        assert!(inner["android"]["notification"].get("tag").is_none());
        assert_eq!(inner["data"]["thread_id"], "c1");
        assert_eq!(inner["data"]["badge"], "3");
        let badge: Value =
            serde_json::from_str(payload(Platform::Fcm, &Notification::badge(2))["GCM"].as_str().unwrap()).unwrap();
        assert_eq!(badge, json!({"fcmV1Message": {"message": {"data": {"badge": "2"}}}}));
    }

    #[test]
    fn a_known_token_names_its_endpoint_in_the_refusal() {
        let refusal = "Invalid parameter: Token Reason: Endpoint arn:aws:sns:us-east-1:123456789012:endpoint/GCM/app/1a2b already exists with the same Token, but different attributes.";
        assert_eq!(
            SnsProvider::existing_endpoint(refusal).as_deref(),
            Some("arn:aws:sns:us-east-1:123456789012:endpoint/GCM/app/1a2b")
        );
        assert_eq!(SnsProvider::existing_endpoint("Invalid parameter: Token"), None);
    }
}
