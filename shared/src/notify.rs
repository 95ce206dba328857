//! The notifier port (push a payload to a WebSocket connection, or close it) and its adapters:
//! API Gateway's management API, and none. Fan-out over it is [`crate::fanout`].

use async_trait::async_trait;
use aws_sdk_apigatewaymanagement::primitives::Blob;

use crate::ids::ConnectionId;

#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// The connection is gone (410): forget it.
    #[error("connection gone")]
    Gone,
    #[error("push failed: {0}")]
    Failed(String),
}

#[async_trait]
pub trait Notifier: Send + Sync {
    async fn post(&self, connection_id: &ConnectionId, payload: &[u8]) -> Result<(), PushError>;
    async fn close(&self, connection_id: &ConnectionId) -> Result<(), PushError>;
}

/// API Gateway's management API (`PostToConnection`, `DeleteConnection`).
pub struct ApiGatewayNotifier {
    client: aws_sdk_apigatewaymanagement::Client,
}

impl ApiGatewayNotifier {
    /// `endpoint`: `https://{api-id}.execute-api.{region}.amazonaws.com/{stage}` on AWS, the local
    /// gateway's WebSocket address locally.
    pub fn with_config(shared: &aws_config::SdkConfig, endpoint: &str) -> Self {
        let config = aws_sdk_apigatewaymanagement::config::Builder::from(shared).endpoint_url(endpoint).build();
        Self { client: aws_sdk_apigatewaymanagement::Client::from_conf(config) }
    }

    /// For the local gateway's own management API, signing with the key pair it checks.
    pub async fn local(endpoint: &str, access_key: &str, secret_key: &str) -> Self {
        Self::with_config(&crate::aws::local_with_keys(access_key, secret_key).await, endpoint)
    }

    /// From `WEBSOCKET_MANAGEMENT_ENDPOINT`, when set.
    pub fn from_env(shared: &aws_config::SdkConfig) -> Option<Self> {
        match std::env::var("WEBSOCKET_MANAGEMENT_ENDPOINT") {
            Ok(endpoint) if !endpoint.is_empty() => Some(Self::with_config(shared, &endpoint)),
            _ => None,
        }
    }
}

#[async_trait]
impl Notifier for ApiGatewayNotifier {
    async fn post(&self, connection_id: &ConnectionId, payload: &[u8]) -> Result<(), PushError> {
        match self
            .client
            .post_to_connection()
            .connection_id(connection_id.as_str())
            .data(Blob::new(payload))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|se| se.is_gone_exception()) => Err(PushError::Gone),
            Err(e) => Err(PushError::Failed(aws_sdk_apigatewaymanagement::error::DisplayErrorContext(&e).to_string())),
        }
    }

    async fn close(&self, connection_id: &ConnectionId) -> Result<(), PushError> {
        match self.client.delete_connection().connection_id(connection_id.as_str()).send().await {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|se| se.is_gone_exception()) => Err(PushError::Gone),
            Err(e) => Err(PushError::Failed(aws_sdk_apigatewaymanagement::error::DisplayErrorContext(&e).to_string())),
        }
    }
}

/// A notifier whose pushes go nowhere (tests and benchmarks that never look at pushes).
pub struct NoNotifier;

#[async_trait]
impl Notifier for NoNotifier {
    async fn post(&self, connection_id: &ConnectionId, _payload: &[u8]) -> Result<(), PushError> {
        tracing::debug!(%connection_id, "no WebSocket management endpoint configured; push dropped");
        Ok(())
    }

    async fn close(&self, _connection_id: &ConnectionId) -> Result<(), PushError> {
        Ok(())
    }
}
