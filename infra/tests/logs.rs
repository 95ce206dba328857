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
    app.get("/no/such/route", &ann.access).await.assert_status(404);
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

    access_lines_are_the_access_logs_of_template_yaml(&all, &text);
}

/// The fields (and their order) of an API's access log format in template.yaml.
fn access_log_format(api_stage: &[&str]) -> Vec<String> {
    let path = std::path::PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("../template.yaml");
    let template: serde_yaml::Value = serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut settings = &template["Resources"];
    for key in api_stage {
        settings = &settings[*key];
    }
    let format = settings["Properties"]["AccessLogSettings"]["Format"].as_str().expect("an access log format");
    let format: serde_json::Map<String, Value> = serde_json::from_str(format).expect("JSON");
    format.keys().cloned().collect()
}

/// The gateway's `access` lines carry exactly the fields of the stage's access log on AWS (a query
/// written for one works on the other), and lead to the function's lines as they do there: the
/// access line's `integrationRequestId` is the function invocation's `requestId`.
fn access_lines_are_the_access_logs_of_template_yaml(all: &[Value], text: &str) {
    let http_fields = access_log_format(&["HttpApi"]);
    let ws_fields = access_log_format(&["WebSocketStage"]);
    let access: Vec<&Value> = all.iter().filter(|l| l["message"] == "access").collect();
    let fields_of = |line: &Value| -> Vec<String> {
        let mut keys: Vec<String> = line
            .as_object()
            .unwrap()
            .keys()
            .filter(|k| !["timestamp", "level", "message", "spans"].contains(&k.as_str()))
            .cloned()
            .collect();
        keys.sort();
        keys
    };
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    let (http_fields, ws_fields) = (sorted(http_fields), sorted(ws_fields));
    for line in &access {
        let fields = fields_of(line);
        assert!(
            fields == http_fields || fields == ws_fields,
            "access line fields {fields:?} are neither API's: {line}"
        );
        for field in &fields {
            assert!(line[field].as_str().is_some_and(|v| !v.is_empty()), "{field} is not a string: {line}");
        }
    }
    let http = |route_key: &str, status: &str| -> Vec<&Value> {
        access.iter().copied().filter(|l| l["routeKey"] == route_key && l["status"] == status).collect()
    };
    // GET /users/me, answered and refused: each leads to its function's line.
    let request_lines = lines(all, "request", "users-me-get");
    for (status, function_status) in [("200", 200), ("401", 401)] {
        let found = http("GET /users/me", status);
        assert_eq!(found.len(), 1, "GET /users/me {status}: {text}");
        let line = found[0];
        assert_eq!(line["httpMethod"], "GET");
        assert_eq!(line["path"], "/users/me");
        assert_eq!(line["integrationStatus"], status);
        assert_eq!(line["integrationError"], "-");
        assert!(line["responseLength"].as_str().unwrap().parse::<u64>().unwrap() > 0, "{line}");
        assert_ne!(line["requestId"], line["integrationRequestId"], "API Gateway's id and the function's differ");
        let invocation = line["integrationRequestId"].as_str().unwrap();
        let function_line = request_lines
            .iter()
            .find(|l| span(l, "Lambda runtime invoke")["requestId"] == invocation)
            .unwrap_or_else(|| panic!("no function line has requestId {invocation}: {text}"));
        assert_eq!(function_line["status"], function_status);
    }
    // No route: API Gateway's own 404, no function.
    let none = http("-", "404");
    assert_eq!(none.len(), 1, "{text}");
    assert_eq!(
        (none[0]["path"].as_str(), none[0]["integrationRequestId"].as_str()),
        (Some("/no/such/route"), Some("-"))
    );

    // The socket: connect, one frame, disconnect, each under one connection id.
    let events: Vec<(&str, &str, &str)> = access
        .iter()
        .filter(|l| l.get("eventType").is_some())
        .map(|l| (l["eventType"].as_str().unwrap(), l["routeKey"].as_str().unwrap(), l["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        events,
        [("CONNECT", "$connect", "200"), ("MESSAGE", "get_contacts", "200"), ("DISCONNECT", "$disconnect", "200")],
        "{text}"
    );
    for (message, route) in [("connection", "$connect"), ("message", "get_contacts"), ("connection", "$disconnect")] {
        let function_line = lines(all, message, route)[0];
        let invocation = span(function_line, "Lambda runtime invoke")["requestId"].as_str().unwrap();
        let line = access.iter().find(|l| l["integrationRequestId"] == invocation).expect("its access line");
        assert_eq!(line["connectionId"], span(function_line, "request")["connection_id"], "{line}");
        assert_eq!(line["authorizerError"], "-");
    }
}
