//! The web client's own origin (`--web-addr`, by default http://127.0.0.1:3003): the files of
//! `web/` as they are (plain modules: nothing to build), and a `config.js` that points the client at
//! this gateway's REST and WebSocket addresses. A static host serves the same files with a
//! `config.js` of its own (`scripts/web-build`); the client talks to the API across origins either
//! way, as it would when hosted apart from a deployed stage.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderValue, Method, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

struct Site {
    root: PathBuf,
    config: String,
}

/// The `config.js` that points the client at `api` (REST) and `ws` (WebSocket).
pub fn config_js(api: &str, ws: &str) -> String {
    let config = serde_json::json!({ "api": api, "ws": ws });
    format!("window.CHATHUB_CONFIG = {config};\n")
}

/// Serves the folder `root` on `listener`, with `config` as `/config.js`.
pub fn serve(listener: TcpListener, root: &Path, config: String) -> std::io::Result<JoinHandle<()>> {
    let root = root.canonicalize()?;
    if !root.join("index.html").is_file() {
        return Err(std::io::Error::other(format!("{} has no index.html", root.display())));
    }
    let site = Arc::new(Site { root, config });
    let app = Router::new().fallback(file).with_state(site);
    Ok(tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::warn!(error = %e, "the web client's server stopped");
        }
    }))
}

async fn file(State(site): State<Arc<Site>>, request: Request<Body>) -> Response {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return (StatusCode::METHOD_NOT_ALLOWED, [(header::ALLOW, "GET, HEAD")]).into_response();
    }
    let path = request.uri().path();
    if path == "/config.js" {
        return answer(site.config.clone().into_bytes(), "text/javascript; charset=utf-8");
    }
    let Some(relative) = safe_path(path) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let wanted = site.root.join(relative);
    let wanted = if wanted.is_dir() { wanted.join("index.html") } else { wanted };
    match tokio::fs::read(&wanted).await {
        Ok(bytes) => answer(bytes, content_type(&wanted)),
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}

/// A URL path as a relative file path: percent-decoded, and only plain names (no `..`, no root,
/// no hidden files), so nothing outside the folder is ever served.
fn safe_path(path: &str) -> Option<PathBuf> {
    let decoded = percent_encoding::percent_decode_str(path).decode_utf8().ok()?;
    let relative = PathBuf::from(decoded.trim_start_matches('/'));
    let plain =
        relative.components().all(|c| matches!(c, Component::Normal(name) if !name.to_string_lossy().starts_with('.')));
    plain.then_some(relative)
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or_default() {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "webp" => "image/webp",
        _ => "application/octet-stream",
    }
}

fn answer(bytes: Vec<u8>, content_type: &'static str) -> Response {
    let mut response = Response::new(Body::from(bytes));
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // Always the files as they are on disk: edit and reload.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_paths_inside_the_folder_are_served() {
        assert_eq!(safe_path("/src/main.js"), Some(PathBuf::from("src/main.js")));
        assert_eq!(safe_path("/"), Some(PathBuf::from("")));
        for bad in ["/../secret", "/src/../../x", "/%2e%2e/x", "/.git/config", "/%FF"] {
            assert_eq!(safe_path(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_config_names_the_gateway() {
        let js = config_js("http://127.0.0.1:3000", "ws://127.0.0.1:3001");
        assert_eq!(js, "window.CHATHUB_CONFIG = {\"api\":\"http://127.0.0.1:3000\",\"ws\":\"ws://127.0.0.1:3001\"};\n");
    }
}
