//! SDK configuration: one load per cold start on AWS, and placeholders for local stand-ins.

use aws_config::{BehaviorVersion, Region, SdkConfig};

/// The environment's AWS configuration (region, credentials), loaded once and shared by every
/// client a function builds.
pub async fn load() -> SdkConfig {
    aws_config::load_defaults(BehaviorVersion::latest()).await
}

/// For local stand-ins (DynamoDB Local, the local gateway's management API): the environment's
/// region and keys where set, placeholders where not, since the stand-ins accept any signature.
pub async fn local() -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if std::env::var("AWS_REGION").is_err() {
        loader = loader.region(Region::new("us-east-1"));
    }
    if std::env::var("AWS_ACCESS_KEY_ID").is_err() {
        loader = loader.credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "local",
            "local",
            None,
            None,
            "chathub-local",
        ));
    }
    loader.load().await
}
