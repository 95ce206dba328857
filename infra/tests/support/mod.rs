//! The harness: a real local gateway on an ephemeral port, on either store, driven over HTTP.

#![allow(dead_code)]

pub mod domain;
pub mod proxy;
pub mod tokens;
pub mod ws;

use std::sync::Arc;

use chathub_gateway::{start_with_management_keys, ws::WsLimits, BlobChoice, Gateway, Options, StoreChoice};
use chathub_shared::clock::ManualClock;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

pub const TEST_SECRET: &[u8] = b"test-secret-test-secret-test-secret!";
/// The key pair the gateway's management API (`/@connections`) takes signatures from in tests.
pub const TEST_MANAGEMENT_KEYS: (&str, &str) = ("test-management", "test-management-secret");

pub struct TestApp {
    pub url: String,
    pub ws_url: String,
    pub http: reqwest::Client,
    pub clock: Arc<ManualClock>,
    gateway: Gateway,
    dynamodb: bool,
    /// On DynamoDB Local: its endpoint and this test's table.
    pub table: Option<(String, String)>,
}

/// What came back: status, headers and the body parsed as JSON where it is JSON.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
    pub json: Value,
}

impl Reply {
    /// Asserts an RFC 9457 problem with this status and code.
    #[track_caller]
    pub fn assert_problem(&self, status: u16, code: &str) {
        assert_eq!(self.status.as_u16(), status, "unexpected status; body: {}", self.text);
        assert_eq!(
            self.headers.get("content-type").and_then(|v| v.to_str().ok()),
            Some("application/problem+json"),
            "problem content type; body: {}",
            self.text
        );
        assert_eq!(self.json["code"], code, "problem code; body: {}", self.text);
        assert_eq!(self.json["status"], status);
        assert_eq!(self.json["type"], "about:blank");
        assert!(self.json["title"].is_string() && self.json["detail"].is_string());
    }

    #[track_caller]
    pub fn assert_status(&self, status: u16) -> &Value {
        assert_eq!(self.status.as_u16(), status, "unexpected status; body: {}", self.text);
        &self.json
    }
}

/// A signed-in user.
#[derive(Debug, Clone)]
pub struct Session {
    pub username: String,
    pub password: String,
    pub access: String,
    pub refresh: String,
}

impl TestApp {
    pub async fn embedded() -> Self {
        Self::start(StoreChoice::Embedded).await
    }

    /// DynamoDB Local, started by scripts/test; each test gets a table of its own.
    pub async fn dynamodb() -> Self {
        let endpoint = std::env::var("CHATHUB_TEST_DYNAMODB_ENDPOINT").expect(
            "CHATHUB_TEST_DYNAMODB_ENDPOINT is not set: run the suite with scripts/test, which starts DynamoDB Local",
        );
        let table = format!("test-{}", ulid::Ulid::new().to_string().to_lowercase());
        Self::start(StoreChoice::DynamoDb { endpoint, table }).await
    }

    /// The embedded store, with files on a separate S3-compatible server reached through
    /// `--s3-endpoint` (the bucket is created through the S3 API).
    pub async fn external_s3() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = chathub_gateway::s3::url(listener.local_addr().unwrap());
        let root = std::env::temp_dir().join(format!("chathub-test-s3-{}", ulid::Ulid::new()));
        std::fs::create_dir_all(&root).unwrap();
        let (access_key, secret_key) = ("external-test".to_owned(), chathub_gateway::random_key(32));
        let server = chathub_gateway::s3::serve(listener, &root, &access_key, &secret_key, Vec::new()).unwrap();
        std::mem::forget(server);
        let blobs = BlobChoice::External {
            endpoint,
            access_key,
            secret_key,
            bucket: format!("bucket-{}", ulid::Ulid::new().to_string().to_lowercase()),
        };
        Self::start_with(StoreChoice::Embedded, blobs).await
    }

    async fn start(store: StoreChoice) -> Self {
        Self::start_with(store, Self::embedded_blobs()).await
    }

    fn embedded_blobs() -> BlobChoice {
        BlobChoice::Embedded {
            addr: "127.0.0.1:0".parse().unwrap(),
            root: std::env::temp_dir().join(format!("chathub-test-{}", ulid::Ulid::new())),
        }
    }

    /// The embedded store, with pushes published through `provider` (SNS at moto's server).
    pub async fn embedded_with_push(provider: Arc<dyn chathub_shared::notifications::provider::PushProvider>) -> Self {
        Self::start_full(StoreChoice::Embedded, Self::embedded_blobs(), Some(provider), WsLimits::default()).await
    }

    /// The embedded store, with a WebSocket idle timeout and lifetime other than API Gateway's.
    pub async fn embedded_with_ws_limits(ws_limits: WsLimits) -> Self {
        Self::start_full(StoreChoice::Embedded, Self::embedded_blobs(), None, ws_limits).await
    }

    /// The open sockets' connection ids.
    pub fn socket_ids(&self) -> Vec<String> {
        self.gateway.socket_ids()
    }

    /// A management API client (`PostToConnection`) signed with the keys the gateway knows.
    pub async fn management(&self) -> chathub_shared::notify::ApiGatewayNotifier {
        let endpoint = self.ws_url.replacen("ws://", "http://", 1);
        chathub_shared::notify::ApiGatewayNotifier::local(&endpoint, TEST_MANAGEMENT_KEYS.0, TEST_MANAGEMENT_KEYS.1)
            .await
    }

    /// Whether this app runs on DynamoDB Local (else on the embedded store).
    pub fn on_dynamodb(&self) -> bool {
        self.dynamodb
    }

    async fn start_with(store: StoreChoice, blobs: BlobChoice) -> Self {
        Self::start_full(store, blobs, None, WsLimits::default()).await
    }

    async fn start_full(
        store: StoreChoice,
        blobs: BlobChoice,
        push_provider: Option<Arc<dyn chathub_shared::notifications::provider::PushProvider>>,
        ws_limits: WsLimits,
    ) -> Self {
        let dynamodb = matches!(store, StoreChoice::DynamoDb { .. });
        let table = match &store {
            StoreChoice::DynamoDb { endpoint, table } => Some((endpoint.clone(), table.clone())),
            StoreChoice::Embedded => None,
        };
        if std::env::var_os("CHATHUB_TEST_LOG").is_some() {
            chathub_shared::telemetry::init();
        }
        let clock = Arc::new(ManualClock::starting_now());
        let management = chathub_gateway::sigv4::Keys::new(TEST_MANAGEMENT_KEYS.0, TEST_MANAGEMENT_KEYS.1);
        let options = Options {
            rest_addr: "127.0.0.1:0".parse().unwrap(),
            ws_addr: "127.0.0.1:0".parse().unwrap(),
            blobs,
            store,
            jwt_secret: TEST_SECRET.to_vec(),
            cors_origins: vec![],
            clock: Some(clock.clone()),
            limits: Default::default(),
            push_content: Default::default(),
            push_provider,
            ws_limits,
        };
        let gateway = start_with_management_keys(options, management).await.expect("gateway starts");
        let http = reqwest::Client::builder().timeout(std::time::Duration::from_secs(30)).build().unwrap();
        Self { url: gateway.rest_url(), ws_url: gateway.ws_url(), http, clock, gateway, dynamodb, table }
    }

    pub fn clock_now(&self) -> i64 {
        use chathub_shared::clock::Clock;
        self.clock.now_ms()
    }

    /// Stops the gateway, and on DynamoDB Local drops this test's table: DynamoDB Local keeps
    /// working on every table's stream, so tables left behind slow every test after.
    pub async fn stop(self) {
        self.gateway.shutdown().await;
        if let Some((endpoint, table)) = &self.table {
            let client = chathub_shared::store::dynamo::local_client(endpoint).await;
            let _ = client.delete_table().table_name(table).send().await;
        }
    }

    /// Sends a request; `body` is sent as raw text when it is a JSON string, as JSON otherwise.
    pub async fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> Reply {
        let mut req =
            self.http.request(Method::from_bytes(method.as_bytes()).unwrap(), format!("{}{}", self.url, path));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        req = match body {
            Some(Value::String(raw)) => req.header("content-type", "application/json").body(raw),
            Some(value) => req.json(&value),
            None => req,
        };
        self.send(req).await
    }

    pub async fn send(&self, req: reqwest::RequestBuilder) -> Reply {
        let resp = req.send().await.expect("request reaches the gateway");
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap_or_default();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        assert!(status.as_u16() < 500, "server error {status}: {text}");
        Reply { status, headers, text, json }
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.call("GET", path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.call("POST", path, token, Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call("PATCH", path, Some(token), Some(body)).await
    }

    pub async fn delete(&self, path: &str, token: &str) -> Reply {
        self.call("DELETE", path, Some(token), None).await
    }

    /// Registers `username` with a password derived from it, and returns its session.
    pub async fn register(&self, username: &str) -> Session {
        self.register_with(json!({ "username": username, "password": format!("{username}-password") })).await
    }

    pub async fn register_with(&self, body: Value) -> Session {
        let reply = self.post("/auth/register", None, body.clone()).await;
        let json = reply.assert_status(201);
        Session {
            username: json["user"]["username"].as_str().unwrap().to_owned(),
            password: body["password"].as_str().unwrap().to_owned(),
            access: json["access_token"].as_str().unwrap().to_owned(),
            refresh: json["refresh_token"].as_str().unwrap().to_owned(),
        }
    }

    /// A WebSocket connection for this session.
    pub async fn socket(&self, session: &Session) -> ws::WsClient {
        ws::WsClient::connect(&self.ws_url, &session.access, &session.username).await
    }

    pub async fn login(&self, identifier: &str, password: &str) -> Reply {
        self.post("/auth/login", None, json!({ "username": identifier, "password": password })).await
    }

    /// Another session of the same user (a login): a second device, or fresh tokens after the
    /// clock moved past the first's.
    pub async fn another_session(&self, who: &Session) -> Session {
        let json = self.login(&who.username, &who.password).await.assert_status(200).clone();
        Session {
            access: json["access_token"].as_str().unwrap().to_owned(),
            refresh: json["refresh_token"].as_str().unwrap().to_owned(),
            ..who.clone()
        }
    }

    /// What `GET /_local/pushes` shows for `username`: the publishes and the decisions not to.
    pub async fn pushes(&self, username: &str) -> (Vec<Value>, Vec<Value>) {
        let reply = self.call("GET", &format!("/_local/pushes?username={username}"), None, None).await;
        let body = reply.assert_status(200);
        (body["items"].as_array().unwrap().clone(), body["skipped"].as_array().unwrap().clone())
    }

    /// Waits (bounded: 10 s) until `username` has `published` publishes and `skipped` decisions
    /// not to, then checks that no more come (the notify function runs off the send path, a
    /// moment later).
    pub async fn settled_pushes(&self, username: &str, published: usize, skipped: usize) -> (Vec<Value>, Vec<Value>) {
        for _ in 0..500 {
            let (items, skips) = self.pushes(username).await;
            if items.len() >= published && skips.len() >= skipped {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let (items, skips) = self.pushes(username).await;
        assert_eq!((items.len(), skips.len()), (published, skipped), "{username}: {items:#?} {skips:#?}");
        (items, skips)
    }
}

/// Runs each scenario against the embedded store and against DynamoDB Local.
#[macro_export]
macro_rules! on_both_stores {
    ($($scenario:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    let app = $crate::support::TestApp::embedded().await;
                    super::$scenario(&app).await;
                    app.stop().await;
                }
            )*
        }
        mod dynamodb {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    let app = $crate::support::TestApp::dynamodb().await;
                    super::$scenario(&app).await;
                    app.stop().await;
                }
            )*
        }
    };
}

/// Runs each domain-level scenario (`support::domain`, no gateway) on the embedded store and on
/// DynamoDB Local: each is an `async fn(Backing)`.
#[macro_export]
macro_rules! on_both_backings {
    ($($scenario:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    super::$scenario($crate::support::domain::Backing::Memory).await;
                }
            )*
        }
        mod dynamodb {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    super::$scenario($crate::support::domain::Backing::Dynamo).await;
                }
            )*
        }
    };
}

/// Runs each scenario with files on the gateway's embedded S3 server and on a separate one.
#[macro_export]
macro_rules! on_both_blob_stores {
    ($($scenario:ident),* $(,)?) => {
        $crate::on_both_stores!($($scenario),*);
        mod external_s3 {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    let app = $crate::support::TestApp::external_s3().await;
                    super::$scenario(&app).await;
                    app.stop().await;
                }
            )*
        }
    };
}
