//! Every function's sample event in events/ (the ones `cargo lambda invoke --data-file` takes)
//! parses as its API Gateway event and runs through its handler on the embedded store without a
//! server error or a panic.

use std::path::PathBuf;
use std::sync::Arc;

use aws_lambda_events::apigw::{ApiGatewayCustomAuthorizerRequestTypeRequest, ApiGatewayWebsocketProxyRequest};
use chathub_functions::routes::ws_authorizer;
use chathub_functions::table::{dispatch, dispatch_ws, REST_ROUTES, WS_AUTHORIZER, WS_ROUTES};
use chathub_shared::accounts;
use chathub_shared::blobs::S3BlobStore;
use chathub_shared::clients::Local;
use chathub_shared::config::Config;
use chathub_shared::keys::{Signer, SigningKey};
use chathub_shared::notify::NoNotifier;
use chathub_shared::store::memory::MemoryStore;
use chathub_shared::{Ctx, With};

/// An embedded store where the samples' user, alice, exists; presigning needs no server.
async fn ctx() -> (With<Local>, String) {
    let blobs = S3BlobStore::for_endpoint("http://127.0.0.1:9", "k", "s", "samples").await;
    let ctx = Ctx::new(Config::new([7u8; 32], "samples").unwrap(), Arc::new(MemoryStore::new()));
    let signer = Signer::local(SigningKey::from_material(&[7u8; 32]).unwrap());
    let push_provider = Arc::new(chathub_shared::notifications::provider::Recorder::new());
    let ctx = With {
        ctx,
        clients: Local {
            pusher: Arc::new(NoNotifier),
            blobs: Arc::new(blobs),
            signer,
            push_provider,
            moderation: Arc::new(chathub_shared::reports::moderation::ReportRecorder::new()),
        },
    };
    let request = serde_json::from_value(serde_json::json!({"username": "alice", "password": "correct horse battery"}));
    let tokens = accounts::register(&ctx, request.unwrap()).await.unwrap();
    (ctx, tokens.access_token)
}

/// The sample's text, with alice's real access token in place of the placeholder.
fn sample(function: &str, token: &str) -> (PathBuf, String) {
    let path = manifest_dir().join("../events").join(format!("{function}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|_| panic!("no sample event {}", path.display()));
    (path, text.replace("REPLACE_WITH_AN_ACCESS_TOKEN", token))
}

#[tokio::test]
async fn every_rest_sample_runs_through_its_handler() {
    let (ctx, _) = ctx().await;
    for route in REST_ROUTES {
        // A session of its own: an earlier sample (auth-logout) ends the one it was given.
        let token = accounts::open_session(&ctx, "alice").await.unwrap().access_token;
        let (path, text) = sample(route.function, &token);
        let event: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(event["routeKey"], route.route_key(), "{}", path.display());
        let request = lambda_http::request::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let response = dispatch(route.function, &ctx, request).await.expect("routed");
        let status = response.status().as_u16();
        assert!(status < 500, "{} answered {status}", route.function);
        // With a real token, nothing is refused for want of one.
        if route.function != "auth-refresh" {
            assert_ne!(status, 401, "{} refused alice's token", route.function);
        }
    }
}

#[tokio::test]
async fn every_websocket_sample_runs_through_its_handler() {
    let (ctx, token) = ctx().await;
    for route in WS_ROUTES {
        let (path, text) = sample(route.function, &token);
        let event: ApiGatewayWebsocketProxyRequest =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(event.request_context.route_key.as_deref(), Some(route.route_key), "{}", path.display());
        let response = dispatch_ws(route.function, &ctx, event).await.expect("routed");
        let status = response["statusCode"].as_u64().unwrap();
        assert!(status < 500, "{} answered {response}", route.function);
        if let Some(body) = response["body"].as_str() {
            let envelope: serde_json::Value = serde_json::from_str(body).unwrap();
            assert!(envelope["type"].is_string() && envelope["success"].is_boolean(), "{}: {envelope}", route.function);
            assert_ne!(envelope["code"], "internal_error", "{}: {envelope}", route.function);
        }
    }
    let (path, text) = sample(WS_AUTHORIZER, &token);
    let request: ApiGatewayCustomAuthorizerRequestTypeRequest =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let policy = ws_authorizer::handle(ctx.ctx.clone(), request).await.expect("alice's token is allowed");
    assert_eq!(policy["context"]["username"], "alice");
    let (_, placeholder) = sample(WS_AUTHORIZER, "not-a-token");
    let refused: ApiGatewayCustomAuthorizerRequestTypeRequest = serde_json::from_str(&placeholder).unwrap();
    assert!(ws_authorizer::handle(ctx.ctx, refused).await.is_err(), "a bad token must be refused (401)");
}

/// The gateway crate's folder, read when the test runs (cargo sets it): a value baked in at compile
/// time would point at whichever clone built the binary last, since clones share a target dir.
fn manifest_dir() -> std::path::PathBuf {
    std::path::PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"))
}

/// The notify function's sample (a stream batch: a member added, a message, a read) runs through
/// its handler without a failed record.
#[tokio::test]
async fn the_notify_sample_runs_through_its_handler() {
    let (ctx, _) = ctx().await;
    let path = manifest_dir().join("../events").join(format!("{}.json", chathub_functions::table::NOTIFY));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|_| panic!("no sample event {}", path.display()));
    let event = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let recorder = chathub_shared::notifications::provider::Recorder::new();
    let content = chathub_shared::notifications::alert::Content::Full;
    let response = chathub_functions::notify::handle(&ctx.ctx, &recorder, content, event).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
}
