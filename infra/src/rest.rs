//! The HTTP API side: route matching, the payload v2 event, CORS, and the response back.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::body::{to_bytes, Body};
use axum::extract::{ConnectInfo, Request, State};
use axum::response::{IntoResponse, Response};
use axum::Router;
use base64::Engine;
use chathub_functions::table::{dispatch, RestRoute, REST_ROUTES};
use chathub_shared::clients::Local;
use chathub_shared::With;
use http::header::{HeaderName, HeaderValue, CONTENT_TYPE, COOKIE, ORIGIN};
use http::{HeaderMap, Method, StatusCode};
use serde_json::{json, Map, Value};

/// API Gateway HTTP APIs take payloads up to 10 MB.
const MAX_PAYLOAD_BYTES: usize = 10 * 1024 * 1024;

#[derive(Clone)]
pub struct RestState {
    /// The store and every client; each route is handed the clients it declared.
    pub all: With<Local>,
    pub cors_origins: Vec<String>,
    /// The embedded push provider's record (`/_local/pushes`).
    pub pushes: Arc<chathub_shared::notifications::provider::Recorder>,
    /// What would have gone to the moderation topic (`/_local/reports`).
    pub reports: Arc<chathub_shared::reports::moderation::ReportRecorder>,
}

pub fn router(state: RestState) -> Router {
    // Local only, never deployed: what would have been pushed, and a platform that rejects tokens.
    let local = Router::new()
        .route("/_local/pushes", axum::routing::get(crate::notify::list_pushes))
        .route("/_local/pushes/reject", axum::routing::post(crate::notify::reject))
        .with_state(state.pushes.clone());
    let reports =
        Router::new().route("/_local/reports", axum::routing::get(list_reports)).with_state(state.reports.clone());
    Router::new().fallback(handle).with_state(Arc::new(state)).merge(local).merge(reports)
}

/// Path parameters a route template bound, in template order.
pub type PathParams = Vec<(String, String)>;

/// The route whose template matches `path`, preferring literal segments over `{parameters}` as
/// API Gateway does, with the parameters it binds.
pub fn match_route(method: &str, path: &str) -> Option<(&'static RestRoute, PathParams)> {
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    let mut best: Option<(&RestRoute, PathParams, usize)> = None;
    for route in REST_ROUTES.iter().filter(|r| r.method == method) {
        let template: Vec<&str> = route.path.split('/').collect();
        if template.len() != segments.len() {
            continue;
        }
        let mut params = Vec::new();
        let mut literals = 0;
        let matched = template.iter().zip(&segments).all(|(t, s)| {
            if let Some(name) = t.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
                let value = percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned();
                params.push((name.to_owned(), value));
                !s.is_empty()
            } else {
                literals += 1;
                t == s
            }
        });
        if matched && best.as_ref().is_none_or(|(_, _, l)| literals > *l) {
            best = Some((route, params, literals));
        }
    }
    best.map(|(route, params, _)| (route, params))
}

fn allowed_origin(state: &RestState, headers: &HeaderMap) -> Option<HeaderValue> {
    let origin = headers.get(ORIGIN)?.to_str().ok()?;
    origin_allowed(origin, &state.cors_origins).then(|| HeaderValue::from_str(origin).ok()).flatten()
}

/// Whether a browser origin may call: `http://localhost:*` and `http://127.0.0.1:*`, and the
/// `extra` ones (`--cors-origin`; on AWS, the template's `CorsAllowedOrigins`).
pub fn origin_allowed(origin: &str, extra: &[String]) -> bool {
    let local = ["http://localhost", "http://127.0.0.1"].iter().any(|base| {
        origin == *base
            || origin
                .strip_prefix(base)
                .and_then(|rest| rest.strip_prefix(':'))
                .is_some_and(|port| port.parse::<u16>().is_ok())
    });
    local || extra.iter().any(|o| o == origin)
}

async fn handle(
    State(state): State<Arc<RestState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let started = Instant::now();
    let received_ms = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0);
    let request_id = ulid::Ulid::new().to_string();
    let (method, path) = (request.method().as_str().to_owned(), request.uri().path().to_owned());
    let user_agent = request.headers().get("user-agent").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let origin = allowed_origin(&state, request.headers());
    let (mut response, route_key, integration) =
        if request.method() == Method::OPTIONS && request.headers().contains_key("access-control-request-method") {
            (preflight(origin.is_some()), None, None)
        } else {
            invoke(&state, peer, request, &request_id).await
        };
    if let Some(origin) = origin {
        let h = response.headers_mut();
        h.insert("access-control-allow-origin", origin);
        h.insert("access-control-allow-credentials", HeaderValue::from_static("true"));
        h.insert("vary", HeaderValue::from_static("origin"));
    }
    if let Ok(id) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(HeaderName::from_static("apigw-requestid"), id);
    }
    crate::access::Http {
        request_id: &request_id,
        received_ms,
        ip: &peer.ip().to_string(),
        user_agent: &user_agent,
        method: &method,
        path: &path,
        route_key,
        status: response.status().as_u16(),
        response_length: axum::body::HttpBody::size_hint(response.body()).exact(),
        response_latency_ms: started.elapsed().as_millis(),
        integration,
    }
    .log();
    response
}

/// `GET /_local/reports`: what would have gone to the moderation topic, oldest first: `{items:
/// [{subject, report}]}`.
async fn list_reports(State(recorder): State<Arc<chathub_shared::reports::moderation::ReportRecorder>>) -> Response {
    let items: Vec<Value> = recorder
        .sent()
        .iter()
        .map(|r| json!({ "subject": chathub_shared::reports::moderation::subject(r), "report": r }))
        .collect();
    axum::Json(json!({ "items": items })).into_response()
}

/// The methods a preflight allows: every method of the route table (a test holds them to it),
/// as the template's `CorsConfiguration` does.
pub const CORS_METHODS: &str = "GET, POST, PUT, PATCH, DELETE, OPTIONS";

fn preflight(allowed: bool) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    if allowed {
        let h = response.headers_mut();
        h.insert("access-control-allow-methods", HeaderValue::from_static(CORS_METHODS));
        h.insert("access-control-allow-headers", HeaderValue::from_static("authorization, content-type"));
        h.insert("access-control-max-age", HeaderValue::from_static("600"));
    }
    response
}

/// API Gateway's own answer for a path with no route.
fn api_gateway_message(status: StatusCode, message: &str) -> Response {
    (status, [(CONTENT_TYPE, "application/json")], json!({ "message": message }).to_string()).into_response()
}

/// The function's answer to the request, with the route it matched and what the gateway saw of
/// the invocation (for the access log).
async fn invoke(
    state: &RestState,
    peer: SocketAddr,
    request: Request,
    request_id: &str,
) -> (Response, Option<String>, Option<crate::access::Integration>) {
    let method = request.method().as_str().to_owned();
    let path = request.uri().path().to_owned();
    let Some((route, params)) = match_route(&method, &path) else {
        return (api_gateway_message(StatusCode::NOT_FOUND, "Not Found"), None, None);
    };
    let route_key = Some(route.route_key());
    let (parts, body) = request.into_parts();
    let Ok(body) = to_bytes(body, MAX_PAYLOAD_BYTES).await else {
        return (api_gateway_message(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large"), route_key, None);
    };
    let event = payload_v2_event(route, &params, &parts, &body, peer, request_id);
    let lambda_request = match lambda_http::request::from_str(&event.to_string()) {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "event did not parse");
            return (api_gateway_message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"), route_key, None);
        }
    };
    // Run the handler as its own task: a panic becomes the 500 Lambda would give, not a crash.
    let all = state.all.clone();
    let function = route.function;
    let invocation_id = crate::access::Integration::request_id();
    let span = crate::invoke_span(&invocation_id);
    let started = Instant::now();
    let handled = tokio::spawn(tracing::Instrument::instrument(
        async move { dispatch(function, &all, lambda_request).await },
        span,
    ))
    .await;
    let mut integration = crate::access::Integration {
        request_id: invocation_id,
        status: None,
        latency_ms: started.elapsed().as_millis(),
        error: None,
    };
    let response = match handled {
        Ok(Some(response)) => {
            integration.status = Some(response.status().as_u16());
            into_axum(response)
        }
        Ok(None) | Err(_) => {
            tracing::error!(function, "handler failed");
            integration.error = Some("The function failed (a panic or an unknown function)");
            api_gateway_message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
        }
    };
    (response, route_key, Some(integration))
}

/// The event API Gateway's HTTP API (payload format 2.0) sends for this request.
fn payload_v2_event(
    route: &RestRoute,
    params: &[(String, String)],
    parts: &http::request::Parts,
    body: &[u8],
    peer: SocketAddr,
    request_id: &str,
) -> Value {
    let mut headers = Map::new();
    let mut cookies = Vec::new();
    for name in parts.headers.keys() {
        let values: Vec<&str> = parts.headers.get_all(name).iter().filter_map(|v| v.to_str().ok()).collect();
        if name == COOKIE {
            cookies.extend(
                values.iter().flat_map(|v| v.split(';')).map(|c| c.trim().to_owned()).filter(|c| !c.is_empty()),
            );
        } else {
            headers.insert(name.as_str().to_owned(), Value::String(values.join(",")));
        }
    }
    let raw_query = parts.uri.query().unwrap_or("");
    let mut query = Map::new();
    for (k, v) in serde_urlencoded::from_str::<Vec<(String, String)>>(raw_query).unwrap_or_default() {
        match query.get_mut(&k) {
            Some(Value::String(existing)) => {
                existing.push(',');
                existing.push_str(&v);
            }
            _ => {
                query.insert(k, Value::String(v));
            }
        }
    }
    let path_params: Map<String, Value> = params.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
    let (body, is_base64) = match std::str::from_utf8(body) {
        Ok(text) => (text.to_owned(), false),
        Err(_) => (base64::engine::general_purpose::STANDARD.encode(body), true),
    };
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0);
    let user_agent = parts.headers.get("user-agent").and_then(|v| v.to_str().ok()).unwrap_or("");
    let mut event = json!({
        "version": "2.0",
        "routeKey": route.route_key(),
        "rawPath": parts.uri.path(),
        "rawQueryString": raw_query,
        "headers": headers,
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "local",
            "domainName": parts.headers.get("host").and_then(|v| v.to_str().ok()).unwrap_or("127.0.0.1"),
            "domainPrefix": "local",
            "http": {
                "method": parts.method.as_str(),
                "path": parts.uri.path(),
                "protocol": "HTTP/1.1",
                "sourceIp": peer.ip().to_string(),
                "userAgent": user_agent,
            },
            "requestId": request_id,
            "routeKey": route.route_key(),
            "stage": "$default",
            "time": crate::access::clf(now),
            "timeEpoch": now,
        },
        "isBase64Encoded": is_base64,
    });
    if !cookies.is_empty() {
        event["cookies"] = json!(cookies);
    }
    if !query.is_empty() {
        event["queryStringParameters"] = Value::Object(query);
    }
    if !path_params.is_empty() {
        event["pathParameters"] = Value::Object(path_params);
    }
    if !body.is_empty() {
        event["body"] = Value::String(body);
    }
    event
}

fn into_axum(response: chathub_shared::http::Response) -> Response {
    let (parts, body) = response.into_parts();
    let bytes = match body {
        lambda_http::Body::Text(t) => t.into_bytes(),
        lambda_http::Body::Binary(b) => b,
        _ => Vec::new(),
    };
    Response::from_parts(parts, Body::from(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_segments_win_over_parameters() {
        let (route, params) = match_route("GET", "/users/me").unwrap();
        assert_eq!(route.function, "users-me-get");
        assert!(params.is_empty());
        let (route, params) = match_route("GET", "/users/alice%2Eb").unwrap();
        assert_eq!(route.function, "users-get");
        assert_eq!(params, vec![("username".to_owned(), "alice.b".to_owned())]);
        assert!(match_route("GET", "/nope").is_none());
        assert!(match_route("PUT", "/users/me").is_none());
        assert!(match_route("GET", "/users//x").is_none());
    }
}
