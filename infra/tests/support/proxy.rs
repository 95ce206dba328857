//! A fault-injecting stand-in for DynamoDB.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// A stand-in for DynamoDB in front of DynamoDB Local that answers a share of requests, while
/// switched on, with `ProvisionedThroughputExceededException` (the request never reaches the
/// table, as when DynamoDB throttles); with `only`, just requests for that operation
/// (`BatchGetItem`, …).
pub struct ThrottlingProxy {
    pub url: String,
    pub on: Arc<AtomicBool>,
}

pub async fn throttling_proxy(upstream: String, percent: u64, only: Option<&'static str>) -> ThrottlingProxy {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let on = Arc::new(AtomicBool::new(false));
    let state = (on.clone(), Arc::new(AtomicU64::new(0x9e37_79b9_7f4a_7c15)), reqwest::Client::new(), upstream);
    let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
        let (on, seed, client, upstream) = state.clone();
        async move {
            // xorshift: a fixed sequence, so a run can be repeated.
            let mut x = seed.load(Ordering::SeqCst);
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            seed.store(x, Ordering::SeqCst);
            let operation = req.headers().get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or("");
            let chosen = only.is_none_or(|only| operation.strip_prefix("DynamoDB_20120810.") == Some(only));
            if on.load(Ordering::SeqCst) && chosen && x % 100 < percent {
                let body = r#"{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"injected"}"#;
                return axum::response::Response::builder()
                    .status(400)
                    .header("content-type", "application/x-amz-json-1.0")
                    .body(axum::body::Body::from(body))
                    .unwrap();
            }
            let (parts, body) = req.into_parts();
            let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
            let mut forward = client.post(format!("{upstream}{}", parts.uri.path())).body(bytes);
            for (name, value) in &parts.headers {
                if name != "host" && name != "content-length" {
                    forward = forward.header(name.as_str(), value.as_bytes());
                }
            }
            let answer = forward.send().await.unwrap();
            let mut response = axum::response::Response::builder().status(answer.status().as_u16());
            for (name, value) in answer.headers() {
                if name != "content-length" && name != "transfer-encoding" && name != "connection" {
                    response = response.header(name.as_str(), value.as_bytes());
                }
            }
            response.body(axum::body::Body::from(answer.bytes().await.unwrap())).unwrap()
        }
    });
    let server = axum::serve(listener, app);
    // The proxy lives as long as the test process; only test code spawns.
    #[allow(clippy::disallowed_methods)]
    tokio::spawn(async move { server.await.unwrap() });
    ThrottlingProxy { url, on }
}
