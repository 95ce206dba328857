//! The WebSocket edge: API Gateway WebSocket events in, the answer envelope out as the route
//! response, and the Lambda entry points of the WebSocket functions and the authorizer.

use std::future::Future;
use std::time::Instant;

use aws_lambda_events::apigw::{ApiGatewayCustomAuthorizerRequestTypeRequest, ApiGatewayWebsocketProxyRequest};
use lambda_runtime::{service_fn, LambdaEvent};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use crate::clients::{Clients, With};
use crate::config::Config;
use crate::error::ApiError;
use crate::ids::ConnectionId;
use crate::Ctx;

/// One frame from a client, with who sent it (from the authorizer's context) and on which socket.
#[derive(Debug, Clone)]
pub struct WsRequest {
    /// The route key (`send_message`, `$default`, …).
    pub route: String,
    pub username: String,
    /// The session (`sid`) of the token the socket was opened with, from the authorizer's context.
    pub session: Option<String>,
    /// At `$connect`: the client asked for batch frames (`?batch=1`).
    pub batch: bool,
    pub connection_id: ConnectionId,
    /// The frame's JSON (`Value::Null` when it was not JSON).
    pub body: Value,
    pub request_id: Option<Value>,
    /// Larger than a route reads (64 KiB): answered with `payload_too_large`.
    pub oversized: bool,
}

/// The user the authorizer let in, from its context (as API Gateway passes it on every event of
/// the connection).
fn authorized_user(event: &ApiGatewayWebsocketProxyRequest) -> Option<&str> {
    let authorizer = &event.request_context.authorizer;
    authorizer
        .fields
        .get("username")
        .or_else(|| authorizer.other.get("username"))
        .or_else(|| authorizer.other.get("principalId"))
        .and_then(Value::as_str)
}

impl WsRequest {
    /// Reads the event; the body may be anything (a bad frame is answered, not refused).
    pub fn from_event(event: &ApiGatewayWebsocketProxyRequest) -> Result<Self, ApiError> {
        let context = &event.request_context;
        let authorizer = &context.authorizer;
        let username =
            authorized_user(event).ok_or(ApiError::unauthorized("no authorized user on this connection"))?.to_owned();
        let session = authorizer
            .fields
            .get("sid")
            .or_else(|| authorizer.other.get("sid"))
            .and_then(Value::as_str)
            .filter(|sid| !sid.is_empty())
            .map(str::to_owned);
        let connection_id =
            context.connection_id.clone().map(ConnectionId::new).ok_or(ApiError::invalid("no connection id"))?;
        let batch = matches!(event.query_string_parameters.first("batch"), Some("1" | "true"));
        let raw = event.body.as_deref().unwrap_or("");
        let body: Value = serde_json::from_str(raw).unwrap_or(Value::Null);
        let request_id = body.get("request_id").filter(|v| v.is_string() || v.is_number()).cloned();
        let oversized = raw.len() > crate::http::MAX_BODY_BYTES;
        Ok(Self {
            route: context.route_key.clone().unwrap_or_default(),
            username,
            session,
            batch,
            connection_id,
            body,
            request_id,
            oversized,
        })
    }

    /// The frame's fields as `T` (without `type` and `request_id`): 400 when they do not fit.
    pub fn fields<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        let mut body = match &self.body {
            Value::Object(map) => map.clone(),
            _ => return Err(ApiError::invalid("a frame must be a JSON object")),
        };
        body.remove("type");
        body.remove("request_id");
        serde_json::from_value(Value::Object(body)).map_err(|e| ApiError::invalid(format!("invalid fields: {e}")))
    }

    /// The `type` the client sent, for answering frames that match no route.
    pub fn sent_type(&self) -> Option<&str> {
        self.body.get("type").and_then(Value::as_str)
    }
}

/// API Gateway's limit on one WebSocket message: every answer and push must fit in it.
pub const MAX_ANSWER_BYTES: usize = 128 * 1024;

impl WsRequest {
    /// How many bytes of JSON an answer's `data` may take for the whole answer (its envelope with
    /// this frame's `request_id`) to fit in [`MAX_ANSWER_BYTES`].
    pub fn data_budget(&self) -> usize {
        let envelope = envelope_ok(&self.route, Value::Null, self.request_id.clone()).to_string().len();
        MAX_ANSWER_BYTES.saturating_sub(envelope + 16)
    }
}

/// `{"type", "success": true, "data", "request_id"?}`
pub fn envelope_ok(kind: &str, data: Value, request_id: Option<Value>) -> Value {
    let mut envelope = json!({ "type": kind, "success": true, "data": data });
    if let Some(id) = request_id {
        envelope["request_id"] = id;
    }
    envelope
}

/// `{"type", "success": false, "error", "code", "request_id"?}`: the WebSocket twin of a problem.
pub fn envelope_error(kind: &str, err: &ApiError, request_id: Option<Value>) -> Value {
    err.log_if_internal();
    let mut envelope = json!({ "type": kind, "success": false, "error": err.to_string(), "code": err.code() });
    if let Some(id) = request_id {
        envelope["request_id"] = id;
    }
    envelope
}

/// What a WebSocket route's Lambda returns: API Gateway sends `body` back on the socket.
pub fn route_response(envelope: &Value) -> Value {
    json!({ "statusCode": 200, "body": envelope.to_string() })
}

/// Runs one frame through a route handler, answers with the envelope, and logs one line.
pub async fn respond<X, F, Fut>(route: &str, ctx: X, event: ApiGatewayWebsocketProxyRequest, handler: F) -> Value
where
    F: FnOnce(X, WsRequest) -> Fut,
    Fut: Future<Output = Result<Value, ApiError>>,
{
    use tracing::Instrument;
    let span = request_span(route, &event);
    async move {
        let started = Instant::now();
        let (envelope, ok) = match WsRequest::from_event(&event) {
            Ok(request) => {
                let kind = if route.starts_with('$') {
                    request.sent_type().unwrap_or("error").to_owned()
                } else {
                    route.to_owned()
                };
                let request_id = request.request_id.clone();
                let handled = if request.oversized {
                    Err(ApiError::PayloadTooLarge(crate::http::MAX_BODY_BYTES))
                } else {
                    handler(ctx, request).await
                };
                match handled {
                    Ok(data) => (envelope_ok(&kind, data, request_id), true),
                    Err(err) => (envelope_error(&kind, &err, request_id), false),
                }
            }
            Err(err) => (envelope_error(route, &err, None), false),
        };
        tracing::info!(route, success = ok, latency_ms = started.elapsed().as_secs_f64() * 1000.0, "message");
        route_response(&envelope)
    }
    .instrument(span)
    .await
}

/// The answer to a frame of a route that answers on its own (`ws_route!(… answers_early …)`):
/// such a route is one-way in API Gateway (no route response), and its handler posts the
/// envelope to the caller's socket through the management API as soon as it knows it, then goes
/// on working (a send answers once its message is stored, then pushes). Consumed by sending, so a
/// handler answers at most once; it returns the [`Answered`] that only sending gives.
pub struct Answer {
    connection_id: ConnectionId,
    kind: String,
    request_id: Option<Value>,
}

/// Proof that a frame was answered, and whether with success.
pub struct Answered(bool);

impl Answer {
    fn new(kind: &str, connection_id: &ConnectionId, request_id: Option<Value>) -> Self {
        Self { connection_id: connection_id.clone(), kind: kind.to_owned(), request_id }
    }

    /// Posts the envelope of `result` to the caller's socket (a socket already gone is left be).
    pub async fn send(self, pusher: &dyn crate::notify::Notifier, result: Result<Value, &ApiError>) -> Answered {
        let (envelope, ok) = match result {
            Ok(data) => (envelope_ok(&self.kind, data, self.request_id), true),
            Err(err) => (envelope_error(&self.kind, err, self.request_id), false),
        };
        if let Err(e) = pusher.post(&self.connection_id, envelope.to_string().as_bytes()).await {
            tracing::warn!(error = %e, "could not answer on the caller's socket");
        }
        Answered(ok)
    }
}

/// Runs one frame through a route that answers on its own ([`Answer`]), and logs one line. Returns
/// what a one-way route's Lambda returns: a status and no body (API Gateway passes nothing back).
pub async fn respond_early<C, F, Fut>(
    route: &str,
    ctx: With<C>,
    event: ApiGatewayWebsocketProxyRequest,
    handler: F,
) -> Value
where
    C: crate::clients::Pushes,
    F: FnOnce(With<C>, WsRequest, Answer) -> Fut,
    Fut: Future<Output = Answered>,
{
    use tracing::Instrument;
    let span = request_span(route, &event);
    async move {
        let started = Instant::now();
        let Answered(ok) = match WsRequest::from_event(&event) {
            Ok(request) if request.oversized => {
                let answer = Answer::new(route, &request.connection_id, request.request_id.clone());
                let refused = ApiError::PayloadTooLarge(crate::http::MAX_BODY_BYTES);
                answer.send(ctx.clients.pusher(), Err(&refused)).await
            }
            Ok(request) => {
                let answer = Answer::new(route, &request.connection_id, request.request_id.clone());
                handler(ctx, request, answer).await
            }
            // No user on the event: API Gateway's authorizer let nobody in without one, so there
            // is nobody to answer; log it.
            Err(err) => {
                envelope_error(route, &err, None);
                Answered(false)
            }
        };
        tracing::info!(route, success = ok, latency_ms = started.elapsed().as_secs_f64() * 1000.0, "message");
        json!({ "statusCode": 200 })
    }
    .instrument(span)
    .await
}

/// The span every line of a WebSocket event carries: the route, the connection and its user.
fn request_span(route: &str, event: &ApiGatewayWebsocketProxyRequest) -> tracing::Span {
    tracing::info_span!(
        "request",
        route,
        user = authorized_user(event).unwrap_or_default(),
        connection_id = event.request_context.connection_id.as_deref().unwrap_or_default()
    )
}

/// Runs `$connect` / `$disconnect`: the status code is the answer (a 4xx refuses the handshake).
pub async fn respond_lifecycle<X, F, Fut>(
    route: &str,
    ctx: X,
    event: ApiGatewayWebsocketProxyRequest,
    handler: F,
) -> Value
where
    F: FnOnce(X, WsRequest) -> Fut,
    Fut: Future<Output = Result<(), ApiError>>,
{
    use tracing::Instrument;
    let span = request_span(route, &event);
    async move {
        let started = Instant::now();
        let status = match WsRequest::from_event(&event) {
            Ok(request) => match handler(ctx, request).await {
                Ok(()) => 200,
                Err(err) => {
                    err.log_if_internal();
                    crate::http::status(&err).as_u16()
                }
            },
            Err(err) => crate::http::status(&err).as_u16(),
        };
        tracing::info!(route, status, latency_ms = started.elapsed().as_secs_f64() * 1000.0, "connection");
        json!({ "statusCode": status })
    }
    .instrument(span)
    .await
}

/// The access token of a WebSocket handshake: `?token=`, `Authorization: Bearer`, or the cookie.
pub fn handshake_token(request: &ApiGatewayCustomAuthorizerRequestTypeRequest) -> Option<String> {
    if let Some(token) = request.query_string_parameters.first("token").filter(|t| !t.is_empty()) {
        return Some(token.to_owned());
    }
    crate::http::access_token(&request.headers)
}

/// The REQUEST authorizer: an Allow policy for the connection with the username and session in
/// its context, or an error, which API Gateway turns into 401. A token of a revoked session opens
/// no socket (one consistent read); REST stays stateless for the token's ≤ 15 minutes.
pub async fn authorize(ctx: &Ctx, request: &ApiGatewayCustomAuthorizerRequestTypeRequest) -> Result<Value, ApiError> {
    let token = handshake_token(request).ok_or(ApiError::unauthorized("missing access token"))?;
    let claims = ctx.config.keys.verify(&token, ctx.now_ms())?;
    if let Some(sid) = &claims.sid {
        if !ctx.store.session_open(&claims.sub, sid).await? {
            return Err(ApiError::unauthorized("the session was revoked"));
        }
    }
    let resource = request.method_arn.clone().unwrap_or_else(|| "*".to_owned());
    Ok(json!({
        "principalId": claims.sub,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{ "Action": "execute-api:Invoke", "Effect": "Allow", "Resource": resource }]
        },
        "context": { "username": claims.sub, "sid": claims.sid.unwrap_or_default() }
    }))
}

/// The whole life of a WebSocket route function: configuration, the store and the clients `C` its
/// handler takes once, at cold start, then `handler` for every event.
pub async fn run<C, F, Fut>(route: &'static str, handler: F) -> Result<(), lambda_runtime::Error>
where
    C: Clients,
    F: Fn(With<C>, WsRequest) -> Fut + Copy + Send + Sync + 'static,
    Fut: Future<Output = Result<Value, ApiError>> + Send,
{
    crate::telemetry::init();
    let ctx = With::<C>::from_env().await?;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<ApiGatewayWebsocketProxyRequest>| {
        let ctx = ctx.clone();
        async move { Ok::<_, lambda_runtime::Error>(respond(route, ctx, event.payload, handler).await) }
    }))
    .await
}

/// The whole life of a WebSocket route that answers on its own ([`respond_early`]).
pub async fn run_early<C, F, Fut>(route: &'static str, handler: F) -> Result<(), lambda_runtime::Error>
where
    C: Clients + crate::clients::Pushes,
    F: Fn(With<C>, WsRequest, Answer) -> Fut + Copy + Send + Sync + 'static,
    Fut: Future<Output = Answered> + Send,
{
    crate::telemetry::init();
    let ctx = With::<C>::from_env().await?;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<ApiGatewayWebsocketProxyRequest>| {
        let ctx = ctx.clone();
        async move { Ok::<_, lambda_runtime::Error>(respond_early(route, ctx, event.payload, handler).await) }
    }))
    .await
}

/// The life of a WebSocket route that reads and writes nothing (`ping`, `$default`): its handler
/// is given the configuration alone, so its cold start is the runtime's alone.
pub async fn run_stateless<F, Fut>(route: &'static str, handler: F) -> Result<(), lambda_runtime::Error>
where
    F: Fn(std::sync::Arc<Config>, WsRequest) -> Fut + Copy + Send + Sync + 'static,
    Fut: Future<Output = Result<Value, ApiError>> + Send,
{
    crate::telemetry::init();
    let config = std::sync::Arc::new(Config::from_env()?);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<ApiGatewayWebsocketProxyRequest>| {
        let config = config.clone();
        async move { Ok::<_, lambda_runtime::Error>(respond(route, config, event.payload, handler).await) }
    }))
    .await
}

/// The whole life of `$connect` / `$disconnect`.
pub async fn run_lifecycle<C, F, Fut>(route: &'static str, handler: F) -> Result<(), lambda_runtime::Error>
where
    C: Clients,
    F: Fn(With<C>, WsRequest) -> Fut + Copy + Send + Sync + 'static,
    Fut: Future<Output = Result<(), ApiError>> + Send,
{
    crate::telemetry::init();
    let ctx = With::<C>::from_env().await?;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<ApiGatewayWebsocketProxyRequest>| {
        let ctx = ctx.clone();
        async move { Ok::<_, lambda_runtime::Error>(respond_lifecycle(route, ctx, event.payload, handler).await) }
    }))
    .await
}

/// The whole life of the authorizer: the key and the store (whether the token's session is still
/// open), then `handler` (the same route function the local gateway calls) for every handshake.
pub async fn run_authorizer<F, Fut>(handler: F) -> Result<(), lambda_runtime::Error>
where
    F: Fn(Ctx, ApiGatewayCustomAuthorizerRequestTypeRequest) -> Fut + Copy + Send + Sync + 'static,
    Fut: Future<Output = Result<Value, ApiError>> + Send,
{
    crate::telemetry::init();
    let ctx = Ctx::from_env().await?;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<ApiGatewayCustomAuthorizerRequestTypeRequest>| {
        let ctx = ctx.clone();
        async move {
            let started = Instant::now();
            let decision = handler(ctx, event.payload).await;
            tracing::info!(
                route = "authorizer",
                allowed = decision.is_ok(),
                refused = decision.as_ref().err().map(tracing::field::display),
                latency_ms = started.elapsed().as_secs_f64() * 1000.0,
                "authorize"
            );
            // API Gateway answers 401 when the authorizer fails with "Unauthorized".
            decision.map_err(|_| lambda_runtime::Error::from("Unauthorized"))
        }
    }))
    .await
}

/// A route's answer as the envelope's `data`.
pub fn data<T: serde::Serialize>(value: &T) -> Result<Value, ApiError> {
    serde_json::to_value(value).map_err(ApiError::internal)
}
