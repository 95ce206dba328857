//! What every handler is given: configuration, the store, the clock and the notifier, built once
//! per cold start.

use std::sync::Arc;

use aws_config::SdkConfig;

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

    /// For functions that never read or write (the authorizer, `ping`): an empty in-memory store
    /// stands in, so no SDK client is built or linked.
    pub fn without_store(config: Config) -> Self {
        Self::new(config, Arc::new(crate::store::memory::MemoryStore::new()))
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

    /// For a Lambda function: `Config::from_env`, the DynamoDB store, and the further clients
    /// `clients` names. The AWS configuration is loaded once for all of them.
    pub async fn from_env(clients: Clients) -> Result<Self, crate::error::ConfigError> {
        let mut config = Config::from_env()?;
        let shared = crate::aws::load().await;
        if let Some(load) = clients.signer {
            config.keys = config.keys.with_signer(load(&shared).await?)?;
        }
        let client = crate::store::dynamo::client_from_env(&shared).await;
        let store = crate::store::dynamo::DynamoStore::new(client, config.table_name.clone());
        let mut ctx = Self::new(config, Arc::new(store));
        if let Some(notifier) = clients.notifier.and_then(|build| build(&shared)) {
            ctx = ctx.with_notifier(notifier);
        }
        if let Some(blobs) = clients.blobs.and_then(|build| build(&shared)) {
            ctx = ctx.with_blobs(blobs);
        }
        Ok(ctx)
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }
}

/// The AWS clients a Lambda function builds at cold start besides its DynamoDB store. Each one is
/// a function pointer that only the binaries naming it reference, so a function that never pushes
/// does not link the API Gateway management client and one that never touches files does not link
/// the S3 client: binary size is cold-start time.
#[derive(Clone, Copy)]
pub struct Clients {
    notifier: Option<Build<dyn Notifier>>,
    blobs: Option<Build<dyn BlobStore>>,
    signer: Option<LoadSigner>,
}

/// Builds a client from the shared AWS configuration, or nothing when its settings are absent.
type Build<T> = fn(&SdkConfig) -> Option<Arc<T>>;

/// Reads the token signing key (from Secrets Manager), once, at cold start.
type LoadSigner = for<'a> fn(
    &'a SdkConfig,
) -> std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<crate::keys::SigningKey, crate::error::ConfigError>> + Send + 'a>,
>;

impl Clients {
    /// The DynamoDB store only.
    pub const STORE: Clients = Clients { notifier: None, blobs: None, signer: None };
    /// The store and the API Gateway management API (`WEBSOCKET_MANAGEMENT_ENDPOINT`), for
    /// functions that push to WebSocket connections.
    pub const PUSH: Clients = Clients::STORE.push();
    /// The store and S3 (`BUCKET_NAME`), for functions that sign or copy files.
    pub const FILES: Clients = Clients::STORE.files();
    /// The store, the management API and S3.
    pub const PUSH_FILES: Clients = Clients::STORE.push().files();
    /// The store and the token signing key (`JWT_SIGNING_KEY_SECRET`, read from Secrets Manager),
    /// for the functions that issue access tokens: register, login, refresh. Only they link the
    /// Secrets Manager client, and only their role may read the secret.
    pub const SIGNS: Clients = Clients::STORE.signs();

    const fn push(self) -> Self {
        Self { notifier: Some(notifier_from_env), ..self }
    }

    const fn files(self) -> Self {
        Self { blobs: Some(blobs_from_env), ..self }
    }

    /// These clients and the signing key (see [`Clients::SIGNS`]).
    pub const fn signs(self) -> Self {
        Self { signer: Some(signer_from_env), ..self }
    }
}

fn signer_from_env(
    shared: &SdkConfig,
) -> std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<crate::keys::SigningKey, crate::error::ConfigError>> + Send + '_>,
> {
    Box::pin(async move {
        let secret_id = std::env::var("JWT_SIGNING_KEY_SECRET")
            .map_err(|_| crate::error::ConfigError::Missing("JWT_SIGNING_KEY_SECRET"))?;
        crate::keys::signing_key_from_secrets_manager(shared, &secret_id).await
    })
}

fn notifier_from_env(shared: &SdkConfig) -> Option<Arc<dyn Notifier>> {
    crate::notify::ApiGatewayNotifier::from_env(shared).map(|n| Arc::new(n) as Arc<dyn Notifier>)
}

fn blobs_from_env(shared: &SdkConfig) -> Option<Arc<dyn BlobStore>> {
    crate::blobs::S3BlobStore::from_env(shared).map(|b| Arc::new(b) as Arc<dyn BlobStore>)
}
