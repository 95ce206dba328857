//! `chathub-local`: the whole of Chathub on a laptop.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use chathub_gateway::{BlobChoice, Options, StoreChoice};
use chathub_shared::notifications::alert::Content;
use clap::Parser;

/// Runs Chathub locally: API Gateway's HTTP API on --rest-addr, its WebSocket API (with the
/// management API) on --ws-addr, and an S3-compatible server for files on --s3-addr; every route's
/// Lambda handler in-process, on the embedded store (default) or on DynamoDB.
#[derive(Parser, Debug)]
#[command(name = "chathub-local", version)]
struct Args {
    /// Address of the REST API (API Gateway HTTP API stand-in).
    #[arg(long, env = "CHATHUB_REST_ADDR", default_value = "127.0.0.1:3000")]
    rest_addr: SocketAddr,
    /// Address of the WebSocket API (API Gateway WebSocket API stand-in) and of its management
    /// API (`/@connections/{id}`).
    #[arg(long, env = "CHATHUB_WS_ADDR", default_value = "127.0.0.1:3001")]
    ws_addr: SocketAddr,
    /// Use DynamoDB at this endpoint (for example DynamoDB Local at http://127.0.0.1:8000)
    /// instead of the embedded in-memory store. The table is created when missing.
    #[arg(long, env = "DYNAMODB_ENDPOINT")]
    dynamodb_endpoint: Option<String>,
    /// DynamoDB table name.
    #[arg(long, env = "TABLE_NAME", default_value = "chathub")]
    table: String,
    /// The access tokens' Ed25519 signing key: a private JWK (as `chathub-local keys` prints it),
    /// or at least 32 bytes of key material the key pair is derived from. Default: a fresh key
    /// pair per run (tokens do not outlive the run). Required to listen on anything but loopback.
    /// The public key is served at /.well-known/jwks.json.
    #[arg(long, alias = "signing-key", env = "JWT_SECRET", hide_env_values = true)]
    jwt_secret: Option<String>,
    /// Another allowed CORS origin (repeatable); http://localhost:* and http://127.0.0.1:* always are.
    #[arg(long = "cors-origin")]
    cors_origins: Vec<String>,
    /// Address of the embedded S3-compatible server that holds files (uploads and downloads go
    /// straight to it with presigned URLs).
    #[arg(long, env = "CHATHUB_S3_ADDR", default_value = "127.0.0.1:3002")]
    s3_addr: SocketAddr,
    /// Folder the embedded S3 server keeps files in (default: a new folder under the system's
    /// temporary directory).
    #[arg(long, env = "CHATHUB_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Use this S3-compatible endpoint for files instead of the embedded server (with
    /// --s3-access-key, --s3-secret-key and --bucket; the bucket is created when missing).
    #[arg(long, env = "S3_ENDPOINT")]
    s3_endpoint: Option<String>,
    /// Keys of --s3-endpoint; with the embedded server, the key pair it accepts (default: a fresh
    /// pair per run; give one when functions outside the gateway sign for it, as scripts/watch does).
    #[arg(long, env = "S3_ACCESS_KEY_ID", default_value = "")]
    s3_access_key: String,
    #[arg(long, env = "S3_SECRET_ACCESS_KEY", default_value = "", hide_env_values = true)]
    s3_secret_key: String,
    /// The key pair the management API (`/@connections`) takes SigV4 signatures from (default: a
    /// fresh pair per run, which the gateway's own functions sign with; give one when functions
    /// outside the gateway push through it, as scripts/watch does).
    #[arg(long, env = "CHATHUB_MANAGEMENT_ACCESS_KEY", default_value = "")]
    management_access_key: String,
    #[arg(long, env = "CHATHUB_MANAGEMENT_SECRET_KEY", default_value = "", hide_env_values = true)]
    management_secret_key: String,
    /// Bucket name on --s3-endpoint.
    #[arg(long, env = "BUCKET_NAME", default_value = "chathub-files")]
    bucket: String,
    /// What push notifications may say: `full`, or `hidden` (title and body "New message").
    #[arg(long, env = "PUSH_CONTENT", default_value = "full", value_parser = ["full", "hidden"])]
    push_content: String,
    /// Publish pushes through SNS at this endpoint (moto's server, say) instead of recording them
    /// for GET /_local/pushes; the platform applications come from SNS_APNS_APPLICATION_ARN,
    /// SNS_APNS_SANDBOX_APPLICATION_ARN and SNS_FCM_APPLICATION_ARN.
    #[arg(long, env = "SNS_ENDPOINT")]
    sns_endpoint: Option<String>,
    /// Close a WebSocket whose client sent no message for this many seconds (API Gateway: 600;
    /// pushes to it do not count).
    #[arg(long, env = "CHATHUB_WS_IDLE_TIMEOUT", default_value_t = 600, value_parser = clap::value_parser!(u64).range(1..))]
    ws_idle_timeout: u64,
    /// Close any WebSocket this many seconds after it connected (API Gateway: 7200).
    #[arg(long, env = "CHATHUB_WS_MAX_LIFETIME", default_value_t = 7200, value_parser = clap::value_parser!(u64).range(1..))]
    ws_max_lifetime: u64,
    /// Serve the web client (the folder with its index.html, `web/` in the repository) on
    /// --web-addr, pointed at this gateway. `scripts/dev` gives it.
    #[arg(long, env = "CHATHUB_WEB_DIR")]
    web_dir: Option<PathBuf>,
    /// Address of the web client's own origin (with --web-dir).
    #[arg(long, env = "CHATHUB_WEB_ADDR", default_value = "127.0.0.1:3003")]
    web_addr: SocketAddr,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(clap::Subcommand, Debug)]
enum Command {
    /// Print a fresh Ed25519 signing key for a deployment, as JSON: `signing_key` (the private JWK,
    /// for the Secrets Manager secret) and `public_keys` (the JWK set for the template's
    /// JwtPublicKeys parameter). Serves nothing. See docs/keys.md.
    Keys {
        /// The JWK set in use now: its keys stay in `public_keys` after the new one, so tokens
        /// signed before a rotation keep verifying until they expire.
        #[arg(long)]
        previous: Option<String>,
    },
}

/// `chathub-local keys`: the new key pair, and the public set with the previous keys after it.
fn print_keys(previous: Option<String>) -> ExitCode {
    let key = chathub_shared::keys::SigningKey::generate();
    let mut public = vec![serde_json::to_value(key.public_jwk()).unwrap_or_default()];
    if let Some(previous) = previous.filter(|p| !p.trim().is_empty()) {
        match chathub_shared::keys::Keyring::verifying(&previous) {
            Ok(set) => public.extend(set.jwks().keys.iter().filter_map(|jwk| serde_json::to_value(jwk).ok())),
            Err(e) => {
                eprintln!("chathub-local keys: --previous: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    let signing_key: serde_json::Value = serde_json::from_str(&key.to_private_jwk()).unwrap_or_default();
    println!(
        "{}",
        serde_json::json!({ "kid": key.kid(), "signing_key": signing_key, "public_keys": { "keys": public } })
    );
    ExitCode::SUCCESS
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(Command::Keys { previous }) = args.command {
        return print_keys(previous);
    }
    chathub_shared::telemetry::init();
    let key_given = args.jwt_secret.as_deref().is_some_and(|k| !k.is_empty());
    let mut listening = vec![args.rest_addr, args.ws_addr];
    if args.s3_endpoint.as_deref().is_none_or(str::is_empty) {
        listening.push(args.s3_addr);
    }
    let web_dir = args.web_dir.filter(|d| !d.as_os_str().is_empty());
    if web_dir.is_some() {
        listening.push(args.web_addr);
    }
    if let Err(refused) = chathub_gateway::check_exposure(&listening, key_given) {
        eprintln!("chathub-local: {refused}");
        return ExitCode::FAILURE;
    }
    let limits = match chathub_shared::config::Limits::from_env() {
        Ok(limits) => limits,
        Err(e) => {
            eprintln!("chathub-local: {e}");
            return ExitCode::FAILURE;
        }
    };
    let store = match args.dynamodb_endpoint.filter(|e| !e.is_empty()) {
        Some(endpoint) => StoreChoice::DynamoDb { endpoint, table: args.table },
        None => StoreChoice::Embedded,
    };
    let blobs = match args.s3_endpoint.filter(|e| !e.is_empty()) {
        Some(endpoint) => BlobChoice::External {
            endpoint,
            access_key: args.s3_access_key,
            secret_key: args.s3_secret_key,
            bucket: args.bucket,
        },
        None => {
            let root = args
                .data_dir
                .unwrap_or_else(|| std::env::temp_dir().join(format!("chathub-local-{}", std::process::id())));
            if args.s3_access_key.is_empty() || args.s3_secret_key.is_empty() {
                BlobChoice::Embedded { addr: args.s3_addr, root }
            } else {
                BlobChoice::EmbeddedWithKeys {
                    addr: args.s3_addr,
                    root,
                    access_key: args.s3_access_key,
                    secret_key: args.s3_secret_key,
                }
            }
        }
    };
    let options = Options {
        blobs,
        rest_addr: args.rest_addr,
        ws_addr: args.ws_addr,
        store: store.clone(),
        jwt_secret: chathub_gateway::signing_key(args.jwt_secret),
        cors_origins: args.cors_origins,
        clock: None,
        limits,
        push_content: Content::parse(&args.push_content).unwrap_or_default(),
        push_provider: match &args.sns_endpoint {
            Some(endpoint) if !endpoint.is_empty() => {
                let sns = chathub_shared::notifications::sns::SnsProvider::local(endpoint).await;
                Some(std::sync::Arc::new(sns)
                    as std::sync::Arc<dyn chathub_shared::notifications::provider::PushProvider>)
            }
            _ => None,
        },
        ws_limits: chathub_gateway::ws::WsLimits {
            idle_timeout: std::time::Duration::from_secs(args.ws_idle_timeout),
            max_lifetime: std::time::Duration::from_secs(args.ws_max_lifetime),
        },
    };
    let management = if args.management_access_key.is_empty() || args.management_secret_key.is_empty() {
        chathub_gateway::sigv4::Keys::random()
    } else {
        chathub_gateway::sigv4::Keys::new(args.management_access_key, args.management_secret_key)
    };
    let gateway = match chathub_gateway::start_with_management_keys(options, management).await {
        Ok(g) => g,
        Err(e) => {
            eprintln!("chathub-local: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut web = None;
    if let Some(dir) = &web_dir {
        let config = chathub_gateway::web::config_js(&gateway.rest_url(), &gateway.ws_url());
        let served = match tokio::net::TcpListener::bind(args.web_addr).await {
            Ok(listener) => {
                listener.local_addr().and_then(|addr| Ok((addr, chathub_gateway::web::serve(listener, dir, config)?)))
            }
            Err(e) => Err(e),
        };
        match served {
            Ok((addr, task)) => web = Some((format!("http://{addr}/"), task)),
            Err(e) => {
                eprintln!("chathub-local: the web client on {}: {e}", args.web_addr);
                gateway.shutdown().await;
                return ExitCode::FAILURE;
            }
        }
    }
    let web_url = web.as_ref().map(|(url, _)| url.clone());
    tracing::info!(rest = %gateway.rest_url(), websocket = %gateway.ws_url(), s3 = %gateway.s3_url, web = ?web_url, store = ?store, "chathub-local is serving; Ctrl-C stops it");
    if let Some(url) = &web_url {
        // Where to point a browser, on its own line for whoever started it.
        eprintln!("Chathub's web client: {url}");
    }
    let _ = tokio::signal::ctrl_c().await;
    tracing::info!("shutting down");
    if let Some((_, task)) = web {
        task.abort();
    }
    gateway.shutdown().await;
    ExitCode::SUCCESS
}
