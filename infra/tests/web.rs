//! What a page in a browser needs from the local gateway, over real HTTP: the web client's own
//! origin (its files and a `config.js` naming the gateway), CORS preflights that allow every method
//! the route table uses, and a files server that lets a page upload and download with presigned
//! URLs, as the template's bucket rule does. The page itself is driven in Chromium by
//! scripts/browser-test.

mod support;

use std::collections::BTreeSet;

use chathub_functions::table::REST_ROUTES;
use serde_json::json;
use support::TestApp;

const PAGE_ORIGIN: &str = "http://127.0.0.1:3003";

fn web_dir() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../web")
}

#[tokio::test]
async fn the_web_client_is_served_on_its_own_origin() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let config = chathub_gateway::web::config_js("http://127.0.0.1:3000", "ws://127.0.0.1:3001");
    let server = chathub_gateway::web::serve(listener, &web_dir(), config.clone()).unwrap();
    let http = reqwest::Client::new();
    let get = |path: &str| http.get(format!("{base}{path}")).send();

    let page = get("/").await.unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
    let html = page.text().await.unwrap();
    assert!(html.contains(r#"<script type="module" src="src/main.js">"#), "{html}");
    assert!(html.contains(r#"<script src="config.js">"#), "{html}");
    let js = get("/config.js").await.unwrap();
    assert_eq!(js.headers()["content-type"], "text/javascript; charset=utf-8");
    assert_eq!(js.text().await.unwrap(), config);
    for module in ["/src/main.js", "/src/chat.js", "/src/api.js", "/src/socket.js", "/src/dom.js"] {
        let served = get(module).await.unwrap();
        assert_eq!(served.status(), 200, "{module}");
        assert_eq!(served.headers()["content-type"], "text/javascript; charset=utf-8", "{module}");
    }
    assert_eq!(get("/app.css").await.unwrap().headers()["content-type"], "text/css; charset=utf-8");
    // Nothing outside the folder, nothing hidden, nothing that is not there.
    for path in ["/%2e%2e/Cargo.toml", "/src/%2e%2e/%2e%2e/Cargo.toml", "/.gitignore", "/missing.js", "/%FF"] {
        assert_eq!(get(path).await.unwrap().status(), 404, "{path}");
    }
    assert_eq!(http.post(format!("{base}/")).send().await.unwrap().status(), 405);
    server.abort();
}

#[tokio::test]
async fn a_page_may_call_every_route_and_use_presigned_urls_across_origins() {
    let app = TestApp::embedded().await;
    // The preflight allows every method a route uses (PUT too: reactions, pins, devices, blocks).
    let used: BTreeSet<&str> = REST_ROUTES.iter().map(|r| r.method).collect();
    let allowed: BTreeSet<&str> = chathub_gateway::rest::CORS_METHODS.split(", ").collect();
    assert!(used.is_subset(&allowed), "routes use {used:?}, the preflight allows {allowed:?}");
    for method in &used {
        let preflight = app
            .http
            .request(reqwest::Method::OPTIONS, format!("{}/conversations", app.url))
            .header("origin", PAGE_ORIGIN)
            .header("access-control-request-method", *method)
            .header("access-control-request-headers", "authorization, content-type")
            .send()
            .await
            .unwrap();
        assert_eq!(preflight.status(), 204, "{method}");
        assert_eq!(preflight.headers()["access-control-allow-origin"], PAGE_ORIGIN);
        let methods = preflight.headers()["access-control-allow-methods"].to_str().unwrap().to_owned();
        assert!(methods.split(", ").any(|m| m == *method), "{method} not in {methods}");
    }

    // Files: the page uploads to storage with the presigned PUT and reads it back, across origins.
    let ann = app.register("ann").await;
    let declared = app
        .post("/files", Some(&ann.access), json!({"purpose": "avatar", "content_type": "image/png", "size": 4}))
        .await;
    let declared = declared.assert_status(201).clone();
    let upload_url = declared["upload_url"].as_str().unwrap();
    let preflight = |origin: &str, method: &str| {
        app.http
            .request(reqwest::Method::OPTIONS, upload_url)
            .header("origin", origin)
            .header("access-control-request-method", method)
            .header("access-control-request-headers", "content-type")
            .send()
    };
    let allowed = preflight(PAGE_ORIGIN, "PUT").await.unwrap();
    assert_eq!(allowed.status(), 200);
    assert_eq!(allowed.headers()["access-control-allow-origin"], PAGE_ORIGIN);
    assert_eq!(allowed.headers()["access-control-allow-methods"], "GET, PUT, HEAD");
    assert_eq!(preflight("https://elsewhere.example", "PUT").await.unwrap().status(), 403);
    assert_eq!(preflight(PAGE_ORIGIN, "DELETE").await.unwrap().status(), 403);
    let put = app
        .http
        .put(upload_url)
        .header("origin", PAGE_ORIGIN)
        .header("content-type", "image/png")
        .body(b"\x89PNG".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
    assert_eq!(put.headers()["access-control-allow-origin"], PAGE_ORIGIN);
    let file = declared["file_id"].as_str().unwrap();
    let me = app.patch("/users/me", &ann.access, json!({"avatar_file_id": file})).await;
    me.assert_status(200);
    let found = app.get(&format!("/files/{file}?redirect=false"), &ann.access).await;
    let url = found.assert_status(200)["url"].as_str().unwrap().to_owned();
    let got = app.http.get(&url).header("origin", PAGE_ORIGIN).send().await.unwrap();
    assert_eq!(got.status(), 200);
    assert_eq!(got.headers()["access-control-allow-origin"], PAGE_ORIGIN);
    // Another site's page gets no CORS grant (the browser keeps the answer from it).
    let other = app.http.get(&url).header("origin", "https://elsewhere.example").send().await.unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
    app.stop().await;
}
