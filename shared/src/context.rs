//! What every handler is given: configuration, the store and the clock, built once per cold
//! start. The further clients a route needs (pushes, files, the signing key) come with it in a
//! [`crate::clients::With`], so the compiler checks that a route has them.

use std::sync::Arc;

use aws_config::SdkConfig;

use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::store::Store;

#[derive(Clone)]
pub struct Ctx {
    pub config: Arc<Config>,
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
}

impl Ctx {
    pub fn new(config: Config, store: Arc<dyn Store>) -> Self {
        Self { config: Arc::new(config), store, clock: Arc::new(SystemClock) }
    }

    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// A Lambda function's context without further clients: `Config::from_env` and the DynamoDB
    /// store.
    pub async fn from_env() -> Result<Self, crate::error::ConfigError> {
        let config = Config::from_env()?;
        Ok(Self::dynamo(config, &crate::aws::load().await).await)
    }

    /// `config` over the DynamoDB table it names, with a client of the `shared` AWS configuration.
    pub async fn dynamo(config: Config, shared: &SdkConfig) -> Self {
        let client = crate::store::dynamo::client_from_env(shared).await;
        let store = crate::store::dynamo::DynamoStore::new(client, config.table_name.clone());
        Self::new(config, Arc::new(store))
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }
}
