//! Every function's sample event in events/ (the ones `cargo lambda invoke --data-file` takes)
//! parses as an API Gateway event and runs through its handler on the embedded store without a
//! server error or a panic.

use std::path::Path;
use std::sync::Arc;

use chathub_functions::table::{dispatch, REST_ROUTES};
use chathub_shared::config::Config;
use chathub_shared::store::memory::MemoryStore;
use chathub_shared::Ctx;

#[tokio::test]
async fn every_sample_event_runs_through_its_handler() {
    let ctx = Ctx::new(
        Config::new(vec![7u8; 32], "samples").unwrap(),
        Arc::new(MemoryStore::new()),
    );
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../events");
    for route in REST_ROUTES {
        let path = dir.join(format!("{}.json", route.function));
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|_| panic!("no sample event {}", path.display()));
        let event: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(event["routeKey"], route.route_key(), "{}", path.display());
        let request = lambda_http::request::from_str(&text)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let response = dispatch(route.function, ctx.clone(), request)
            .await
            .expect("routed");
        assert!(
            response.status().as_u16() < 500,
            "{} answered {}",
            route.function,
            response.status()
        );
    }
}
