//! Load on the whole system: the local gateway (REST and WebSocket, the embedded store, the
//! management API the functions push through) in this process, driven over real HTTP and
//! WebSocket connections on 127.0.0.1.
//!
//! - Throughput: C clients, one socket each, in overlapping groups of 8 (each client in about two
//!   groups), all fire their `send_message` frames at once. Reported: deliveries per second,
//!   send-to-delivery latency percentiles, and an audit: every message delivered exactly once to
//!   every other member socket, in id order per conversation.
//! - Fan-out: one message sent over REST to a conversation of N members, each with a socket;
//!   time until the last socket has it.
//! - Hot room: one conversation of N members, one socket each, every member sending at once.
//! - Offered rate: a room of N members with M sockets online takes R messages per second over
//!   REST for a few seconds, sent on schedule whatever the answers' pace; send-to-delivery
//!   latency is counted from each message's scheduled time, so a backlog shows.
//! - Push latency: a room whose members have phones and no socket takes messages over REST at a
//!   fixed rate; each publish of the notify function (embedded feed, or DynamoDB Local's stream)
//!   is timed from its send's answer.
//!
//! The store is the embedded one, or DynamoDB (Local) behind a proxy here that counts requests
//! and can add latency; `CHATHUB_POST_LATENCY_MS` makes the gateway's management API slow.
//! `--clients 0` or `--fanout 0` skips those runs.
//!
//! Prints a table and writes every figure as JSON.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chathub_gateway::{start, BlobChoice, Gateway, Options, StoreChoice};
use chathub_shared::config::Limits; // gateway-limits
use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

#[derive(Parser)]
struct Args {
    /// Client counts for the throughput runs.
    #[arg(long, value_delimiter = ',', default_value = "10,50,100,200")]
    clients: Vec<usize>,
    /// Messages each client sends per run.
    #[arg(long, default_value_t = 10)]
    per_client: usize,
    /// Throughput runs per client count (fresh groups each time).
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Conversation sizes for the fan-out runs.
    #[arg(long, value_delimiter = ',', default_value = "10,100,1000")]
    fanout: Vec<usize>,
    /// Messages per fan-out size.
    #[arg(long, default_value_t = 7)]
    fanout_runs: usize,
    /// Per-user send limit per 10 s window. The runs measure delivery, not the limit: client
    /// u0000 is in every run and sends 10 messages in each, so a dozen runs inside one window
    /// would pass the deployed default of 100 (sends it refuses are counted as refused).
    #[arg(long, default_value_t = u32::MAX)]
    send_limit: u32,
    /// Hot-room runs: a room of this many members, one socket each (0: none).
    #[arg(long, default_value_t = 0)]
    hot_room: usize,
    /// Messages each hot-room member sends at once.
    #[arg(long, default_value_t = 2)]
    hot_per_member: usize,
    /// Hot-room runs.
    #[arg(long, default_value_t = 3)]
    hot_runs: usize,
    /// Offered-rate runs: rooms of these sizes (none by default). Messages go in over REST at a
    /// fixed rate, from the online members in turn, whatever the answers' pace (open loop).
    #[arg(long, value_delimiter = ',')]
    rate_rooms: Vec<usize>,
    /// Sockets online in each offered-rate room (at most the room's size), one per member.
    #[arg(long, default_value_t = 100)]
    rate_online: usize,
    /// Offered rates, messages per second.
    #[arg(long, value_delimiter = ',', default_value = "10,30,50")]
    rates: Vec<f64>,
    /// How long each rate is offered, in seconds.
    #[arg(long, default_value_t = 5.0)]
    rate_seconds: f64,
    /// Push-latency runs: rooms of these sizes (none by default). Members 1..=`push_phones` have
    /// a phone each and no socket; member 0 sends over REST at `push_rate` messages per second
    /// (open loop); each publish is timed from the send's answer.
    #[arg(long, value_delimiter = ',')]
    push_rooms: Vec<usize>,
    /// Members with a phone in each push-latency room.
    #[arg(long, default_value_t = 3)]
    push_phones: usize,
    /// Messages per push-latency room.
    #[arg(long, default_value_t = 100)]
    push_messages: usize,
    /// Messages per second in the push-latency runs.
    #[arg(long, default_value_t = 10.0)]
    push_rate: f64,
    /// Sockets ask for batch frames (`?batch=1`): several messages of a conversation in one
    /// `send_message_batch` frame when a socket is behind.
    #[arg(long)]
    batch: bool,
    /// DynamoDB (Local) instead of the embedded store: its endpoint. Requests go through a proxy
    /// here that counts them and can add latency.
    #[arg(long)]
    dynamodb_endpoint: Option<String>,
    /// Latency added to every DynamoDB request (with --dynamodb-endpoint), in milliseconds.
    #[arg(long, default_value_t = 0)]
    store_latency_ms: u64,
    /// Where the figures go, as JSON.
    #[arg(long)]
    out: PathBuf,
}

/// DynamoDB requests by operation (`X-Amz-Target`), and by operation and status for the ones
/// that did not answer 200 (conditional failures, transaction conflicts, throttling).
type Operations = Arc<std::sync::Mutex<std::collections::BTreeMap<String, usize>>>;

fn operations_since(now: &Operations, before: &std::collections::BTreeMap<String, usize>) -> Value {
    let now = now.lock().unwrap();
    let diff: serde_json::Map<String, Value> = now
        .iter()
        .map(|(op, n)| (op.clone(), n - before.get(op).copied().unwrap_or(0)))
        .filter(|(_, n)| *n > 0)
        .map(|(op, n)| (op, json!(n)))
        .collect();
    Value::Object(diff)
}

/// A proxy in front of DynamoDB that counts requests (in all and by operation) and delays each
/// by a fixed latency.
async fn dynamodb_proxy(
    upstream: String,
    latency: Duration,
    count: Arc<AtomicUsize>,
    operations: Operations,
) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the DynamoDB proxy");
    let url = format!("http://{}", listener.local_addr().unwrap());
    let client = reqwest::Client::new();
    let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
        let (client, upstream, count, operations) =
            (client.clone(), upstream.clone(), count.clone(), operations.clone());
        async move {
            count.fetch_add(1, Ordering::SeqCst);
            let operation = req
                .headers()
                .get("x-amz-target")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.rsplit('.').next())
                .unwrap_or("?")
                .to_owned();
            if !latency.is_zero() {
                tokio::time::sleep(latency).await;
            }
            let (parts, body) = req.into_parts();
            let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
            let mut forward = client.post(format!("{upstream}{}", parts.uri.path())).body(bytes);
            for (name, value) in &parts.headers {
                if name != "host" && name != "content-length" {
                    forward = forward.header(name.as_str(), value.as_bytes());
                }
            }
            let answer = match forward.send().await {
                Ok(answer) => answer,
                Err(_) => {
                    return axum::response::Response::builder().status(502).body(axum::body::Body::empty()).unwrap()
                }
            };
            {
                let mut operations = operations.lock().unwrap();
                *operations.entry(operation.clone()).or_default() += 1;
                if answer.status() != 200 {
                    *operations.entry(format!("{operation} ({})", answer.status().as_u16())).or_default() += 1;
                }
            }
            let mut response = axum::response::Response::builder().status(answer.status().as_u16());
            for (name, value) in answer.headers() {
                if name != "content-length" && name != "transfer-encoding" && name != "connection" {
                    response = response.header(name.as_str(), value.as_bytes());
                }
            }
            response.body(axum::body::Body::from(answer.bytes().await.unwrap_or_default())).unwrap()
        }
    });
    tokio::spawn(async move { axum::serve(listener, app).await.expect("DynamoDB proxy") });
    url
}

/// How long a run may wait for a frame before it counts what is missing.
const PATIENCE: Duration = Duration::from_secs(60);

struct Bench {
    gateway: Gateway,
    http: reqwest::Client,
    /// Access tokens of u0000, u0001, ...
    tokens: Vec<String>,
    /// Sockets ask for batch frames.
    batch: bool,
    epoch: Instant,
}

impl Bench {
    fn name(i: usize) -> String {
        format!("u{i:04}")
    }

    async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Value {
        let mut request = self.http.post(format!("{}{path}", self.gateway.rest_url())).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("request");
        let status = response.status();
        let json: Value = response.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "POST {path}: {status} {json}");
        json
    }

    /// A group conversation of the given users (the first owns it).
    async fn group(&self, name: &str, members: &[usize]) -> String {
        let owner = &self.tokens[members[0]];
        let names: Vec<String> = members[1..].iter().map(|&m| Self::name(m)).collect();
        let mut chunks = names.chunks(98);
        let first = chunks.next().unwrap_or_default();
        let created = self.post("/conversations", Some(owner), json!({"name": name, "members": first})).await;
        let id = created["id"].as_str().expect("conversation id").to_owned();
        for chunk in chunks {
            self.post(&format!("/conversations/{id}/members"), Some(owner), json!({"usernames": chunk})).await;
        }
        id
    }

    async fn socket(&self, user: usize) -> Socket {
        let batch = if self.batch { "&batch=1" } else { "" };
        let url = format!("{}/?token={}{batch}", self.gateway.ws_url(), self.tokens[user]);
        let (socket, _) = tokio_tungstenite::connect_async(url).await.expect("handshake");
        socket
    }

    fn now_us(&self) -> u64 {
        self.epoch.elapsed().as_micros() as u64
    }
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// What one socket saw: each push's content and conversation/id, with when it came.
struct Seen {
    user: usize,
    pushes: Vec<(String, i64, String, u64)>,
    answers: Vec<u64>,
    /// The numbers `k` of its own sends (`request_id` `r{k}`) answered with an error.
    refused: Vec<usize>,
    /// `send_message_batch` frames among them.
    frames_batched: usize,
}

/// Reads a socket until it has `pushes` pushes and `answers` answers, or until PATIENCE passes
/// without a frame.
/// `progress`, when given, counts the pushes of each message number (the second part of contents).
async fn collect(
    bench: Arc<Bench>,
    user: usize,
    mut stream: futures_util::stream::SplitStream<Socket>,
    pushes: usize,
    answers: usize,
    progress: Option<Arc<Vec<AtomicUsize>>>,
) -> Seen {
    let mut seen = Seen { user, pushes: Vec::new(), answers: Vec::new(), refused: Vec::new(), frames_batched: 0 };
    while seen.pushes.len() < pushes || seen.answers.len() < answers {
        let frame = match tokio::time::timeout(PATIENCE, stream.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => text,
            Ok(Some(Ok(_))) => continue,
            _ => break,
        };
        let at = bench.now_us();
        let value: Value = serde_json::from_str(&frame).unwrap_or(Value::Null);
        let messages: Vec<&Value> = match value["type"].as_str() {
            _ if value.get("request_id").is_some() => {
                seen.answers.push(at);
                if value["success"] == false {
                    let k: Option<usize> =
                        value["request_id"].as_str().and_then(|r| r.strip_prefix('r')).and_then(|k| k.parse().ok());
                    seen.refused.extend(k);
                }
                Vec::new()
            }
            Some("send_message") => vec![&value["data"]],
            Some("send_message_batch") => {
                seen.frames_batched += 1;
                value["data"]["messages"].as_array().map(|m| m.iter().collect()).unwrap_or_default()
            }
            _ => Vec::new(),
        };
        for message in messages {
            if let Some(progress) = &progress {
                let k =
                    message["content"].as_str().and_then(|c| c.split(':').nth(1)).and_then(|k| k.parse::<usize>().ok());
                if let Some(counter) = k.and_then(|k| progress.get(k)) {
                    counter.fetch_add(1, Ordering::SeqCst);
                }
            }
            seen.pushes.push((
                message["conversation_id"].as_str().unwrap_or_default().to_owned(),
                message["id"].as_i64().unwrap_or_default(),
                message["content"].as_str().unwrap_or_default().to_owned(),
                at,
            ));
        }
    }
    seen
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(|a, b| a.partial_cmp(b).unwrap());
    percentile(&sorted, 50.0)
}

/// One throughput run with `clients` clients in overlapping groups of 8.
async fn throughput(bench: &Arc<Bench>, clients: usize, per_client: usize, run: usize) -> Value {
    let groups_n = (clients / 4).max(1);
    let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
    for g in 0..groups_n {
        let mut members: Vec<usize> = (0..8.min(clients)).map(|j| (4 * g + j) % clients).collect();
        members.dedup();
        let id = bench.group(&format!("t{clients}-{run}-{g}"), &members).await;
        groups.push((id, members));
    }
    burst(bench, clients, per_client, groups).await
}

/// A hot room: `members` members, one socket each, all sending `per_member` messages at once.
async fn hot_room(bench: &Arc<Bench>, members: usize, per_member: usize, run: usize) -> Value {
    let everyone: Vec<usize> = (0..members).collect();
    let id = bench.group(&format!("hot-{members}-{run}"), &everyone).await;
    let mut result = burst(bench, members, per_member, vec![(id, everyone)]).await;
    result["room"] = json!(members);
    result
}

/// Every client fires its `send_message` frames at once (per_client each, round-robin over its
/// groups), then reads until it has every push it should get; the audit counts what is missing,
/// duplicated or out of id order.
async fn burst(bench: &Arc<Bench>, clients: usize, per_client: usize, groups: Vec<(String, Vec<usize>)>) -> Value {
    let groups_n = groups.len();
    let mine = |u: usize| -> Vec<&String> { groups.iter().filter(|(_, m)| m.contains(&u)).map(|(id, _)| id).collect() };
    // Who sends what: per_client messages round-robin over the client's groups.
    let plan: Vec<Vec<String>> = (0..clients)
        .map(|u| {
            let ids = mine(u);
            (0..per_client).map(|k| ids[k % ids.len()].clone()).collect()
        })
        .collect();
    let members_of: HashMap<&String, &Vec<usize>> = groups.iter().map(|(id, m)| (id, m)).collect();
    // Pushes each client should get: every other member's sends to its groups, but those refused
    // (numbered `(sender, k)`).
    let expected_with = |refused: &HashSet<(usize, usize)>| -> Vec<usize> {
        (0..clients)
            .map(|u| {
                plan.iter()
                    .enumerate()
                    .filter(|(sender, _)| *sender != u)
                    .flat_map(|(sender, sends)| sends.iter().enumerate().map(move |(k, id)| (sender, k, id)))
                    .filter(|(sender, k, id)| !refused.contains(&(*sender, *k)) && members_of[id].contains(&u))
                    .count()
            })
            .collect()
    };
    let expected = expected_with(&HashSet::new());

    let mut sinks = Vec::new();
    let mut readers = tokio::task::JoinSet::new();
    for (u, &expected) in expected.iter().enumerate() {
        let (sink, stream) = bench.socket(u).await.split();
        sinks.push(sink);
        readers.spawn(collect(bench.clone(), u, stream, expected, per_client, None));
    }
    let started = bench.now_us();
    let mut senders = tokio::task::JoinSet::new();
    let mut sent_at: Vec<Vec<u64>> = vec![Vec::new(); clients];
    for (u, mut sink) in sinks.into_iter().enumerate() {
        let sends = plan[u].clone();
        let bench = bench.clone();
        senders.spawn(async move {
            let mut times = Vec::new();
            for (k, id) in sends.iter().enumerate() {
                let at = bench.now_us();
                times.push(at);
                let frame = json!({"type": "send_message", "request_id": format!("r{k}"), "conversation_id": id,
                    "content": format!("{u}:{k}:{at}"), "client_id": format!("{u}-{k}")});
                sink.send(Message::Text(frame.to_string().into())).await.expect("frame sent");
            }
            (u, times, sink)
        });
    }
    let mut open_sinks = Vec::new();
    while let Some(done) = senders.join_next().await {
        let (u, times, sink) = done.expect("sender");
        sent_at[u] = times;
        open_sinks.push(sink);
    }
    let mut seen = Vec::new();
    while let Some(done) = readers.join_next().await {
        seen.push(done.expect("reader"));
    }
    for mut sink in open_sinks {
        let _ = sink.close().await;
    }

    // The audit and the figures. A refused send (an error answer, such as the send limit) is not
    // stored, so nobody should get it: it is counted apart, never as lost.
    let refused: HashSet<(usize, usize)> = seen.iter().flat_map(|s| s.refused.iter().map(|&k| (s.user, k))).collect();
    let stored_expected = expected_with(&refused);
    let mut latencies = Vec::new();
    let mut answers = Vec::new();
    let (mut duplicates, mut missing, mut out_of_order) = (0usize, 0usize, 0usize);
    let mut last_delivery = started;
    for s in &seen {
        let mut got = HashSet::new();
        let mut last_id: HashMap<&str, i64> = HashMap::new();
        for (conversation, id, content, at) in &s.pushes {
            let parts: Vec<u64> = content.split(':').filter_map(|p| p.parse().ok()).collect();
            if parts.len() != 3 || !got.insert((parts[0], parts[1])) {
                duplicates += 1;
                continue;
            }
            latencies.push((*at - parts[2]) as f64 / 1000.0);
            last_delivery = last_delivery.max(*at);
            let previous = last_id.insert(conversation, *id).unwrap_or(0);
            if *id <= previous {
                out_of_order += 1;
            }
        }
        missing += stored_expected[s.user].saturating_sub(got.len());
        for (k, at) in s.answers.iter().enumerate() {
            if let Some(sent) = sent_at[s.user].get(k) {
                answers.push(at.saturating_sub(*sent) as f64 / 1000.0);
            }
        }
    }
    latencies.sort_by(|a, b| a.partial_cmp(b).unwrap());
    answers.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let seconds = (last_delivery - started) as f64 / 1e6;
    let deliveries = latencies.len();
    json!({
        "clients": clients,
        "groups": groups_n,
        "messages": clients * per_client,
        "deliveries": deliveries,
        "expected_deliveries": stored_expected.iter().sum::<usize>(),
        "refused": refused.len(),
        "missing": missing,
        "duplicates": duplicates,
        "out_of_order": out_of_order,
        "seconds": seconds,
        "deliveries_per_second": deliveries as f64 / seconds.max(1e-9),
        "latency_ms": {"p50": percentile(&latencies, 50.0), "p95": percentile(&latencies, 95.0), "p99": percentile(&latencies, 99.0), "max": latencies.last().copied().unwrap_or(f64::NAN)},
        "answer_ms": {"p50": percentile(&answers, 50.0), "p99": percentile(&answers, 99.0), "max": answers.last().copied().unwrap_or(f64::NAN)},
    })
}

/// Offered rate: `rate` messages per second for `seconds` into a room of `members` members with
/// `online` of them connected (members 0..online), each message from the next online member.
async fn offered_rate(bench: &Arc<Bench>, id: &str, members: usize, online: usize, rate: f64, seconds: f64) -> Value {
    let messages = (rate * seconds).round().max(1.0) as usize;
    let mut readers = tokio::task::JoinSet::new();
    let mut sinks = Vec::new();
    for u in 0..online {
        let (sink, stream) = bench.socket(u).await.split();
        sinks.push(sink);
        readers.spawn(collect(bench.clone(), u, stream, messages, 0, None));
    }
    // Sockets are registered when their handshake answers; give the last $connect a moment.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let start = bench.now_us();
    let interval_us = 1e6 / rate;
    let mut senders = tokio::task::JoinSet::new();
    for k in 0..messages {
        let due = start + (k as f64 * interval_us) as u64;
        let wait = due.saturating_sub(bench.now_us());
        tokio::time::sleep(Duration::from_micros(wait)).await;
        let bench = bench.clone();
        let path = format!("/conversations/{id}/messages");
        senders.spawn(async move {
            let sender = k % online;
            bench.post(&path, Some(&bench.tokens[sender]), json!({"content": format!("{sender}:{k}:{due}")})).await;
            (bench.now_us() - due) as f64 / 1000.0
        });
    }
    let mut answers = Vec::new();
    while let Some(done) = senders.join_next().await {
        answers.push(done.expect("sender"));
    }
    let mut seen = Vec::new();
    while let Some(done) = readers.join_next().await {
        seen.push(done.expect("reader"));
    }
    for mut sink in sinks {
        let _ = sink.close().await;
    }
    let (mut latencies, mut missing, mut duplicates, mut out_of_order) = (Vec::new(), 0usize, 0usize, 0usize);
    for s in &seen {
        let mut got = HashSet::new();
        let mut last_id = 0;
        for (_, id, content, at) in &s.pushes {
            let parts: Vec<u64> = content.split(':').filter_map(|p| p.parse().ok()).collect();
            if parts.len() != 3 || !got.insert(parts[1]) {
                duplicates += 1;
                continue;
            }
            latencies.push(at.saturating_sub(parts[2]) as f64 / 1000.0);
            if *id <= last_id {
                out_of_order += 1;
            }
            last_id = *id;
        }
        missing += messages.saturating_sub(got.len());
    }
    latencies.sort_by(|a, b| a.partial_cmp(b).unwrap());
    answers.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let frames_batched: usize = seen.iter().map(|s| s.frames_batched).sum();
    json!({
        "room": members,
        "online": online,
        "batch": bench.batch,
        "frames_batched": frames_batched,
        "rate": rate,
        "seconds": seconds,
        "messages": messages,
        "deliveries": latencies.len(),
        "missing": missing,
        "duplicates": duplicates,
        "out_of_order": out_of_order,
        "latency_ms": {"p50": percentile(&latencies, 50.0), "p99": percentile(&latencies, 99.0), "max": latencies.last().copied().unwrap_or(f64::NAN)},
        "answer_ms": {"p50": percentile(&answers, 50.0), "p99": percentile(&answers, 99.0), "max": answers.last().copied().unwrap_or(f64::NAN)},
    })
}

/// A run's audit line: what was lost, delivered twice or out of order.
fn audit(result: &Value) -> String {
    format!("missing {} duplicates {} out of order {}", result["missing"], result["duplicates"], result["out_of_order"])
}

/// A latency figure of a run (`key` such as `latency_ms`, `p` such as `p99`), NaN when absent.
fn ms(result: &Value, key: &str, p: &str) -> f64 {
    result[key][p].as_f64().unwrap_or(f64::NAN)
}

/// Wall-clock milliseconds, as the recorder stamps a publish (`Published::at`).
fn epoch_ms() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64() * 1000.0
}

/// Push latency: member 0 of a room of `members` sends `messages` messages over REST at `rate`
/// per second; members 1..=`phones` have a phone each and no socket, so each message is
/// published to each phone (mentioning them in rooms over 100). Timed from the send's answer (as
/// the client saw it: negative when the publish came first) and from its request, to the
/// recorder's stamp of the publish, in milliseconds (the stamp has millisecond resolution).
async fn push_latency(bench: &Arc<Bench>, members: usize, phones: usize, messages: usize, rate: f64) -> Value {
    let everyone: Vec<usize> = (0..members).collect();
    let id = bench.group(&format!("push-{members}"), &everyone).await;
    let phones = phones.clamp(1, members - 1);
    for member in 1..=phones {
        let url = format!("{}/devices/phone", bench.gateway.rest_url());
        let token = format!("push-{id}-{member}");
        let response = bench
            .http
            .put(url)
            .bearer_auth(&bench.tokens[member])
            .json(&json!({"platform": "fcm", "token": token}))
            .send()
            .await
            .expect("register a phone");
        assert!(response.status().is_success(), "PUT /devices/phone: {}", response.status());
    }
    // Above 100 members a room's default level is `mentions`: the messages mention the phones.
    let mentions: Vec<String> = if members > 100 { (1..=phones).map(Bench::name).collect() } else { Vec::new() };
    let mine = || -> Vec<_> {
        let published = bench.gateway.pushes.published(None);
        published
            .into_iter()
            .filter(|p| p.message_id.is_some() && p.conversation_id.as_ref().map(|c| c.as_str()) == Some(id.as_str()))
            .collect()
    };
    // Setting the room up wrote a change per member added, which the notify function works
    // through first (a few requests each on DynamoDB; the phones registered meanwhile may be told
    // they were added, which `mine` leaves out): a warm-up message, waited for until its
    // publishes arrive, so the runs measure a drained stream.
    let path = format!("/conversations/{id}/messages");
    bench.post(&path, Some(&bench.tokens[0]), json!({"content": "warm-up", "mentions": mentions})).await;
    let waited = Instant::now();
    while mine().len() < phones && waited.elapsed() < 5 * PATIENCE {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let drained_ms = waited.elapsed().as_secs_f64() * 1000.0;
    let warm_up = mine().len();
    let start = bench.now_us();
    let interval_us = 1e6 / rate;
    let mut senders = tokio::task::JoinSet::new();
    for k in 0..messages {
        let due = start + (k as f64 * interval_us) as u64;
        tokio::time::sleep(Duration::from_micros(due.saturating_sub(bench.now_us()))).await;
        let bench = bench.clone();
        let path = format!("/conversations/{id}/messages");
        let mentions = mentions.clone();
        senders.spawn(async move {
            let asked = epoch_ms();
            let sent = bench
                .post(&path, Some(&bench.tokens[0]), json!({"content": format!("push {k}"), "mentions": mentions}))
                .await;
            (sent["id"].as_i64().expect("message id"), asked, epoch_ms())
        });
    }
    let mut answered = HashMap::new();
    while let Some(done) = senders.join_next().await {
        let (message, asked, at) = done.expect("sender");
        answered.insert(message, (asked, at));
    }
    let expected = messages * phones + warm_up;
    let waited = Instant::now();
    while mine().len() < expected && waited.elapsed() < PATIENCE {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let published = mine();
    let (mut latencies, mut from_request, mut duplicates, mut out_of_order) = (Vec::new(), Vec::new(), 0usize, 0usize);
    let mut per_phone: HashMap<String, (HashSet<i64>, i64)> = HashMap::new();
    for p in &published {
        let Some(message) = p.message_id.map(|m| m.get()) else { continue };
        let (got, last) = per_phone.entry(p.username.clone()).or_default();
        if !got.insert(message) {
            duplicates += 1;
            continue;
        }
        if message <= *last {
            out_of_order += 1;
        }
        *last = message;
        if let Some((asked, at)) = answered.get(&message) {
            latencies.push(p.at as f64 - at);
            from_request.push(p.at as f64 - asked);
        }
    }
    // Decisions not to push to a phone holder, by reason (none expected).
    let holders: HashSet<String> = (1..=phones).map(Bench::name).collect();
    let mut not_pushed: std::collections::BTreeMap<String, usize> = Default::default();
    for skipped in bench.gateway.pushes.skipped_for(None) {
        if skipped.conversation_id.as_str() == id && holders.contains(&skipped.username) {
            *not_pushed.entry(skipped.reason.as_str().to_owned()).or_default() += 1;
        }
    }
    latencies.sort_by(|a, b| a.partial_cmp(b).unwrap());
    from_request.sort_by(|a, b| a.partial_cmp(b).unwrap());
    json!({
        "room": members,
        "phones": phones,
        "rate": rate,
        "messages": messages,
        "publishes": latencies.len(),
        "missing": (messages * phones).saturating_sub(latencies.len()),
        "duplicates": duplicates,
        "out_of_order": out_of_order,
        "latency_ms": {"p50": percentile(&latencies, 50.0), "p99": percentile(&latencies, 99.0),
            "min": latencies.first().copied().unwrap_or(f64::NAN), "max": latencies.last().copied().unwrap_or(f64::NAN)},
        "from_request_ms": {"p50": percentile(&from_request, 50.0), "p99": percentile(&from_request, 99.0),
            "max": from_request.last().copied().unwrap_or(f64::NAN)},
        "mentions": !mentions.is_empty(),
        "not_pushed": not_pushed,
        "warm_up_ms": drained_ms,
    })
}

/// Fan-out: one REST send at a time to a conversation of `members` members, each with a socket.
async fn fanout(bench: &Arc<Bench>, members: usize, runs: usize) -> Value {
    let everyone: Vec<usize> = (0..members).collect();
    let id = bench.group(&format!("fanout-{members}"), &everyone).await;
    let mut readers = tokio::task::JoinSet::new();
    let mut sinks = Vec::new();
    let progress: Arc<Vec<AtomicUsize>> = Arc::new((0..runs).map(|_| AtomicUsize::new(0)).collect());
    for u in 0..members {
        let (sink, stream) = bench.socket(u).await.split();
        sinks.push(sink);
        readers.spawn(collect(bench.clone(), u, stream, runs, 0, Some(progress.clone())));
    }
    // Sockets are registered when their handshake answers; give the last $connect a moment.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut sent = Vec::new();
    for k in 0..runs {
        let at = bench.now_us();
        sent.push(at);
        bench
            .post(
                &format!("/conversations/{id}/messages"),
                Some(&bench.tokens[0]),
                json!({"content": format!("0:{k}:{at}")}),
            )
            .await;
        // One message at a time: every socket has it (or PATIENCE passed) before the next.
        let deadline = Instant::now() + PATIENCE;
        while progress[k].load(Ordering::SeqCst) < members && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    let mut seen = Vec::new();
    while let Some(done) = readers.join_next().await {
        seen.push(done.expect("reader"));
    }
    for mut sink in sinks {
        let _ = sink.close().await;
    }
    let mut last = vec![0u64; runs];
    let mut firsts = vec![u64::MAX; runs];
    let mut delivered = vec![0usize; runs];
    for s in &seen {
        for (_, _, content, at) in &s.pushes {
            let parts: Vec<u64> = content.split(':').filter_map(|p| p.parse().ok()).collect();
            if let Some(&k) = parts.get(1) {
                let k = k as usize;
                last[k] = last[k].max(*at);
                firsts[k] = firsts[k].min(*at);
                delivered[k] += 1;
            }
        }
    }
    let all_ms: Vec<f64> = (0..runs).map(|k| (last[k].saturating_sub(sent[k])) as f64 / 1000.0).collect();
    let first_ms: Vec<f64> = (0..runs).map(|k| (firsts[k].saturating_sub(sent[k])) as f64 / 1000.0).collect();
    json!({
        "members": members,
        "runs": runs,
        "delivered": delivered,
        "last_socket_ms": all_ms,
        "first_socket_ms": first_ms,
        "median_last_socket_ms": median(&all_ms),
        "median_first_socket_ms": median(&first_ms),
    })
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let root = std::env::temp_dir().join(format!("chathub-bench-{}", std::process::id()));
    let secret: Vec<u8> = format!("load-bench-{}-{}", std::process::id(), "k".repeat(32)).into_bytes();
    let store_requests = Arc::new(AtomicUsize::new(0));
    let operations: Operations = Arc::default();
    let store = match &args.dynamodb_endpoint {
        Some(upstream) => {
            let latency = Duration::from_millis(args.store_latency_ms);
            let endpoint = dynamodb_proxy(upstream.clone(), latency, store_requests.clone(), operations.clone()).await;
            StoreChoice::DynamoDb { endpoint, table: format!("load-{}", std::process::id()) }
        }
        None => StoreChoice::Embedded,
    };
    let gateway = start(Options {
        rest_addr: "127.0.0.1:0".parse().unwrap(),
        ws_addr: "127.0.0.1:0".parse().unwrap(),
        blobs: BlobChoice::Embedded { addr: "127.0.0.1:0".parse().unwrap(), root: root.clone() },
        store,
        jwt_secret: secret,
        cors_origins: vec![],
        clock: None,
        limits: Limits { sends: args.send_limit, ..Limits::default() }, // gateway-limits
        push_content: Default::default(),                               // gateway-limits
        push_provider: None,                                            // gateway-limits
        ws_limits: Default::default(),                                  // ws-limits
    })
    .await
    .expect("gateway starts");
    let http = reqwest::Client::builder().timeout(Duration::from_secs(120)).build().unwrap();
    let users = args
        .clients
        .iter()
        .chain(&args.fanout)
        .chain(&args.rate_rooms)
        .chain(&args.push_rooms)
        .chain([&args.hot_room])
        .copied()
        .max()
        .unwrap_or(0);
    eprintln!("registering {users} users");
    let mut bench = Bench { gateway, http, tokens: Vec::new(), batch: args.batch, epoch: Instant::now() };
    let registered: Vec<(usize, String)> = futures_util::stream::iter(0..users)
        .map(|i| {
            let bench = &bench;
            async move {
                let body = json!({"username": Bench::name(i), "password": format!("{}-password", Bench::name(i))});
                let json = bench.post("/auth/register", None, body).await;
                (i, json["access_token"].as_str().unwrap().to_owned())
            }
        })
        .buffer_unordered(4)
        .collect()
        .await;
    let mut tokens = vec![String::new(); users];
    for (i, token) in registered {
        tokens[i] = token;
    }
    bench.tokens = tokens;
    let bench = Arc::new(bench);

    let mut throughput_runs = Vec::new();
    println!(
        "{:>7} {:>9} {:>11} {:>14} {:>9} {:>9} {:>9}  audit",
        "clients", "messages", "deliveries", "deliveries/s", "p50 ms", "p95 ms", "p99 ms"
    );
    for &clients in args.clients.iter().filter(|&&c| c > 0) {
        for run in 0..args.runs {
            let before = store_requests.load(Ordering::SeqCst);
            let operations_before = operations.lock().unwrap().clone();
            let mut result = throughput(&bench, clients, args.per_client, run).await;
            let requests = store_requests.load(Ordering::SeqCst) - before;
            if args.dynamodb_endpoint.is_some() {
                result["store_operations"] = operations_since(&operations, &operations_before);
                // Setting up the groups and sockets is counted too: a small share beside the burst.
                result["store_requests"] = json!(requests);
                result["store_requests_per_send"] = json!(requests as f64 / (clients * args.per_client) as f64);
            }
            println!(
                "{:>7} {:>9} {:>11} {:>14.0} {:>9.1} {:>9.1} {:>9.1}  refused {} {}",
                clients,
                result["messages"].as_u64().unwrap_or(0),
                result["deliveries"].as_u64().unwrap_or(0),
                result["deliveries_per_second"].as_f64().unwrap_or(f64::NAN),
                ms(&result, "latency_ms", "p50"),
                ms(&result, "latency_ms", "p95"),
                ms(&result, "latency_ms", "p99"),
                result["refused"],
                audit(&result),
            );
            throughput_runs.push(result);
        }
    }
    let mut hot_runs = Vec::new();
    if args.hot_room > 0 {
        println!("hot room of {} members, {} messages each at once", args.hot_room, args.hot_per_member);
        for run in 0..args.hot_runs {
            let result = hot_room(&bench, args.hot_room, args.hot_per_member, run).await;
            println!(
                "{:>9} {:>11} {:>14.0} {:>9.1} {:>9.1} {:>9.1}  answers p99 {:.1} ms  refused {} {}",
                result["messages"].as_u64().unwrap_or(0),
                result["deliveries"].as_u64().unwrap_or(0),
                result["deliveries_per_second"].as_f64().unwrap_or(f64::NAN),
                ms(&result, "latency_ms", "p50"),
                ms(&result, "latency_ms", "p95"),
                ms(&result, "latency_ms", "p99"),
                ms(&result, "answer_ms", "p99"),
                result["refused"],
                audit(&result),
            );
            hot_runs.push(result);
        }
    }
    let mut fanouts = Vec::new();
    println!("{:>8} {:>22} {:>22}", "members", "last socket p50 ms", "first socket p50 ms");
    for &members in args.fanout.iter().filter(|&&m| m > 0) {
        let result = fanout(&bench, members, args.fanout_runs).await;
        println!(
            "{:>8} {:>22.1} {:>22.1}  delivered {}",
            members,
            result["median_last_socket_ms"].as_f64().unwrap_or(f64::NAN),
            result["median_first_socket_ms"].as_f64().unwrap_or(f64::NAN),
            result["delivered"]
        );
        fanouts.push(result);
    }
    let mut rate_runs = Vec::new();
    if args.rate_rooms.iter().any(|&m| m > 0) {
        println!("{:>6} {:>7} {:>7} {:>9} {:>9} {:>9}  audit", "room", "online", "msg/s", "p50 ms", "p99 ms", "max ms");
    }
    for &members in args.rate_rooms.iter().filter(|&&m| m > 0) {
        let everyone: Vec<usize> = (0..members).collect();
        let id = bench.group(&format!("rate-{members}"), &everyone).await;
        let online = args.rate_online.clamp(1, members);
        for &rate in args.rates.iter().filter(|&&r| r > 0.0) {
            let result = offered_rate(&bench, &id, members, online, rate, args.rate_seconds).await;
            println!(
                "{:>6} {:>7} {:>7.0} {:>9.1} {:>9.1} {:>9.1}  {}",
                members,
                online,
                rate,
                ms(&result, "latency_ms", "p50"),
                ms(&result, "latency_ms", "p99"),
                ms(&result, "latency_ms", "max"),
                audit(&result),
            );
            rate_runs.push(result);
        }
    }
    let mut push_runs = Vec::new();
    if args.push_rooms.iter().any(|&m| m > 1) {
        println!(
            "{:>6} {:>7} {:>7} {:>10} {:>9} {:>9} {:>9}  audit",
            "room", "phones", "msg/s", "publishes", "p50 ms", "p99 ms", "max ms"
        );
    }
    for &members in args.push_rooms.iter().filter(|&&m| m > 1) {
        let result = push_latency(&bench, members, args.push_phones, args.push_messages, args.push_rate).await;
        println!(
            "{:>6} {:>7} {:>7.0} {:>10} {:>9.1} {:>9.1} {:>9.1}  {}",
            members,
            result["phones"],
            args.push_rate,
            result["publishes"],
            ms(&result, "latency_ms", "p50"),
            ms(&result, "latency_ms", "p99"),
            ms(&result, "latency_ms", "max"),
            audit(&result),
        );
        push_runs.push(result);
    }
    let out = json!({"per_client": args.per_client, "push_latency": push_runs, "throughput": throughput_runs, "fanout": fanouts, "hot_room": hot_runs,
        "offered_rate": rate_runs,
        "store": if args.dynamodb_endpoint.is_some() { "dynamodb" } else { "embedded" },
        "store_latency_ms": args.store_latency_ms});
    std::fs::write(&args.out, serde_json::to_string_pretty(&out).unwrap()).unwrap();
    let _ = std::fs::remove_dir_all(root);
    if let Some(upstream) = &args.dynamodb_endpoint {
        // DynamoDB Local keeps working on every table's stream: a table left behind slows every
        // run after it.
        let client = chathub_shared::store::dynamo::local_client(upstream).await;
        if let Err(e) = client.delete_table().table_name(format!("load-{}", std::process::id())).send().await {
            eprintln!("could not drop the table: {e:?}");
        }
    }
}
