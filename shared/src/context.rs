//! What every handler is given: configuration, the store, the clock and the notifier, built once
//! per cold start.

use std::sync::Arc;

use crate::blobs::{BlobStore, NoBlobStore};
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::notify::{NoNotifier, Notifier};
use crate::store::Store;

#[derive(Clone)]
pub struct Ctx {
    pub config: Arc<Config>,
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    /// Pushes to WebSocket connections.
    pub notifier: Arc<dyn Notifier>,
    /// Signs uploads and downloads.
    pub blobs: Arc<dyn BlobStore>,
}

impl Ctx {
    pub fn new(config: Config, store: Arc<dyn Store>) -> Self {
        Self {
            config: Arc::new(config),
            store,
            clock: Arc::new(SystemClock),
            notifier: Arc::new(NoNotifier),
            blobs: Arc::new(NoBlobStore),
        }
    }

    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    pub fn with_blobs(mut self, blobs: Arc<dyn BlobStore>) -> Self {
        self.blobs = blobs;
        self
    }

    pub fn with_notifier(mut self, notifier: Arc<dyn Notifier>) -> Self {
        self.notifier = notifier;
        self
    }

    /// For a Lambda function: `Config::from_env`, the DynamoDB store, the API Gateway notifier
    /// when `WEBSOCKET_MANAGEMENT_ENDPOINT` is set and the S3 blob store when `BUCKET_NAME` is.
    /// The AWS configuration is loaded once for all of them.
    pub async fn from_env() -> Result<Self, crate::error::ConfigError> {
        let config = Config::from_env()?;
        let shared = crate::aws::load().await;
        let client = crate::store::dynamo::client_from_env(&shared).await;
        let store = crate::store::dynamo::DynamoStore::new(client, config.table_name.clone());
        let mut ctx = Self::new(config, Arc::new(store));
        if let Some(notifier) = crate::notify::ApiGatewayNotifier::from_env(&shared) {
            ctx = ctx.with_notifier(Arc::new(notifier));
        }
        if let Some(blobs) = crate::blobs::S3BlobStore::from_env(&shared).await {
            ctx = ctx.with_blobs(Arc::new(blobs));
        }
        Ok(ctx)
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }
}
