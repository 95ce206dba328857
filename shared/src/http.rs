//! The REST edge: API Gateway HTTP API (payload v2) requests in, JSON and RFC 9457 problems out,
//! and the Lambda entry point every REST function binary runs.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use http::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE, COOKIE, RETRY_AFTER};
use http::StatusCode;
use lambda_http::{Body, Request, RequestExt};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::auth::{self, Claims};
use crate::clients::{Clients, With};
use crate::config::Config;
use crate::error::ApiError;
use crate::ids::{ConversationId, FileId, MessageId};
use crate::paging::{DEFAULT_LIMIT, MAX_LIMIT};
use crate::Ctx;

pub type Response = http::Response<Body>;

/// Largest JSON body a route reads; API Gateway's own limit is far higher.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

pub fn json<T: Serialize>(status: StatusCode, value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(bytes) => http::Response::builder()
            .status(status)
            .header(CONTENT_TYPE, "application/json")
            .body(Body::Binary(bytes))
            .unwrap_or_default(),
        Err(e) => problem(&ApiError::internal(e)),
    }
}

pub fn text(status: StatusCode, body: &str) -> Response {
    http::Response::builder()
        .status(status)
        .header(CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(Body::Text(body.to_owned()))
        .unwrap_or_default()
}

pub fn no_content() -> Response {
    http::Response::builder().status(StatusCode::NO_CONTENT).body(Body::Empty).unwrap_or_default()
}

/// The HTTP status of a failure: the one place the domain's errors meet HTTP (the WebSocket edge
/// uses it for `$connect`, whose status refuses the handshake).
pub fn status(err: &ApiError) -> StatusCode {
    match err {
        ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
        ApiError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
        ApiError::Forbidden { .. } => StatusCode::FORBIDDEN,
        ApiError::NotFound(_) => StatusCode::NOT_FOUND,
        ApiError::Conflict { .. } => StatusCode::CONFLICT,
        ApiError::Gone { .. } => StatusCode::GONE,
        ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
        ApiError::TooManyRequests { .. } | ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
        ApiError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
        ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The RFC 9457 body of a failure. Internal errors say nothing of their cause.
pub fn problem_body(err: &ApiError) -> serde_json::Value {
    let status = status(err);
    serde_json::json!({
        "type": "about:blank",
        "title": status.canonical_reason().unwrap_or("Error"),
        "status": status.as_u16(),
        "detail": err.to_string(),
        "code": err.code(),
    })
}

/// The one place an error becomes an HTTP response. Internal causes are logged here and only here.
pub fn problem(err: &ApiError) -> Response {
    err.log_if_internal();
    let body = serde_json::to_vec(&problem_body(err)).unwrap_or_default();
    let mut builder = http::Response::builder().status(status(err)).header(CONTENT_TYPE, "application/problem+json");
    if let Some(secs) = err.retry_after_secs() {
        builder = builder.header(RETRY_AFTER, secs.to_string());
    }
    builder.body(Body::Binary(body)).unwrap_or_default()
}

fn body_bytes(req: &Request) -> &[u8] {
    match req.body() {
        Body::Empty => &[],
        Body::Text(t) => t.as_bytes(),
        Body::Binary(b) => b,
        _ => &[],
    }
}

/// The request body as `T`: 413 when too large, 400 when absent, not a JSON object or of the wrong
/// shape. Every body is an object: serde would otherwise read a struct from an array of its fields
/// in order (`[null, null]`), which no client means and the OpenAPI document does not allow.
pub fn body_json<T: DeserializeOwned>(req: &Request) -> Result<T, ApiError> {
    let bytes = body_bytes(req);
    if bytes.len() > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge(MAX_BODY_BYTES));
    }
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ApiError::invalid("request body must be a JSON object"));
    }
    serde_json::from_slice(bytes).map_err(|e| ApiError::invalid(format!("invalid request body: {e}")))
}

/// Like [`body_json`], but an empty body means `T::default()`.
pub fn body_json_or_default<T: DeserializeOwned + Default>(req: &Request) -> Result<T, ApiError> {
    if body_bytes(req).iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    body_json(req)
}

/// The access token from `Authorization: Bearer`, else from the `login-token` cookie.
pub fn access_token(headers: &http::HeaderMap) -> Option<String> {
    if let Some(value) = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        let (scheme, token) = value.trim().split_once(' ')?;
        return scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_owned());
    }
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == auth::LOGIN_COOKIE)
        .map(|(_, value)| value.to_owned())
}

/// The caller, from a valid access token: 401 otherwise.
pub fn authenticate(ctx: &Ctx, req: &Request) -> Result<Claims, ApiError> {
    let token = access_token(req.headers()).ok_or(ApiError::unauthorized("missing access token"))?;
    let claims = ctx.config.keys.verify(&token, ctx.now_ms())?;
    tracing::Span::current().record("user", claims.sub.as_str());
    Ok(claims)
}

pub fn query_param(req: &Request, name: &str) -> Option<String> {
    req.query_string_parameters_ref().and_then(|q| q.first(name)).map(str::to_owned)
}

pub fn path_param(req: &Request, name: &str) -> Result<String, ApiError> {
    req.path_parameters_ref()
        .and_then(|p| p.first(name))
        .map(str::to_owned)
        .ok_or_else(|| ApiError::invalid(format!("missing path parameter {name}")))
}

/// The `{id}` path parameter: a conversation's id.
pub fn conversation_id_param(req: &Request) -> Result<ConversationId, ApiError> {
    path_param(req, "id").map(ConversationId::from)
}

/// The `{file_id}` path parameter.
pub fn file_id_param(req: &Request) -> Result<FileId, ApiError> {
    path_param(req, "file_id").map(FileId::from)
}

/// The `{message_id}` path parameter: an unparsable one names no message (404).
pub fn message_id_param(req: &Request) -> Result<MessageId, ApiError> {
    path_param(req, "message_id")?.parse().map(MessageId::new).map_err(|_| ApiError::NotFound("message not found"))
}

/// The `{reaction}` path parameter, the path's last segment: percent-decoded from the path as the
/// client sent it (what API Gateway passes as `rawPath`), so bytes that are not UTF-8 are 400
/// rather than replaced; then checked ([`crate::reactions::rules::validate`]).
pub fn reaction_param(req: &Request) -> Result<String, ApiError> {
    use lambda_http::RequestExt;
    let raw = req.raw_http_path();
    let raw = if raw.is_empty() { req.uri().path() } else { raw };
    let segment = raw.rsplit('/').next().unwrap_or_default();
    crate::reactions::rules::decode_segment(segment)
        .ok_or_else(|| ApiError::invalid("a reaction is UTF-8, percent-encoded in the path"))
}

/// `?name=` as an integer, if given; anything else is 400.
pub fn int_param(req: &Request, name: &str) -> Result<Option<i64>, ApiError> {
    query_param(req, name)
        .map(|raw| raw.parse::<i64>().map_err(|_| ApiError::invalid(format!("{name} must be an integer"))))
        .transpose()
}

/// `?limit=`: 1–100, default 50; anything else is 400.
pub fn limit_param(req: &Request) -> Result<usize, ApiError> {
    match query_param(req, "limit") {
        None => Ok(DEFAULT_LIMIT),
        Some(raw) => raw
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| ApiError::invalid("limit must be an integer from 1 to 100")),
    }
}

/// The client's address as API Gateway saw it (`requestContext.http.sourceIp`); "unknown" when
/// there is none, which then throttles as one source.
pub fn source_ip(req: &Request) -> String {
    use lambda_http::request::RequestContext;
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context.http.source_ip.clone(),
        _ => None,
    }
    .filter(|ip| !ip.is_empty())
    .unwrap_or_else(|| "unknown".to_owned())
}

/// `Set-Cookie` for the access token, for browsers (HttpOnly, Secure, SameSite=Lax).
pub fn login_cookie(access_token: &str) -> HeaderValue {
    let cookie = format!(
        "{}={access_token}; Max-Age={}; Path=/; HttpOnly; Secure; SameSite=Lax",
        auth::LOGIN_COOKIE,
        auth::ACCESS_TOKEN_TTL_SECS
    );
    HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// `Set-Cookie` that clears the access-token cookie (logout).
pub fn clear_login_cookie() -> HeaderValue {
    let cookie = format!("{}=; Max-Age=0; Path=/; HttpOnly; Secure; SameSite=Lax", auth::LOGIN_COOKIE);
    HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Runs one request through a route handler: errors become problems, and one JSON log line records
/// route, status and latency.
pub async fn respond<Fut>(route: &str, handled: Fut) -> Response
where
    Fut: Future<Output = Result<Response, ApiError>>,
{
    use tracing::Instrument;
    // `user` is recorded by `authenticate` once the token is verified.
    let span = tracing::info_span!("request", route, user = tracing::field::Empty);
    async move {
        let started = Instant::now();
        let response = handled.await.unwrap_or_else(|err| problem(&err));
        tracing::info!(
            route,
            status = response.status().as_u16(),
            latency_ms = started.elapsed().as_secs_f64() * 1000.0,
            "request"
        );
        response
    }
    .instrument(span)
    .await
}

/// The whole life of a REST function that uses the store: configuration, the store and the
/// clients `C` its handler takes once, at cold start, then `handler` for every event.
pub async fn run<C, F, Fut>(route: &'static str, handler: F) -> Result<(), lambda_http::Error>
where
    C: Clients,
    F: Fn(With<C>, Request) -> Fut + Copy + Send + Sync + 'static,
    Fut: Future<Output = Result<Response, ApiError>> + Send,
{
    crate::telemetry::init();
    let ctx = With::<C>::from_env().await?;
    lambda_http::run(lambda_http::service_fn(move |req: Request| {
        let ctx = ctx.clone();
        async move { Ok::<_, lambda_http::Error>(respond(route, handler(ctx, req)).await) }
    }))
    .await
}

/// The life of a REST function that needs its configuration but no store and no SDK client: its
/// handler is given the configuration alone.
pub async fn run_configured<F, Fut>(route: &'static str, handler: F) -> Result<(), lambda_http::Error>
where
    F: Fn(Arc<Config>, Request) -> Fut + Copy + Send + Sync + 'static,
    Fut: Future<Output = Result<Response, ApiError>> + Send,
{
    crate::telemetry::init();
    let config = Arc::new(Config::from_env()?);
    lambda_http::run(lambda_http::service_fn(move |req: Request| {
        let config = config.clone();
        async move { Ok::<_, lambda_http::Error>(respond(route, handler(config, req)).await) }
    }))
    .await
}
