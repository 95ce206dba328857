//! Capabilities the compiler checks: the clients a route's handler is given besides the store.
//!
//! A domain operation that pushes asks for `&With<impl Pushes>`, one that signs or copies files
//! for `&With<impl HoldsFiles>`, one that issues access tokens for `&With<impl Signs>`. A route
//! declares one client set ([`StoreOnly`], [`Push`], [`Files`], [`PushFiles`], [`Signing`],
//! [`PushSigning`], [`Devices`], [`Reporting`]) and its handler takes a `With` of exactly that set,
//! so a binary built without a client its handler needs does not compile. Each set builds only its
//! own clients at cold start: a function that never pushes does not link the API Gateway
//! management client, one that never touches files does not link S3 (binary size is cold-start
//! time).
//!
//! The local gateway and the tests wire every client once ([`Local`]) and hand each route the set
//! it declared ([`Clients::local`]), so they run exactly what the Lambda function runs.

use std::future::Future;
use std::sync::Arc;

use aws_config::SdkConfig;

use crate::blobs::BlobStore;
use crate::config::Config;
use crate::context::Ctx;
use crate::error::ConfigError;
use crate::keys::Signer;
use crate::notifications::provider::PushProvider;
use crate::notify::Notifier;
use crate::reports::moderation::Moderation;

/// A handler's context: the store, configuration and clock ([`Ctx`], which it derefs to) and the
/// clients `C` its route declared.
#[derive(Clone)]
pub struct With<C> {
    pub ctx: Ctx,
    pub clients: C,
}

impl<C> std::ops::Deref for With<C> {
    type Target = Ctx;

    fn deref(&self) -> &Ctx {
        &self.ctx
    }
}

impl<C: Clients> With<C> {
    /// A Lambda function's context at cold start: `Config::from_env`, the DynamoDB store and the
    /// clients of `C`, from one load of the AWS configuration.
    pub async fn from_env() -> Result<Self, ConfigError> {
        let config = Config::from_env()?;
        let shared = crate::aws::load().await;
        let clients = C::from_env(&shared, &config).await?;
        Ok(Self { ctx: Ctx::dynamo(config, &shared).await, clients })
    }
}

impl With<Local> {
    /// The clients `C` out of every client the gateway or a test wired.
    pub fn narrow<C: Clients>(&self) -> With<C> {
        With { ctx: self.ctx.clone(), clients: C::local(&self.clients) }
    }
}

/// Which clients a set holds: what its function's role and environment in template.yaml must
/// grant (the template test reads it from each route's declaration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Needs {
    /// The API Gateway management API (`WEBSOCKET_MANAGEMENT_ENDPOINT`, `execute-api:ManageConnections`).
    pub push: bool,
    /// S3 (`BUCKET_NAME`, the bucket's actions).
    pub files: bool,
    /// The token signing key (`JWT_SIGNING_KEY_SECRET`, `secretsmanager:GetSecretValue`).
    pub signs: bool,
    /// The push provider (SNS: the platform applications' ARNs, `sns:CreatePlatformEndpoint`).
    pub devices: bool,
    /// The moderation topic (`MODERATION_TOPIC_ARN`, `sns:Publish` on it).
    pub moderation: bool,
}

/// A set of clients a route declares.
pub trait Clients: Clone + Send + Sync + 'static {
    const NEEDS: Needs;

    /// Builds the set at cold start; a setting it needs that is missing fails the cold start
    /// instead of dropping pushes or files later.
    fn from_env(shared: &SdkConfig, config: &Config) -> impl Future<Output = Result<Self, ConfigError>> + Send;

    /// The set out of everything the local gateway or a test wired.
    fn local(all: &Local) -> Self;
}

/// Pushes to WebSocket connections and closes them.
pub trait Pushes: Send + Sync {
    fn pusher(&self) -> &dyn Notifier;
}

/// Signs uploads and downloads, inspects and copies objects.
pub trait HoldsFiles: Send + Sync {
    fn blobs(&self) -> &dyn BlobStore;
}

/// Issues access tokens.
pub trait Signs: Send + Sync {
    fn signer(&self) -> &Signer;
}

/// Hands reports to the moderators.
pub trait Moderates: Send + Sync {
    fn moderation(&self) -> &dyn Moderation;
}

/// Gets devices ready for push notifications (an SNS platform endpoint per device).
pub trait RegistersDevices: Send + Sync {
    fn push_provider(&self) -> &dyn PushProvider;
}

impl<C: Pushes> Pushes for With<C> {
    fn pusher(&self) -> &dyn Notifier {
        self.clients.pusher()
    }
}

impl<C: HoldsFiles> HoldsFiles for With<C> {
    fn blobs(&self) -> &dyn BlobStore {
        self.clients.blobs()
    }
}

impl<C: Signs> Signs for With<C> {
    fn signer(&self) -> &Signer {
        self.clients.signer()
    }
}

impl<C: Moderates> Moderates for With<C> {
    fn moderation(&self) -> &dyn Moderation {
        self.clients.moderation()
    }
}

impl<C: RegistersDevices> RegistersDevices for With<C> {
    fn push_provider(&self) -> &dyn PushProvider {
        self.clients.push_provider()
    }
}

/// Every client, as the local gateway and the tests wire them.
#[derive(Clone)]
pub struct Local {
    pub pusher: Arc<dyn Notifier>,
    pub blobs: Arc<dyn BlobStore>,
    pub signer: Signer,
    pub push_provider: Arc<dyn PushProvider>,
    pub moderation: Arc<dyn Moderation>,
}

/// The store alone.
#[derive(Clone, Copy, Debug, Default)]
pub struct StoreOnly;

/// The management API.
#[derive(Clone)]
pub struct Push {
    pusher: Arc<dyn Notifier>,
}

/// S3.
#[derive(Clone)]
pub struct Files {
    blobs: Arc<dyn BlobStore>,
}

/// The management API and S3.
#[derive(Clone)]
pub struct PushFiles {
    pusher: Arc<dyn Notifier>,
    blobs: Arc<dyn BlobStore>,
}

/// The signing key: register and login.
#[derive(Clone)]
pub struct Signing {
    signer: Signer,
}

/// The push provider: registering a device.
#[derive(Clone)]
pub struct Devices {
    push_provider: Arc<dyn PushProvider>,
}

/// The moderation topic: reporting.
#[derive(Clone)]
pub struct Reporting {
    moderation: Arc<dyn Moderation>,
}

/// The management API and the signing key: refresh (reuse detection closes sockets).
#[derive(Clone)]
pub struct PushSigning {
    pusher: Arc<dyn Notifier>,
    signer: Signer,
}

impl Clients for StoreOnly {
    const NEEDS: Needs = Needs { push: false, files: false, signs: false, devices: false, moderation: false };

    async fn from_env(_: &SdkConfig, _: &Config) -> Result<Self, ConfigError> {
        Ok(Self)
    }

    fn local(_: &Local) -> Self {
        Self
    }
}

impl Clients for Push {
    const NEEDS: Needs = Needs { push: true, files: false, signs: false, devices: false, moderation: false };

    async fn from_env(shared: &SdkConfig, _: &Config) -> Result<Self, ConfigError> {
        Ok(Self { pusher: pusher_from_env(shared)? })
    }

    fn local(all: &Local) -> Self {
        Self { pusher: all.pusher.clone() }
    }
}

impl Clients for Files {
    const NEEDS: Needs = Needs { push: false, files: true, signs: false, devices: false, moderation: false };

    async fn from_env(shared: &SdkConfig, _: &Config) -> Result<Self, ConfigError> {
        Ok(Self { blobs: blobs_from_env(shared)? })
    }

    fn local(all: &Local) -> Self {
        Self { blobs: all.blobs.clone() }
    }
}

impl Clients for PushFiles {
    const NEEDS: Needs = Needs { push: true, files: true, signs: false, devices: false, moderation: false };

    async fn from_env(shared: &SdkConfig, _: &Config) -> Result<Self, ConfigError> {
        Ok(Self { pusher: pusher_from_env(shared)?, blobs: blobs_from_env(shared)? })
    }

    fn local(all: &Local) -> Self {
        Self { pusher: all.pusher.clone(), blobs: all.blobs.clone() }
    }
}

impl Clients for Signing {
    const NEEDS: Needs = Needs { push: false, files: false, signs: true, devices: false, moderation: false };

    async fn from_env(shared: &SdkConfig, config: &Config) -> Result<Self, ConfigError> {
        Ok(Self { signer: signer_from_env(shared, config).await? })
    }

    fn local(all: &Local) -> Self {
        Self { signer: all.signer.clone() }
    }
}

impl Clients for PushSigning {
    const NEEDS: Needs = Needs { push: true, files: false, signs: true, devices: false, moderation: false };

    async fn from_env(shared: &SdkConfig, config: &Config) -> Result<Self, ConfigError> {
        Ok(Self { pusher: pusher_from_env(shared)?, signer: signer_from_env(shared, config).await? })
    }

    fn local(all: &Local) -> Self {
        Self { pusher: all.pusher.clone(), signer: all.signer.clone() }
    }
}

impl Clients for Devices {
    const NEEDS: Needs = Needs { push: false, files: false, signs: false, devices: true, moderation: false };

    async fn from_env(shared: &SdkConfig, _: &Config) -> Result<Self, ConfigError> {
        Ok(Self { push_provider: Arc::new(crate::notifications::sns::SnsProvider::from_env(shared)) })
    }

    fn local(all: &Local) -> Self {
        Self { push_provider: all.push_provider.clone() }
    }
}

impl Clients for Reporting {
    const NEEDS: Needs = Needs { push: false, files: false, signs: false, devices: false, moderation: true };

    async fn from_env(shared: &SdkConfig, _: &Config) -> Result<Self, ConfigError> {
        let moderation = crate::reports::moderation::SnsModeration::from_env(shared)
            .ok_or(ConfigError::Missing("MODERATION_TOPIC_ARN"))?;
        Ok(Self { moderation: Arc::new(moderation) })
    }

    fn local(all: &Local) -> Self {
        Self { moderation: all.moderation.clone() }
    }
}

/// Each set that holds a client answers for it from its field of the same name.
macro_rules! holds {
    ($capability:ident::$getter:ident -> $client:ty: $($set:ty),+) => {
        $(impl $capability for $set {
            fn $getter(&self) -> &$client {
                std::borrow::Borrow::<$client>::borrow(&self.$getter)
            }
        })+
    };
}

holds!(Pushes::pusher -> dyn Notifier: Local, Push, PushFiles, PushSigning);
holds!(HoldsFiles::blobs -> dyn BlobStore: Local, Files, PushFiles);
holds!(Signs::signer -> Signer: Local, Signing, PushSigning);
holds!(RegistersDevices::push_provider -> dyn PushProvider: Local, Devices);
holds!(Moderates::moderation -> dyn Moderation: Local, Reporting);

fn pusher_from_env(shared: &SdkConfig) -> Result<Arc<dyn Notifier>, ConfigError> {
    let notifier = crate::notify::ApiGatewayNotifier::from_env(shared)
        .ok_or(ConfigError::Missing("WEBSOCKET_MANAGEMENT_ENDPOINT"))?;
    Ok(Arc::new(notifier))
}

fn blobs_from_env(shared: &SdkConfig) -> Result<Arc<dyn BlobStore>, ConfigError> {
    let blobs = crate::blobs::S3BlobStore::from_env(shared).ok_or(ConfigError::Missing("BUCKET_NAME"))?;
    Ok(Arc::new(blobs))
}

/// The signing key from the Secrets Manager secret `JWT_SIGNING_KEY_SECRET` names; its public key
/// must be among the ones the configuration verifies with.
async fn signer_from_env(shared: &SdkConfig, config: &Config) -> Result<Signer, ConfigError> {
    let secret_id =
        std::env::var("JWT_SIGNING_KEY_SECRET").map_err(|_| ConfigError::Missing("JWT_SIGNING_KEY_SECRET"))?;
    let key = crate::keys::signing_key_from_secrets_manager(shared, &secret_id).await?;
    Signer::new(key, &config.keys)
}
