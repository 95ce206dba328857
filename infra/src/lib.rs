//! The local gateway: API Gateway's HTTP and WebSocket APIs on a laptop. Each request or frame
//! becomes the event API Gateway would send and runs through the route's handler in-process, on
//! the embedded store or on DynamoDB; pushes go through the real management API client to the
//! gateway's own `@connections` endpoint.

pub mod rest;
pub mod ws;

use std::net::SocketAddr;
use std::sync::Arc;

use chathub_shared::clock::Clock;
use chathub_shared::config::Config;
use chathub_shared::notify::ApiGatewayNotifier;
use chathub_shared::store::dynamo::{self, DynamoStore};
use chathub_shared::store::memory::MemoryStore;
use chathub_shared::store::Store;
use chathub_shared::Ctx;
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

#[derive(Clone)]
pub struct Options {
    pub rest_addr: SocketAddr,
    /// The WebSocket API and its management endpoint.
    pub ws_addr: SocketAddr,
    pub store: StoreChoice,
    pub jwt_secret: Vec<u8>,
    /// Extra allowed CORS origins, beyond `http://localhost:*` and `http://127.0.0.1:*`.
    pub cors_origins: Vec<String>,
    /// A clock other than the system's (tests move time with it).
    pub clock: Option<Arc<dyn Clock>>,
}

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("configuration: {0}")]
    Config(#[from] chathub_shared::error::ConfigError),
    #[error("store: {0}")]
    Store(#[from] chathub_shared::error::StoreError),
    #[error("cannot listen: {0}")]
    Io(#[from] std::io::Error),
}

/// A running gateway.
pub struct Gateway {
    pub rest_addr: SocketAddr,
    pub ws_addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Gateway {
    pub fn rest_url(&self) -> String {
        format!("http://{}", self.rest_addr)
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}", self.ws_addr)
    }

    /// Stops accepting, lets requests in flight finish, and returns.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = self.task.await;
    }

    /// Runs until the task ends (after a shutdown signal).
    pub async fn wait(self) {
        let _ = self.task.await;
    }
}

/// Builds the store, binds the port and serves in the background.
pub async fn start(options: Options) -> Result<Gateway, GatewayError> {
    let (store, table): (Arc<dyn Store>, String) = match &options.store {
        StoreChoice::Embedded => (Arc::new(MemoryStore::new()), "embedded".to_owned()),
        StoreChoice::DynamoDb { endpoint, table } => {
            let client = dynamo::local_client(endpoint).await;
            dynamo::ensure_table(&client, table).await?;
            (Arc::new(DynamoStore::new(client, table.clone())), table.clone())
        }
    };
    let mut ctx = Ctx::new(Config::new(options.jwt_secret.clone(), table)?, store);
    if let Some(clock) = &options.clock {
        ctx = ctx.with_clock(clock.clone());
    }
    let rest_listener = tokio::net::TcpListener::bind(options.rest_addr).await?;
    let ws_listener = tokio::net::TcpListener::bind(options.ws_addr).await?;
    let rest_addr = rest_listener.local_addr()?;
    let ws_addr = ws_listener.local_addr()?;
    // The functions push exactly as on AWS: the SDK's management API client, pointed here.
    let notifier = ApiGatewayNotifier::new(&format!("http://{ws_addr}")).await;
    let ctx = ctx.with_notifier(Arc::new(notifier));
    let rest_app = rest::router(rest::RestState { ctx: ctx.clone(), cors_origins: options.cors_origins.clone() });
    let ws_app = ws::router(ws::WsState::new(ctx));
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let rest = axum::serve(rest_listener, rest_app.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(async {
                let _ = rx.await;
            });
        // Open sockets would hold a graceful shutdown forever: the WebSocket side simply stops
        // when the REST side has drained.
        let ws = axum::serve(ws_listener, ws_app.into_make_service_with_connect_info::<SocketAddr>());
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
    });
    Ok(Gateway { rest_addr, ws_addr, shutdown: Some(tx), task })
}
