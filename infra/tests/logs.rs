//! Logs an operator can follow: every line of a request carries the invocation's request id (the
//! Lambda runtime's span, which the gateway opens as Lambda does), the route, and the user once
//! known; on the WebSocket side also the connection id. Captured from the subscriber the functions
//! install (`telemetry::json_subscriber`), over real HTTP and WebSocket connections.
//!
//! One test in this binary: it installs the process-wide subscriber.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use tracing::level_filters::LevelFilter;

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The lines whose `message` is `message` and whose field `route` is `route`.
fn lines<'a>(all: &'a [Value], message: &str, route: &str) -> Vec<&'a Value> {
    all.iter().filter(|l| l["message"] == message && l["route"] == route).collect()
}

/// The span named `name` on `line`.
fn span<'a>(line: &'a Value, name: &str) -> &'a Value {
    line["spans"].as_array().and_then(|s| s.iter().find(|s| s["name"] == name)).unwrap_or(&Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_line_names_its_request_id_route_user_and_socket() {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = chathub_shared::telemetry::json_subscriber(move || writer.clone(), LevelFilter::INFO);
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber of this test binary");

    let app = support::TestApp::embedded().await;
    let ann = app.register("ann").await;
    app.get("/users/me", &ann.access).await.assert_status(200);
    app.get("/users/me", "not-a-token").await.assert_problem(401, "invalid_token");
    let mut socket = app.socket(&ann).await;
    assert_eq!(socket.request("get_contacts", json!({})).await["success"], true);
    socket.close().await;
    app.stop().await;

    let text = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    let all: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).expect("every line is JSON")).collect();
    let request_ids = |lines: &[&Value]| -> Vec<String> {
        lines.iter().map(|l| span(l, "Lambda runtime invoke")["requestId"].as_str().unwrap_or("").to_owned()).collect()
    };

    let me = lines(&all, "request", "users-me-get");
    assert_eq!(me.len(), 2, "{text}");
    let ids = request_ids(&me);
    assert!(ids.iter().all(|id| !id.is_empty()) && ids[0] != ids[1], "request ids {ids:?}");
    assert_eq!(span(me[0], "request")["user"], "ann", "{}", me[0]);
    assert_eq!(span(me[0], "request")["route"], "users-me-get");
    // Refused before anyone is known: no user.
    assert!(span(me[1], "request").get("user").is_none(), "{}", me[1]);
    assert_eq!(me[1]["status"], 401);
    // Register knows its user from the body.
    let register = lines(&all, "request", "auth-register");
    assert_eq!(span(register[0], "request")["user"], "ann", "{}", register[0]);

    for (message, route) in [("connection", "$connect"), ("message", "get_contacts"), ("connection", "$disconnect")] {
        let found = lines(&all, message, route);
        assert_eq!(found.len(), 1, "{route}: {text}");
        let line = found[0];
        assert!(!request_ids(&found)[0].is_empty(), "{line}");
        let request = span(line, "request");
        assert_eq!(request["user"], "ann", "{line}");
        assert!(request["connection_id"].as_str().is_some_and(|c| !c.is_empty()), "{line}");
    }
}
