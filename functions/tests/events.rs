//! Every function's sample event in events/ (the ones `cargo lambda invoke --data-file` takes)
//! parses as its API Gateway event and runs through its handler on the embedded store without a
//! server error or a panic.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use aws_lambda_events::apigw::{ApiGatewayCustomAuthorizerRequestTypeRequest, ApiGatewayWebsocketProxyRequest};
use chathub_functions::routes::ws_authorizer;
use chathub_functions::table::{dispatch, dispatch_ws, REST_ROUTES, WS_AUTHORIZER, WS_ROUTES};
use chathub_shared::config::Config;
use chathub_shared::store::memory::MemoryStore;
use chathub_shared::Ctx;

fn ctx() -> Ctx {
    Ctx::new(Config::new(vec![7u8; 32], "samples").unwrap(), Arc::new(MemoryStore::new()))
}

fn sample(function: &str) -> (PathBuf, String) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../events").join(format!("{function}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|_| panic!("no sample event {}", path.display()));
    (path, text)
}

#[tokio::test]
async fn every_rest_sample_runs_through_its_handler() {
    let ctx = ctx();
    for route in REST_ROUTES {
        let (path, text) = sample(route.function);
        let event: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(event["routeKey"], route.route_key(), "{}", path.display());
        let request = lambda_http::request::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let response = dispatch(route.function, ctx.clone(), request).await.expect("routed");
        assert!(response.status().as_u16() < 500, "{} answered {}", route.function, response.status());
    }
}

#[tokio::test]
async fn every_websocket_sample_runs_through_its_handler() {
    let ctx = ctx();
    for route in WS_ROUTES {
        let (path, text) = sample(route.function);
        let event: ApiGatewayWebsocketProxyRequest =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(event.request_context.route_key.as_deref(), Some(route.route_key), "{}", path.display());
        let response = dispatch_ws(route.function, ctx.clone(), event).await.expect("routed");
        let status = response["statusCode"].as_u64().unwrap();
        // $connect may refuse (the sample's user does not exist here), but never with a 5xx.
        assert!(status < 500, "{} answered {response}", route.function);
        if let Some(body) = response["body"].as_str() {
            let envelope: serde_json::Value = serde_json::from_str(body).unwrap();
            assert!(envelope["type"].is_string() && envelope["success"].is_boolean(), "{}: {envelope}", route.function);
            assert_ne!(envelope["code"], "internal_error", "{}: {envelope}", route.function);
        }
    }
    let (path, text) = sample(WS_AUTHORIZER);
    let request: ApiGatewayCustomAuthorizerRequestTypeRequest =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    // The placeholder token is refused: 401 at the handshake.
    assert!(ws_authorizer::handle(ctx.clone(), request).await.is_err());
}
