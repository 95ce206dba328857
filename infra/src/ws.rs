//! The WebSocket API side: the handshake (authorizer, then `$connect`), route selection on
//! `$request.body.type`, route responses, `$disconnect` on close, and API Gateway's management API
//! (`POST`/`GET`/`DELETE /@connections/{id}`, 410 for an unknown id) that the functions' real
//! aws-sdk-apigatewaymanagement client pushes through.
//!
//! API Gateway's limits hold here too: a frame over 32 KB or a message over 128 KB from a client
//! closes its socket with 1009; pushes and route responses over 32 KB go out in fragments; the
//! management API refuses a push over 128 KB; a socket whose client sends no message for the idle
//! timeout (10 minutes), and any socket older than the lifetime (2 hours), is closed with 1001.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_lambda_events::apigw::{ApiGatewayCustomAuthorizerRequestTypeRequest, ApiGatewayWebsocketProxyRequest};
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chathub_functions::routes::ws_authorizer;
use chathub_functions::table::{dispatch_ws, WS_ROUTES};
use chathub_shared::clients::Local;
use chathub_shared::With;
use futures_util::{SinkExt, StreamExt};
use hyper_util::rt::TokioIo;
use serde_json::{json, Map, Value};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::WebSocketStream;

/// API Gateway's limit on one WebSocket message (a client's, a push, a route response).
pub const MAX_MESSAGE_BYTES: usize = 128 * 1024;
/// API Gateway's limit on one WebSocket frame: bigger messages travel in fragments.
pub const MAX_FRAME_BYTES: usize = 32 * 1024;
const STAGE: &str = "local";

/// How long a socket may live: API Gateway closes one whose client sent nothing for 10 minutes
/// (pushes to it do not count), and any after 2 hours. Tests shorten them.
#[derive(Debug, Clone, Copy)]
pub struct WsLimits {
    pub idle_timeout: Duration,
    pub max_lifetime: Duration,
}

impl Default for WsLimits {
    fn default() -> Self {
        Self { idle_timeout: Duration::from_secs(600), max_lifetime: Duration::from_secs(7200) }
    }
}

/// What a socket's writer is told to do.
enum Outbound {
    Frame(Message),
    /// Send a close frame with this code and reason, and stop.
    Close(CloseCode, &'static str),
}

type Socket = WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>;

pub struct Connection {
    tx: mpsc::UnboundedSender<Outbound>,
    connected_at: i64,
    last_active_at: i64,
    source_ip: String,
    user_agent: String,
}

#[derive(Clone)]
pub struct WsState {
    /// The store and every client; each route is handed the clients it declared.
    pub all: With<Local>,
    connections: Arc<Mutex<HashMap<String, Connection>>>,
    /// The key pair the management API (`/@connections`) takes SigV4 signatures from.
    pub(crate) management: Arc<crate::sigv4::Keys>,
    limits: WsLimits,
}

/// The open sockets, by connection id.
pub type Connections = Arc<Mutex<HashMap<String, Connection>>>;

impl WsState {
    /// Over sockets shared with an [`InProcessNotifier`]; the management API takes signatures made
    /// with `management` only.
    pub fn with_connections(
        all: With<Local>,
        connections: Connections,
        management: crate::sigv4::Keys,
        limits: WsLimits,
    ) -> Self {
        Self { all, connections, management: Arc::new(management), limits }
    }

    fn connections(&self) -> std::sync::MutexGuard<'_, HashMap<String, Connection>> {
        self.connections.lock().unwrap_or_else(|p| p.into_inner())
    }
}

pub fn router(state: WsState) -> Router {
    let management = Router::new()
        .route("/@connections/{id}", get(get_connection).post(post_to_connection).delete(delete_connection))
        .route("/{stage}/@connections/{id}", get(get_connection_staged).post(post_staged).delete(delete_staged))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), signed_only));
    // `POST /` is the Secrets Manager stand-in; every other request to `/` is a handshake.
    management
        .route("/", axum::routing::post(crate::secrets::get_secret_value).fallback(handshake))
        .fallback(handshake)
        .with_state(state)
}

/// As API Gateway does: the management API answers only requests signed (SigV4, service
/// `execute-api`) with a key it knows; anything else gets 403 and changes nothing.
async fn signed_only(
    State(state): State<WsState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_MESSAGE_BYTES + 1).await else {
        return (StatusCode::PAYLOAD_TOO_LARGE, [("x-amzn-errortype", "PayloadTooLargeException")], "{}")
            .into_response();
    };
    if let Err(refused) = state.management.verify(&parts.method, &parts.uri, &parts.headers, &bytes, SystemTime::now())
    {
        tracing::info!(reason = refused, uri = %parts.uri, "management API request refused");
        return (
            StatusCode::FORBIDDEN,
            [("x-amzn-errortype", "ForbiddenException")],
            axum::Json(json!({ "message": "Forbidden" })),
        )
            .into_response();
    }
    next.run(axum::extract::Request::from_parts(parts, axum::body::Body::from(bytes))).await
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// API Gateway connection ids look like `L0SM9cOFvHcCIhw=`.
fn new_connection_id() -> String {
    use base64::Engine;
    let bytes = ulid::Ulid::new().to_bytes();
    base64::engine::general_purpose::STANDARD.encode(&bytes[6..])
}

fn header_map_json(headers: &HeaderMap) -> (Map<String, Value>, Map<String, Value>) {
    let mut single = Map::new();
    let mut multi = Map::new();
    for name in headers.keys() {
        let values: Vec<Value> =
            headers.get_all(name).iter().filter_map(|v| v.to_str().ok()).map(|v| Value::String(v.to_owned())).collect();
        if let Some(Value::String(first)) = values.first() {
            single.insert(name.as_str().to_owned(), Value::String(first.clone()));
        }
        multi.insert(name.as_str().to_owned(), Value::Array(values));
    }
    (single, multi)
}

fn query_json(uri: &Uri) -> (Map<String, Value>, Map<String, Value>) {
    let mut single = Map::new();
    let mut multi: Map<String, Value> = Map::new();
    for (k, v) in serde_urlencoded::from_str::<Vec<(String, String)>>(uri.query().unwrap_or("")).unwrap_or_default() {
        single.insert(k.clone(), Value::String(v.clone()));
        match multi.get_mut(&k) {
            Some(Value::Array(list)) => list.push(Value::String(v)),
            _ => {
                multi.insert(k, json!([v]));
            }
        }
    }
    (single, multi)
}

/// The `requestContext` API Gateway gives every WebSocket event.
fn request_context(
    route_key: &str,
    event_type: &str,
    connection_id: &str,
    connected_at: i64,
    authorized: Option<&Value>,
    peer: &str,
    user_agent: &str,
) -> Value {
    let now = now_ms();
    let mut context = json!({
        "routeKey": route_key,
        "eventType": event_type,
        "extendedRequestId": ulid::Ulid::new().to_string(),
        "requestTime": crate::access::clf(now),
        "messageDirection": "IN",
        "stage": STAGE,
        "connectedAt": connected_at,
        "requestTimeEpoch": now,
        "identity": { "sourceIp": peer, "userAgent": user_agent },
        "requestId": ulid::Ulid::new().to_string(),
        "domainName": "127.0.0.1",
        "connectionId": connection_id,
        "apiId": "local",
    });
    // As API Gateway does: the authorizer's context on every event of the connection.
    if let Some(authorized) = authorized {
        let mut authorizer = json!({ "principalId": authorized["username"], "integrationLatency": 0 });
        if let (Some(fields), Some(into)) = (authorized.as_object(), authorizer.as_object_mut()) {
            into.extend(fields.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        context["authorizer"] = authorizer;
    }
    if event_type == "MESSAGE" {
        context["messageId"] = json!(ulid::Ulid::new().to_string());
    }
    context
}

fn parse_event(event: Value) -> Option<ApiGatewayWebsocketProxyRequest> {
    match serde_json::from_value(event) {
        Ok(e) => Some(e),
        Err(e) => {
            tracing::error!(error = %e, "WebSocket event did not parse");
            None
        }
    }
}

/// The route API Gateway would pick for this frame: `$request.body.type`, else `$default`.
pub fn select_route(body: &str) -> &'static str {
    let kind =
        serde_json::from_str::<Value>(body).ok().and_then(|v| v.get("type").and_then(Value::as_str).map(str::to_owned));
    WS_ROUTES
        .iter()
        .find(|r| !r.route_key.starts_with('$') && Some(r.route_key) == kind.as_deref())
        .map(|r| r.function)
        .unwrap_or("ws-default")
}

fn function_for(route_key: &str) -> &'static str {
    WS_ROUTES.iter().find(|r| r.route_key == route_key).map(|r| r.function).unwrap_or("ws-default")
}

async fn handshake(
    State(state): State<WsState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    uri: Uri,
    mut request: axum::extract::Request,
) -> Response {
    let Some(accept) = upgrade_accept_key(&request) else {
        return (StatusCode::BAD_REQUEST, "WebSocket upgrade required").into_response();
    };
    let on_upgrade = hyper::upgrade::on(&mut request);
    let started = Instant::now();
    let connection_id = new_connection_id();
    let connected_at = now_ms();
    let peer_ip = peer.ip().to_string();
    let user_agent = headers.get("user-agent").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let (single_headers, multi_headers) = header_map_json(&headers);
    let (single_query, multi_query) = query_json(&uri);

    // 1. The REQUEST authorizer.
    let authorizer_event = json!({
        "type": "REQUEST",
        "methodArn": format!("arn:aws:execute-api:local:000000000000:local/{STAGE}/$connect"),
        "headers": single_headers.clone(),
        "multiValueHeaders": multi_headers.clone(),
        "queryStringParameters": single_query.clone(),
        "multiValueQueryStringParameters": multi_query,
        "stageVariables": {},
        "requestContext": request_context("$connect", "CONNECT", &connection_id, connected_at, None, &peer_ip, &user_agent),
    });
    let authorizer_event_context = authorizer_event["requestContext"].clone();
    let authorized = match serde_json::from_value::<ApiGatewayCustomAuthorizerRequestTypeRequest>(authorizer_event) {
        Ok(event) => match ws_authorizer::handle(state.all.ctx.clone(), event).await {
            Ok(policy)
                if policy["policyDocument"]["Statement"][0]["Effect"] == "Allow"
                    && policy["context"]["username"].is_string() =>
            {
                Some(policy["context"].clone())
            }
            _ => None,
        },
        Err(e) => {
            tracing::error!(error = %e, "authorizer event did not parse");
            None
        }
    };
    let Some(authorized) = authorized else {
        access(&authorizer_event_context, 401, None, Some("Unauthorized"));
        return (StatusCode::UNAUTHORIZED, axum::Json(json!({ "message": "Unauthorized" }))).into_response();
    };

    // 2. Register the socket before `$connect` runs, so pushes racing the handshake queue up.
    let (tx, rx) = mpsc::unbounded_channel();
    state.connections().insert(
        connection_id.clone(),
        Connection {
            tx,
            connected_at,
            last_active_at: connected_at,
            source_ip: peer_ip.clone(),
            user_agent: user_agent.clone(),
        },
    );
    let mut connect_event = json!({
        "headers": single_headers.clone(),
        "multiValueHeaders": multi_headers.clone(),
        "isBase64Encoded": false,
        "requestContext": request_context("$connect", "CONNECT", &connection_id, connected_at, Some(&authorized), &peer_ip, &user_agent),
    });
    if !single_query.is_empty() {
        connect_event["queryStringParameters"] = Value::Object(single_query.clone());
    }
    let context = connect_event["requestContext"].clone();
    let (status, integration) = match parse_event(connect_event) {
        Some(event) => {
            let (response, integration) = invoke("ws-connect", &state.all, event).await;
            let status = response.and_then(|r| r["statusCode"].as_u64()).and_then(|s| u16::try_from(s).ok());
            (status.unwrap_or(500), Some(integration))
        }
        None => (500, None),
    };
    access(&context, status, integration, None);
    if status != 200 {
        state.connections().remove(&connection_id);
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return (status, axum::Json(json!({ "message": "Forbidden" }))).into_response();
    }
    let username = authorized["username"].as_str().unwrap_or_default().to_owned();
    tracing::debug!(connection_id, username, latency_ms = started.elapsed().as_secs_f64() * 1000.0, "connected");
    tokio::spawn(async move {
        let upgraded = match on_upgrade.await {
            Ok(upgraded) => upgraded,
            Err(e) => {
                tracing::info!(error = %e, connection_id, "the upgrade did not complete");
                state.connections().remove(&connection_id);
                return;
            }
        };
        let config =
            WebSocketConfig::default().max_frame_size(Some(MAX_FRAME_BYTES)).max_message_size(Some(MAX_MESSAGE_BYTES));
        let socket = WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(config)).await;
        serve_socket(state, socket, rx, connection_id, authorized, connected_at, peer_ip, user_agent).await;
    });
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header("connection", "upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-accept", accept)
        .body(axum::body::Body::empty())
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// The `Sec-WebSocket-Accept` answer to a valid WebSocket upgrade request (RFC 6455 4.2.1), or
/// `None` when the request is not one.
fn upgrade_accept_key(request: &axum::extract::Request) -> Option<String> {
    let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok());
    let has_token = |name: &str, token: &str| {
        header(name).is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    };
    let valid = request.method() == http::Method::GET
        && has_token("connection", "upgrade")
        && has_token("upgrade", "websocket")
        && header("sec-websocket-version") == Some("13");
    let key = header("sec-websocket-key").filter(|_| valid)?;
    Some(tungstenite::handshake::derive_accept_key(key.as_bytes()))
}

/// Writes a data message, in fragments of at most [`MAX_FRAME_BYTES`] when it is bigger, as API
/// Gateway sends its pushes.
async fn write(
    sink: &mut futures_util::stream::SplitSink<Socket, Message>,
    message: Message,
) -> Result<(), tungstenite::Error> {
    let (kind, data) = match message {
        Message::Text(text) if text.len() > MAX_FRAME_BYTES => (Data::Text, axum::body::Bytes::from(text)),
        Message::Binary(bytes) if bytes.len() > MAX_FRAME_BYTES => (Data::Binary, bytes),
        other => return sink.send(other).await,
    };
    let pieces = data.len().div_ceil(MAX_FRAME_BYTES);
    for (i, start) in (0..data.len()).step_by(MAX_FRAME_BYTES).enumerate() {
        let piece = data.slice(start..(start + MAX_FRAME_BYTES).min(data.len()));
        let opcode = OpCode::Data(if i == 0 { kind } else { Data::Continue });
        sink.feed(Message::Frame(Frame::message(piece, opcode, i + 1 == pieces))).await?;
    }
    sink.flush().await
}

#[allow(clippy::too_many_arguments)]
async fn serve_socket(
    state: WsState,
    socket: Socket,
    mut rx: mpsc::UnboundedReceiver<Outbound>,
    connection_id: String,
    authorized: Value,
    connected_at: i64,
    peer_ip: String,
    user_agent: String,
) {
    let (mut sink, mut stream) = socket.split();
    // A DeleteConnection ends the socket from our side at once, as API Gateway does.
    let (closed_tx, mut closed_rx) = tokio::sync::watch::channel(false);
    let mut writer = tokio::spawn(async move {
        while let Some(out) = rx.recv().await {
            match out {
                Outbound::Frame(frame) => {
                    if write(&mut sink, frame).await.is_err() {
                        break;
                    }
                }
                Outbound::Close(code, reason) => {
                    let _ = sink.send(Message::Close(Some(CloseFrame { code, reason: reason.into() }))).await;
                    let _ = closed_tx.send(true);
                    break;
                }
            }
        }
    });
    let Some(tx) = state.connections().get(&connection_id).map(|c| c.tx.clone()) else { return };

    let limits = state.limits;
    let end_of_life = tokio::time::Instant::now() + limits.max_lifetime;
    let mut idle_until = tokio::time::Instant::now() + limits.idle_timeout;
    let mut tasks = tokio::task::JoinSet::new();
    let mut close_code: i64 = 1005;
    // Set when this side closes the socket for a limit: the close frame must reach the client.
    let mut closed_here = false;
    loop {
        let frame = tokio::select! {
            frame = stream.next() => frame,
            _ = closed_rx.changed() => {
                close_code = 1000;
                break;
            }
            _ = tokio::time::sleep_until(idle_until) => {
                tracing::info!(connection_id, "closing an idle socket");
                let _ = tx.send(Outbound::Close(CloseCode::Away, "Going away"));
                (close_code, closed_here) = (1001, true);
                break;
            }
            _ = tokio::time::sleep_until(end_of_life) => {
                tracing::info!(connection_id, "closing a socket at the end of its lifetime");
                let _ = tx.send(Outbound::Close(CloseCode::Away, "Going away"));
                (close_code, closed_here) = (1001, true);
                break;
            }
        };
        let Some(frame) = frame else { break };
        let body = match frame {
            Ok(Message::Text(text)) => text.to_string(),
            Ok(Message::Binary(bytes)) => String::from_utf8_lossy(&bytes).into_owned(),
            Ok(Message::Close(frame)) => {
                close_code = frame.map(|f| i64::from(u16::from(f.code))).unwrap_or(1005);
                break;
            }
            // Control frames: not a message, so not activity either.
            Ok(_) => continue,
            Err(tungstenite::Error::Capacity(e)) => {
                tracing::info!(connection_id, error = %e, "closing a socket that sent a frame or message over the limit");
                let _ = tx.send(Outbound::Close(CloseCode::Size, "Message too big"));
                (close_code, closed_here) = (1009, true);
                break;
            }
            Err(_) => {
                close_code = 1006;
                break;
            }
        };
        idle_until = tokio::time::Instant::now() + limits.idle_timeout;
        if let Some(c) = state.connections().get_mut(&connection_id) {
            c.last_active_at = now_ms();
        }
        let function = select_route(&body);
        let route = WS_ROUTES.iter().find(|r| r.function == function);
        let route_key = route.map(|r| r.route_key).unwrap_or("$default");
        // A one-way route (it answers on its own, through the management API) has no route
        // response: as on API Gateway, its Lambda's result goes nowhere.
        let one_way = route.is_some_and(|r| r.answers_early);
        let mut event = json!({
            "requestContext": request_context(route_key, "MESSAGE", &connection_id, connected_at, Some(&authorized), &peer_ip, &user_agent),
            "body": body,
            "isBase64Encoded": false,
        });
        event["headers"] = json!({});
        let all = state.all.clone();
        let reply_to = tx.clone();
        // Frames are handled concurrently, as API Gateway invokes a Lambda per frame.
        tasks.spawn(async move {
            let context = event["requestContext"].clone();
            let Some(event) = parse_event(event) else {
                access(&context, 500, None, None);
                return;
            };
            let (response, integration) = invoke(function, &all, event).await;
            access(&context, if response.is_some() { 200 } else { 500 }, Some(integration), None);
            if let (Some(response), false) = (response, one_way) {
                if let Some(body) = response["body"].as_str() {
                    let _ = reply_to.send(Outbound::Frame(Message::Text(body.to_owned().into())));
                }
            }
        });
        while tasks.try_join_next().is_some() {}
    }
    // Let frames in flight answer before the socket goes.
    while tasks.join_next().await.is_some() {}
    state.connections().remove(&connection_id);
    drop(tx);
    if closed_here {
        // The close frame goes out, and the client has a moment to read it before the socket is
        // dropped (unread bytes of a refused frame would make the drop a reset).
        let _ = tokio::time::timeout(Duration::from_secs(1), &mut writer).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    writer.abort();

    let mut event = json!({
        "headers": {},
        "isBase64Encoded": false,
        "requestContext": request_context("$disconnect", "DISCONNECT", &connection_id, connected_at, Some(&authorized), &peer_ip, &user_agent),
    });
    event["requestContext"]["disconnectStatusCode"] = json!(close_code);
    event["requestContext"]["disconnectReason"] = json!("");
    let context = event["requestContext"].clone();
    if let Some(event) = parse_event(event) {
        let (response, integration) = invoke(function_for("$disconnect"), &state.all, event).await;
        access(&context, if response.is_some() { 200 } else { 500 }, Some(integration), None);
    }
}

/// Runs `function` on `event` as Lambda would: inside the runtime's span, which carries the
/// invocation's request id on every log line of the invocation (its own, not API Gateway's).
async fn invoke(
    function: &str,
    all: &With<Local>,
    event: ApiGatewayWebsocketProxyRequest,
) -> (Option<Value>, crate::access::Integration) {
    use tracing::Instrument;
    let request_id = crate::access::Integration::request_id();
    let started = Instant::now();
    let response = dispatch_ws(function, all, event).instrument(crate::invoke_span(&request_id)).await;
    let integration = crate::access::Integration {
        request_id,
        status: response.as_ref().map(|r| r["statusCode"].as_u64().and_then(|s| u16::try_from(s).ok()).unwrap_or(200)),
        latency_ms: started.elapsed().as_millis(),
        error: response.is_none().then_some("The function failed (a panic or an unknown function)"),
    };
    (response, integration)
}

/// The access log line of one WebSocket event, from the `requestContext` the function was given.
fn access(
    context: &Value,
    status: u16,
    integration: Option<crate::access::Integration>,
    authorizer_error: Option<&str>,
) {
    let text = |key: &str| context[key].as_str().unwrap_or("");
    crate::access::WebSocket {
        request_id: text("requestId"),
        received_ms: context["requestTimeEpoch"].as_i64().unwrap_or(0),
        ip: context["identity"]["sourceIp"].as_str().unwrap_or(""),
        connection_id: text("connectionId"),
        event_type: text("eventType"),
        route_key: text("routeKey"),
        status,
        integration,
        authorizer_error,
    }
    .log();
}

fn gone() -> Response {
    (
        StatusCode::GONE,
        [("x-amzn-errortype", "GoneException"), ("content-type", "application/json")],
        json!({ "message": "Gone" }).to_string(),
    )
        .into_response()
}

fn iso(ms: i64) -> String {
    let (y, m, d, hh, mm, ss, millis) = crate::access::civil(ms);
    format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}.{millis:03}Z")
}

async fn post_to_connection(State(state): State<WsState>, Path(id): Path<String>, body: Bytes) -> Response {
    if body.len() > MAX_MESSAGE_BYTES {
        return (StatusCode::PAYLOAD_TOO_LARGE, [("x-amzn-errortype", "PayloadTooLargeException")], "{}")
            .into_response();
    }
    if deliver(&state.connections, &id, &body) {
        StatusCode::OK.into_response()
    } else {
        gone()
    }
}

/// Queues a frame on a socket; false when there is no such socket (410 Gone).
fn deliver(connections: &Connections, id: &str, body: &[u8]) -> bool {
    let frame = match String::from_utf8(body.to_vec()) {
        Ok(text) => Message::Text(text.into()),
        Err(e) => Message::Binary(e.into_bytes().into()),
    };
    let connections = connections.lock().unwrap_or_else(|p| p.into_inner());
    connections.get(id).map(|c| c.tx.send(Outbound::Frame(frame)).is_ok()).unwrap_or(false)
}

/// Tells a socket's writer to close it; false when there is no such socket (410 Gone).
fn close(connections: &Connections, id: &str) -> bool {
    let connections = connections.lock().unwrap_or_else(|p| p.into_inner());
    let close = || Outbound::Close(CloseCode::Normal, "closed by the server");
    connections.get(id).map(|c| c.tx.send(close()).is_ok()).unwrap_or(false)
}

/// Pushes straight onto the gateway's sockets, skipping the management API's HTTP round trip and
/// request signing: what the embedded default uses. The same answers as `@connections` (Gone for
/// an unknown socket, the same size limit); the DynamoDB runs keep the real SDK path.
pub struct InProcessNotifier {
    pub connections: Connections,
}

#[async_trait::async_trait]
impl chathub_shared::notify::Notifier for InProcessNotifier {
    async fn post(
        &self,
        connection_id: &chathub_shared::ConnectionId,
        payload: &[u8],
    ) -> Result<(), chathub_shared::notify::PushError> {
        use chathub_shared::notify::PushError;
        if payload.len() > MAX_MESSAGE_BYTES {
            return Err(PushError::Failed("payload too large".into()));
        }
        if deliver(&self.connections, connection_id.as_str(), payload) {
            Ok(())
        } else {
            Err(PushError::Gone)
        }
    }

    async fn close(
        &self,
        connection_id: &chathub_shared::ConnectionId,
    ) -> Result<(), chathub_shared::notify::PushError> {
        if close(&self.connections, connection_id.as_str()) {
            Ok(())
        } else {
            Err(chathub_shared::notify::PushError::Gone)
        }
    }
}

async fn get_connection(State(state): State<WsState>, Path(id): Path<String>) -> Response {
    let connections = state.connections();
    match connections.get(&id) {
        Some(c) => axum::Json(json!({
            "connectedAt": iso(c.connected_at),
            "lastActiveAt": iso(c.last_active_at),
            "identity": { "sourceIp": c.source_ip, "userAgent": c.user_agent },
        }))
        .into_response(),
        None => gone(),
    }
}

async fn delete_connection(State(state): State<WsState>, Path(id): Path<String>) -> Response {
    if close(&state.connections, &id) {
        StatusCode::NO_CONTENT.into_response()
    } else {
        gone()
    }
}

async fn post_staged(state: State<WsState>, Path((_stage, id)): Path<(String, String)>, body: Bytes) -> Response {
    post_to_connection(state, Path(id), body).await
}

async fn get_connection_staged(state: State<WsState>, Path((_stage, id)): Path<(String, String)>) -> Response {
    get_connection(state, Path(id)).await
}

async fn delete_staged(state: State<WsState>, Path((_stage, id)): Path<(String, String)>) -> Response {
    delete_connection(state, Path(id)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_selection_follows_the_body_type() {
        assert_eq!(select_route(r#"{"type":"send_message"}"#), "ws-send-message");
        assert_eq!(select_route(r#"{"type":"nope"}"#), "ws-default");
        assert_eq!(select_route(r#"{"type":"$connect"}"#), "ws-default");
        assert_eq!(select_route("not json"), "ws-default");
        assert_eq!(select_route(r#"{"type":5}"#), "ws-default");
    }

    #[test]
    fn timestamps_are_rfc3339() {
        assert_eq!(iso(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso(1_795_341_600_123), "2026-11-22T10:00:00.123Z");
    }
}
