//! Cold starts, measured the way Lambda sees them: each binary is started fresh under a small
//! Lambda runtime API emulator and timed from exec to its first `next` poll (init) and to its first
//! answered event. SDK clients are built as in production (the environment's region and keys, with
//! `AWS_ENDPOINT_URL_DYNAMODB` pointing the unchanged DynamoDB client at DynamoDB Local), and the
//! sample event in events/ carries a real access token for a user that exists in the table.
//!
//! Runs go round-robin over every binary (floor, Node.js, each function), so machine noise falls
//! on all of them alike. Prints one line per binary and writes every sample as JSON.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::routing::{get, post};
use axum::Router;
use chathub_shared::accounts;
use chathub_shared::blobs::NoBlobStore;
use chathub_shared::clients::Local;
use chathub_shared::config::Config;
use chathub_shared::keys::{Signer, SigningKey};
use chathub_shared::notify::NoNotifier;
use chathub_shared::store::dynamo::{self, DynamoStore};
use chathub_shared::{Ctx, With};
use clap::Parser;
use serde_json::{json, Value};
use tokio::sync::oneshot;

/// The secret name the functions that issue tokens are given.
const SIGNING_KEY_SECRET: &str = "chathub-bench-jwt-signing-key";

#[derive(Parser)]
struct Args {
    /// The folder holding one executable per function, named after it.
    #[arg(long)]
    bin_dir: PathBuf,
    /// The sample events (events/<function>.json).
    #[arg(long)]
    events: PathBuf,
    /// The floor binary.
    #[arg(long)]
    floor: PathBuf,
    /// The Node.js comparison (a bootstrap .mjs beside its node_modules), if any.
    #[arg(long)]
    node: Option<PathBuf>,
    /// DynamoDB Local.
    #[arg(long)]
    dynamodb_endpoint: String,
    /// Cold starts per binary.
    #[arg(long, default_value_t = 7)]
    runs: usize,
    /// Which functions (default: every binary in --bin-dir that has a sample event).
    #[arg(long, value_delimiter = ',')]
    functions: Vec<String>,
    /// Where the samples go, as JSON.
    #[arg(long)]
    out: PathBuf,
}

/// One cold start in progress, as the emulator sees it.
struct Run {
    event: String,
    started: Instant,
    delivered: bool,
    init: Option<Duration>,
    answered: Option<(Duration, String)>,
    done: Option<oneshot::Sender<()>>,
}

type Shared = Arc<Mutex<Option<Run>>>;

async fn next(State(shared): State<Shared>) -> (StatusCode, HeaderMap, String) {
    let event = {
        let mut guard = shared.lock().unwrap();
        match guard.as_mut() {
            Some(run) if !run.delivered => {
                run.init.get_or_insert(run.started.elapsed());
                run.delivered = true;
                Some(run.event.clone())
            }
            _ => None,
        }
    };
    // After its one event a function waits here until it is stopped, as a frozen Lambda would.
    let Some(event) = event else { std::future::pending().await };
    let mut headers = HeaderMap::new();
    let deadline =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap() + Duration::from_secs(30);
    headers.insert("lambda-runtime-aws-request-id", HeaderValue::from_static("bench-request"));
    headers.insert("lambda-runtime-deadline-ms", HeaderValue::from(deadline.as_millis() as u64));
    headers.insert(
        "lambda-runtime-invoked-function-arn",
        HeaderValue::from_static("arn:aws:lambda:us-east-1:123456789012:function:bench"),
    );
    headers.insert("lambda-runtime-trace-id", HeaderValue::from_static("Root=1-00000000-000000000000000000000000"));
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    (StatusCode::OK, headers, event)
}

fn finish(shared: &Shared, body: String) -> StatusCode {
    let mut guard = shared.lock().unwrap();
    if let Some(run) = guard.as_mut() {
        run.answered.get_or_insert((run.started.elapsed(), body));
        if let Some(done) = run.done.take() {
            let _ = done.send(());
        }
    }
    StatusCode::ACCEPTED
}

async fn response(State(shared): State<Shared>, Path(_id): Path<String>, body: String) -> StatusCode {
    finish(&shared, body)
}

async fn error(State(shared): State<Shared>, Path(_id): Path<String>, body: String) -> StatusCode {
    finish(&shared, format!("{{\"error\":{}}}", json!(body)))
}

async fn init_error(State(shared): State<Shared>, body: String) -> StatusCode {
    finish(&shared, format!("{{\"init_error\":{}}}", json!(body)))
}

/// What a binary answered, in one word: the HTTP status it returned, `allow` for an authorizer's
/// policy, `echo` for the floor, or the error.
fn outcome(body: &str) -> String {
    let value: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    if let Some(status) = value["statusCode"].as_u64() {
        return status.to_string();
    }
    if value.get("policyDocument").is_some() {
        return "allow".into();
    }
    if let Some(error) = value.get("error").or_else(|| value.get("init_error")) {
        return format!("error: {error}");
    }
    "echo".into()
}

struct Binary {
    name: String,
    kind: &'static str,
    program: PathBuf,
    args: Vec<String>,
    event: String,
}

#[derive(Default)]
struct Samples {
    init_ms: Vec<f64>,
    first_ms: Vec<f64>,
    outcomes: BTreeMap<String, usize>,
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let shared: Shared = Arc::new(Mutex::new(None));
    // The table, and alice in it, as the samples expect.
    let table = format!("bench-{}", std::process::id());
    let secret = format!("bench-secret-{}-{}", std::process::id(), "x".repeat(32));
    let config = Config::new(secret.clone().into_bytes(), table.clone()).unwrap();
    let public_keys = serde_json::to_string(config.keys.jwks()).unwrap();
    let key = SigningKey::from_material(secret.as_bytes()).unwrap();
    let private_key = key.to_private_jwk();
    let app = Router::new()
        // Secrets Manager's GetSecretValue, as the functions that issue tokens call it at cold start
        // (`AWS_ENDPOINT_URL_SECRETS_MANAGER` points the unchanged client here): answered at once,
        // so what is measured is the client and the call, not AWS's network.
        .route(
            "/",
            post(move || {
                let body = json!({ "Name": SIGNING_KEY_SECRET, "SecretString": private_key }).to_string();
                async move { ([("content-type", "application/x-amz-json-1.1")], body) }
            }),
        )
        // API Gateway's management API (`PostToConnection`, `DeleteConnection`), as the functions
        // that push or answer early call it: accepted at once, like the Secrets Manager stand-in.
        // (Pointing them at a closed port made every post fail through the SDK's retries: a
        // WebSocket send's first answer took 1.5 s, none of it the function's.)
        .route("/@connections/{id}", post(|| async { StatusCode::OK }).delete(|| async { StatusCode::NO_CONTENT }))
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route("/2018-06-01/runtime/invocation/{id}/response", post(response))
        .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
        .route("/2018-06-01/runtime/init/error", post(init_error))
        .with_state(shared.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let runtime_api = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let client = dynamo::local_client(&args.dynamodb_endpoint).await;
    dynamo::ensure_table(&client, &table).await.expect("table");
    let ctx = Ctx::new(config, Arc::new(DynamoStore::new(client, table.clone())));
    let ctx = With {
        ctx,
        clients: Local {
            pusher: Arc::new(NoNotifier),
            blobs: Arc::new(NoBlobStore),
            signer: Signer::local(key),
            push_provider: Arc::new(chathub_shared::notifications::provider::Recorder::new()),
            moderation: Arc::new(chathub_shared::reports::moderation::ReportRecorder::new()),
        },
    };
    let register = json!({"username": "alice", "password": "correct horse battery", "email": "alice@example.com"});
    let token = match accounts::register(&ctx, serde_json::from_value(register).unwrap()).await {
        Ok(tokens) => tokens.access_token,
        Err(e) => panic!("cannot register alice: {e}"),
    };

    let mut binaries = vec![Binary {
        name: "floor".into(),
        kind: "floor",
        program: args.floor.clone(),
        args: vec![],
        event: "{}".into(),
    }];
    if let Some(node) = &args.node {
        binaries.push(Binary {
            name: "node-getitem".into(),
            kind: "node",
            program: "node".into(),
            args: vec![node.display().to_string()],
            event: "{}".into(),
        });
    }
    let mut functions = args.functions.clone();
    if functions.is_empty() {
        for entry in std::fs::read_dir(&args.events).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            if let Some(function) = name.strip_suffix(".json") {
                if args.bin_dir.join(function).is_file() {
                    functions.push(function.to_owned());
                }
            }
        }
        functions.sort();
    }
    for function in &functions {
        let text = std::fs::read_to_string(args.events.join(format!("{function}.json"))).expect("sample event");
        binaries.push(Binary {
            name: function.clone(),
            kind: "rust",
            program: args.bin_dir.join(function),
            args: vec![],
            event: text.replace("REPLACE_WITH_AN_ACCESS_TOKEN", &token),
        });
    }

    let mut samples: Vec<Samples> = binaries.iter().map(|_| Samples::default()).collect();
    for round in 0..args.runs {
        eprintln!("round {}/{}", round + 1, args.runs);
        for (binary, samples) in binaries.iter().zip(samples.iter_mut()) {
            let (done, finished) = oneshot::channel();
            let started = Instant::now();
            *shared.lock().unwrap() = Some(Run {
                event: binary.event.clone(),
                started,
                delivered: false,
                init: None,
                answered: None,
                done: Some(done),
            });
            let mut child = tokio::process::Command::new(&binary.program)
                .args(&binary.args)
                .env_clear()
                .env("PATH", std::env::var("PATH").unwrap_or_default())
                .env("AWS_LAMBDA_RUNTIME_API", &runtime_api)
                .env("AWS_LAMBDA_FUNCTION_NAME", &binary.name)
                .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
                .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
                .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/bench")
                .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
                .env("AWS_REGION", "us-east-1")
                .env("AWS_DEFAULT_REGION", "us-east-1")
                .env("AWS_ACCESS_KEY_ID", "bench")
                .env("AWS_SECRET_ACCESS_KEY", "bench")
                .env("AWS_SESSION_TOKEN", "bench")
                .env("AWS_ENDPOINT_URL_DYNAMODB", &args.dynamodb_endpoint)
                .env("TABLE_NAME", &table)
                .env("JWT_PUBLIC_KEYS", &public_keys)
                // Binaries of commits before EdDSA tokens (a baseline) read an HS256 key.
                .env("JWT_SECRET", &secret)
                .env("JWT_SIGNING_KEY_SECRET", SIGNING_KEY_SECRET)
                .env("AWS_ENDPOINT_URL_SECRETS_MANAGER", format!("http://{runtime_api}"))
                .env("BUCKET_NAME", "chathub-bench")
                .env("WEBSOCKET_MANAGEMENT_ENDPOINT", format!("http://{runtime_api}"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.program.display()));
            let answered = tokio::time::timeout(Duration::from_secs(30), finished).await.is_ok();
            let _ = child.kill().await;
            let run = shared.lock().unwrap().take().unwrap();
            match (answered, run.init, run.answered) {
                (true, Some(init), Some((first, body))) => {
                    samples.init_ms.push(init.as_secs_f64() * 1000.0);
                    samples.first_ms.push(first.as_secs_f64() * 1000.0);
                    *samples.outcomes.entry(outcome(&body)).or_default() += 1;
                }
                (_, _, answered) => {
                    let what = answered.map(|(_, body)| outcome(&body)).unwrap_or_else(|| "no answer in 30 s".into());
                    *samples.outcomes.entry(what).or_default() += 1;
                }
            }
        }
    }

    let mut results = Vec::new();
    println!("{:<28} {:>9} {:>12} {:>9} {:>12}  answers", "binary", "init p50", "init spread", "1st p50", "1st spread");
    for (binary, samples) in binaries.iter().zip(&samples) {
        let init = summary(&samples.init_ms);
        let first = summary(&samples.first_ms);
        println!(
            "{:<28} {:>7.1}ms {:>5.1}-{:>5.1}ms {:>7.1}ms {:>5.1}-{:>5.1}ms  {:?}",
            binary.name, init.0, init.1, init.2, first.0, first.1, first.2, samples.outcomes
        );
        results.push(json!({
            "name": binary.name,
            "kind": binary.kind,
            "init_ms": samples.init_ms,
            "first_ms": samples.first_ms,
            "outcomes": samples.outcomes,
        }));
    }
    let out = json!({ "runs": args.runs, "results": results });
    std::fs::write(&args.out, serde_json::to_string_pretty(&out).unwrap()).unwrap();
}

/// Median, minimum and maximum (NaN when there are none).
fn summary(values: &[f64]) -> (f64, f64, f64) {
    if values.is_empty() {
        return (f64::NAN, f64::NAN, f64::NAN);
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let median = if sorted.len() % 2 == 1 {
        sorted[sorted.len() / 2]
    } else {
        (sorted[sorted.len() / 2 - 1] + sorted[sorted.len() / 2]) / 2.0
    };
    (median, sorted[0], sorted[sorted.len() - 1])
}
