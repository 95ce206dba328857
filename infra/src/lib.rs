//! The local gateway: API Gateway's HTTP and WebSocket APIs on a laptop. Each request or frame
//! becomes the event API Gateway would send and runs through the route's handler in-process, on
//! the embedded store or on DynamoDB. On DynamoDB, pushes go through the real management API client
//! to the gateway's own `@connections` endpoint; on the embedded store, straight onto the sockets.

pub mod access;
pub mod notify;
pub mod rest;
pub mod s3;
pub mod secrets;
pub mod sigv4;
pub mod stream;
pub mod web;
pub mod ws;

use std::net::SocketAddr;
use std::sync::Arc;

use chathub_shared::blobs::S3BlobStore;
use chathub_shared::clients::Local;
use chathub_shared::clock::Clock;
use chathub_shared::config::{Config, Limits};
use chathub_shared::keys::{Signer, SigningKey};
use chathub_shared::notifications::alert::Content;
use chathub_shared::notifications::provider::{PushProvider, Recorder};
use chathub_shared::notify::ApiGatewayNotifier;
use chathub_shared::reports::moderation::ReportRecorder;
use chathub_shared::store::dynamo::{self, DynamoStore};
use chathub_shared::store::memory::MemoryStore;
use chathub_shared::store::Store;
use chathub_shared::{Ctx, With};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Where the data lives.
#[derive(Debug, Clone)]
pub enum StoreChoice {
    /// In memory; gone when the gateway stops.
    Embedded,
    /// A DynamoDB endpoint (DynamoDB Local, say); the table is created when missing.
    DynamoDb { endpoint: String, table: String },
}

/// Where files live.
#[derive(Debug, Clone)]
pub enum BlobChoice {
    /// The embedded S3-compatible server on `addr`, over the folder `root`, with a fresh key pair.
    Embedded { addr: SocketAddr, root: std::path::PathBuf },
    /// The same with the key pair given (for functions run outside the gateway, which sign
    /// presigned URLs for it: `scripts/watch`).
    EmbeddedWithKeys { addr: SocketAddr, root: std::path::PathBuf, access_key: String, secret_key: String },
    /// Another S3-compatible endpoint (or AWS), with its keys and bucket (created when missing).
    External { endpoint: String, access_key: String, secret_key: String, bucket: String },
}

#[derive(Clone)]
pub struct Options {
    pub blobs: BlobChoice,
    pub rest_addr: SocketAddr,
    /// The WebSocket API and its management endpoint.
    pub ws_addr: SocketAddr,
    pub store: StoreChoice,
    pub jwt_secret: Vec<u8>,
    /// Extra allowed CORS origins, beyond `http://localhost:*` and `http://127.0.0.1:*`.
    pub cors_origins: Vec<String>,
    /// A clock other than the system's (tests move time with it).
    pub clock: Option<Arc<dyn Clock>>,
    /// Per-user send and typing limits (`chathub-local` reads them from the environment, as the
    /// functions do).
    pub limits: Limits,
    /// What push notifications may say (`full`, or `hidden`: no message text).
    pub push_content: Content,
    /// Where pushes go: `None`, the embedded recorder (`GET /_local/pushes`); or a provider
    /// (SNS at an endpoint such as moto's).
    pub push_provider: Option<Arc<dyn PushProvider>>,
    /// The WebSocket API's idle timeout and connection lifetime (API Gateway's 10 minutes and 2
    /// hours by default).
    pub ws_limits: ws::WsLimits,
}

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("configuration: {0}")]
    Config(#[from] chathub_shared::error::ConfigError),
    #[error("store: {0}")]
    Store(#[from] chathub_shared::error::StoreError),
    #[error("blob store: {0}")]
    Blobs(String),
    #[error("cannot listen: {0}")]
    Io(#[from] std::io::Error),
}

/// A running gateway.
pub struct Gateway {
    pub rest_addr: SocketAddr,
    pub ws_addr: SocketAddr,
    /// The S3 endpoint files go to.
    pub s3_url: String,
    /// What the notify function would have published (`GET /_local/pushes`).
    pub pushes: Arc<Recorder>,
    sockets: ws::Connections,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
    notify: JoinHandle<()>,
}

impl Gateway {
    pub fn rest_url(&self) -> String {
        format!("http://{}", self.rest_addr)
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}", self.ws_addr)
    }

    /// The connection ids of the open sockets (what a function would push to).
    pub fn socket_ids(&self) -> Vec<String> {
        self.sockets.lock().unwrap_or_else(|p| p.into_inner()).keys().cloned().collect()
    }

    /// Stops accepting, lets requests in flight finish, and returns.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = self.task.await;
        self.notify.abort();
    }
}

async fn ensure_bucket(blobs: &S3BlobStore, bucket: &str) -> Result<(), GatewayError> {
    if blobs.client().head_bucket().bucket(bucket).send().await.is_ok() {
        return Ok(());
    }
    blobs
        .client()
        .create_bucket()
        .bucket(bucket)
        .send()
        .await
        .map_err(|e| GatewayError::Blobs(aws_sdk_s3::error::DisplayErrorContext(&e).to_string()))?;
    Ok(())
}

/// `bytes` random bytes, base64url: the per-run keys of a local gateway (its embedded S3 server's
/// secret, and the token signing key when none is given).
pub fn random_key(bytes: usize) -> String {
    use base64::Engine;
    let mut key = vec![0u8; bytes];
    rand::fill(&mut key[..]);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key)
}

/// The span the Lambda runtime opens around each invocation (`lambda_runtime`'s trace layer): the
/// gateway opens the same one, so its log lines carry the request id as on AWS.
pub fn invoke_span(request_id: &str) -> tracing::Span {
    tracing::info_span!("Lambda runtime invoke", requestId = request_id)
}

/// The token signing key of a local run: the one given, else a fresh one per run, so no key in
/// the source signs tokens anywhere.
pub fn signing_key(given: Option<String>) -> Vec<u8> {
    given.filter(|k| !k.is_empty()).unwrap_or_else(|| random_key(32)).into_bytes()
}

/// The gateway listens on loopback only, unless the operator gave the signing key explicitly:
/// with a per-run key nobody else can use its tokens anyway, but exposing it to the network is a
/// decision to make on purpose.
pub fn check_exposure(addrs: &[SocketAddr], signing_key_given: bool) -> Result<(), String> {
    match addrs.iter().find(|a| !a.ip().is_loopback()) {
        Some(addr) if !signing_key_given => Err(format!(
            "{addr} is not a loopback address: give the signing key explicitly (--jwt-secret or \
             JWT_SECRET) to listen beyond this machine"
        )),
        _ => Ok(()),
    }
}

/// `CHATHUB_POST_LATENCY_MS`: simulate API Gateway's `PostToConnection` latency (about 20 ms on
/// AWS against well under 1 ms here), so benchmarks report what a room sustains on AWS.
fn simulated_post_latency() -> Option<std::time::Duration> {
    let ms: u64 = std::env::var("CHATHUB_POST_LATENCY_MS").ok()?.parse().ok()?;
    (ms > 0).then(|| std::time::Duration::from_millis(ms))
}

/// A notifier that takes `latency` for every push, as API Gateway's management API does.
struct SlowNotifier {
    inner: Arc<dyn chathub_shared::notify::Notifier>,
    latency: std::time::Duration,
}

#[async_trait::async_trait]
impl chathub_shared::notify::Notifier for SlowNotifier {
    async fn post(
        &self,
        connection_id: &chathub_shared::ConnectionId,
        payload: &[u8],
    ) -> Result<(), chathub_shared::notify::PushError> {
        tokio::time::sleep(self.latency).await;
        self.inner.post(connection_id, payload).await
    }

    async fn close(
        &self,
        connection_id: &chathub_shared::ConnectionId,
    ) -> Result<(), chathub_shared::notify::PushError> {
        self.inner.close(connection_id).await
    }
}

/// Builds the store, binds the ports and serves in the background; the management API takes a
/// fresh key pair.
pub async fn start(options: Options) -> Result<Gateway, GatewayError> {
    start_with_management_keys(options, sigv4::Keys::random()).await
}

/// [`start`], with the key pair the management API (`/@connections`) checks SigV4 signatures
/// against: for functions run outside the gateway that push through it (`scripts/watch`).
pub async fn start_with_management_keys(options: Options, management: sigv4::Keys) -> Result<Gateway, GatewayError> {
    // What feeds the notify function: the embedded store's own feed, or the table's stream.
    let mut feed = None;
    let mut reader = None;
    let (store, table): (Arc<dyn Store>, String) = match &options.store {
        StoreChoice::Embedded => {
            let memory = MemoryStore::new();
            feed = Some(memory.feed());
            (Arc::new(memory), "embedded".to_owned())
        }
        StoreChoice::DynamoDb { endpoint, table } => {
            let client = dynamo::local_client(endpoint).await;
            dynamo::ensure_table(&client, table).await?;
            dynamo::ensure_stream(&client, table).await?;
            let config = aws_sdk_dynamodbstreams::config::Builder::from(&chathub_shared::aws::local().await)
                .endpoint_url(endpoint)
                .build();
            let streams = aws_sdk_dynamodbstreams::Client::from_conf(config);
            reader = Some(stream::Reader::new(&client, streams, table).await?);
            (Arc::new(DynamoStore::new(client, table.clone())), table.clone())
        }
    };
    let key = SigningKey::from_material(&options.jwt_secret)?;
    let mut config = Config::new(options.jwt_secret.clone(), table)?;
    config.limits = options.limits;
    let mut ctx = Ctx::new(config, store);
    if let Some(clock) = &options.clock {
        ctx = ctx.with_clock(clock.clone());
    }
    let rest_listener = tokio::net::TcpListener::bind(options.rest_addr).await?;
    let ws_listener = tokio::net::TcpListener::bind(options.ws_addr).await?;
    let rest_addr = rest_listener.local_addr()?;
    let ws_addr = ws_listener.local_addr()?;
    let (s3_url, s3_task, blobs) = match &options.blobs {
        BlobChoice::Embedded { addr, root } | BlobChoice::EmbeddedWithKeys { addr, root, .. } => {
            let listener = tokio::net::TcpListener::bind(addr).await?;
            let url = s3::url(listener.local_addr()?);
            let keys = match &options.blobs {
                BlobChoice::EmbeddedWithKeys { access_key, secret_key, .. } => sigv4::Keys::new(access_key, secret_key),
                _ => sigv4::Keys::random(),
            };
            let task = s3::serve(listener, root, &keys.access_key, keys.secret_key(), options.cors_origins.clone())?;
            let blobs = S3BlobStore::for_endpoint(&url, &keys.access_key, keys.secret_key(), s3::LOCAL_BUCKET).await;
            (url, Some(task), blobs)
        }
        BlobChoice::External { endpoint, access_key, secret_key, bucket } => {
            let blobs = S3BlobStore::for_endpoint(endpoint, access_key, secret_key, bucket).await;
            ensure_bucket(&blobs, bucket).await?;
            (endpoint.clone(), None, blobs)
        }
    };
    // On DynamoDB the functions push exactly as on AWS: the SDK's management API client, pointed
    // here. The embedded default pushes in-process, as its store is in-process.
    let sockets: ws::Connections = Arc::default();
    let notifier: Arc<dyn chathub_shared::notify::Notifier> = match &options.store {
        StoreChoice::Embedded => Arc::new(ws::InProcessNotifier { connections: sockets.clone() }),
        StoreChoice::DynamoDb { .. } => Arc::new(
            ApiGatewayNotifier::local(&format!("http://{ws_addr}"), &management.access_key, management.secret_key())
                .await,
        ),
    };
    let pusher: Arc<dyn chathub_shared::notify::Notifier> = match simulated_post_latency() {
        Some(latency) => Arc::new(SlowNotifier { inner: notifier, latency }),
        None => notifier,
    };
    let pushes = Arc::new(Recorder::new());
    let provider: Arc<dyn PushProvider> = options.push_provider.clone().unwrap_or_else(|| pushes.clone());
    let notify = match (feed, reader) {
        (Some(feed), _) => notify::spawn_feed(ctx.clone(), provider.clone(), options.push_content, feed),
        (None, Some(reader)) => reader.spawn(ctx.clone(), provider.clone(), options.push_content),
        (None, None) => tokio::spawn(async {}),
    };
    // Reports go to a recorder (`GET /_local/reports`), as pushes do.
    let reports = Arc::new(ReportRecorder::new());
    let all = With {
        ctx,
        clients: Local {
            pusher,
            blobs: Arc::new(blobs),
            signer: Signer::local(key),
            push_provider: provider.clone(),
            moderation: reports.clone(),
        },
    };
    let rest_app = rest::router(rest::RestState {
        all: all.clone(),
        cors_origins: options.cors_origins.clone(),
        pushes: pushes.clone(),
        reports,
    });
    let ws_app = ws::router(ws::WsState::with_connections(all, sockets.clone(), management, options.ws_limits));
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let rest = axum::serve(rest_listener, rest_app.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(async {
                let _ = rx.await;
            });
        // Open sockets would hold a graceful shutdown forever: the WebSocket side simply stops
        // when the REST side has drained.
        let ws = axum::serve(ws_listener, ws_app.into_make_service_with_connect_info::<SocketAddr>());
        let s3_task = s3_task;
        tokio::select! {
            served = rest => {
                if let Err(e) = served {
                    tracing::error!(error = %e, "REST listener failed");
                }
            }
            served = ws => {
                if let Err(e) = served {
                    tracing::error!(error = %e, "WebSocket listener failed");
                }
            }
        }
        if let Some(task) = s3_task {
            task.abort();
        }
    });
    Ok(Gateway { rest_addr, ws_addr, s3_url, pushes, sockets, shutdown: Some(tx), task, notify })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_run_signs_with_a_key_of_its_own_unless_one_is_given() {
        let (one, two) = (signing_key(None), signing_key(None));
        assert_ne!(one, two);
        assert!(one.len() >= 43, "32 random bytes, base64url");
        assert_eq!(signing_key(Some("given-key".into())), b"given-key".to_vec());
        assert_ne!(signing_key(Some(String::new())), b"".to_vec());
        // Each run's material is a key pair of its own.
        let kid = |material: &[u8]| SigningKey::from_material(material).unwrap().kid().to_owned();
        assert_ne!(kid(&one), kid(&two));
    }

    #[test]
    fn only_loopback_without_an_explicit_key() {
        let loopback: Vec<SocketAddr> = vec!["127.0.0.1:3000".parse().unwrap(), "[::1]:3001".parse().unwrap()];
        assert!(check_exposure(&loopback, false).is_ok());
        let exposed: Vec<SocketAddr> = vec!["127.0.0.1:3000".parse().unwrap(), "0.0.0.0:3001".parse().unwrap()];
        let refused = check_exposure(&exposed, false).unwrap_err();
        assert!(refused.contains("0.0.0.0:3001"), "{refused}");
        assert!(check_exposure(&exposed, true).is_ok());
        assert!(check_exposure(&["192.168.1.5:3000".parse().unwrap()], false).is_err());
    }
}
