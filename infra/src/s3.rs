//! The embedded S3-compatible server: s3s-fs over a local folder, verifying SigV4 signatures (so
//! presigned URLs are checked for expiry, tampering, size and type exactly as S3 does), and
//! answering a download with the `Content-Disposition` its URL asks for, as S3 does. The
//! functions' one S3 adapter points at it, so local runs need nothing installed.

use std::net::SocketAddr;
use std::path::Path;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// The local bucket (on AWS, the stack's bucket; the functions' role signs).
pub const LOCAL_BUCKET: &str = "chathub-files";

/// Serves S3 on `listener` over the folder `root` (the bucket is a sub-folder, created here),
/// accepting requests signed with `access_key`/`secret_key` only (the gateway makes a pair per
/// run: nothing in the source signs for it).
pub fn serve(
    listener: TcpListener,
    root: &Path,
    access_key: &str,
    secret_key: &str,
    cors_origins: Vec<String>,
) -> std::io::Result<JoinHandle<()>> {
    let cors_origins = std::sync::Arc::new(cors_origins);
    std::fs::create_dir_all(root.join(LOCAL_BUCKET))?;
    let fs = s3s_fs::FileSystem::new(root).map_err(|e| std::io::Error::other(format!("s3s-fs: {e:?}")))?;
    let service = {
        let mut builder = S3ServiceBuilder::new(fs);
        builder.set_auth(SimpleAuth::from_single(access_key, secret_key));
        builder.build()
    };
    Ok(tokio::spawn(async move {
        let http = ConnBuilder::new(TokioExecutor::new());
        loop {
            let (socket, _) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!(error = %e, "S3 accept failed");
                    continue;
                }
            };
            let service = service.clone();
            let cors_origins = cors_origins.clone();
            let handler = hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                let service = service.clone();
                let cors_origins = cors_origins.clone();
                async move {
                    let origin = allowed_origin(&req, &cors_origins);
                    if req.method() == http::Method::OPTIONS {
                        return Ok(preflight(&req, origin));
                    }
                    let disposition = requested_disposition(&req);
                    let mut response = service.call(req.map(s3s::Body::from)).await?;
                    if let Some(value) = disposition.filter(|_| response.status().is_success()) {
                        response.headers_mut().insert(http::header::CONTENT_DISPOSITION, value);
                    }
                    if let Some(origin) = origin {
                        let h = response.headers_mut();
                        h.insert(http::header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
                        h.insert(http::header::VARY, http::HeaderValue::from_static("origin"));
                    }
                    Ok::<_, s3s::HttpError>(response)
                }
            });
            let connection = http.serve_connection(TokioIo::new(socket), handler).into_owned();
            tokio::spawn(async move {
                let _ = connection.await;
            });
        }
    }))
}

/// The bucket's CORS rule, as template.yaml's `FilesBucket` states it: a page on an allowed
/// origin uploads (PUT, with its `Content-Type`) and downloads (GET, HEAD) with presigned URLs.
const CORS_METHODS: [&str; 3] = ["GET", "PUT", "HEAD"];
const CORS_HEADERS: &str = "content-type, content-length";

/// The request's `Origin`, when the local gateway lets it in (`rest::origin_allowed`).
fn allowed_origin<B>(req: &http::Request<B>, extra: &[String]) -> Option<http::HeaderValue> {
    let origin = req.headers().get(http::header::ORIGIN)?;
    crate::rest::origin_allowed(origin.to_str().ok()?, extra).then(|| origin.clone())
}

/// A CORS preflight, answered as S3 does for the bucket's rule: 200 with the rule's methods and
/// headers for an allowed origin asking for one of them, 403 otherwise.
fn preflight<B>(req: &http::Request<B>, origin: Option<http::HeaderValue>) -> http::Response<s3s::Body> {
    let method = req.headers().get(http::header::ACCESS_CONTROL_REQUEST_METHOD).and_then(|m| m.to_str().ok());
    let headers_ok =
        req.headers().get(http::header::ACCESS_CONTROL_REQUEST_HEADERS).and_then(|h| h.to_str().ok()).is_none_or(
            |asked| asked.split(',').all(|h| CORS_HEADERS.contains(h.trim().to_ascii_lowercase().as_str())),
        );
    let mut response = http::Response::new(s3s::Body::empty());
    match (origin, method) {
        (Some(origin), Some(method)) if CORS_METHODS.contains(&method) && headers_ok => {
            let h = response.headers_mut();
            h.insert(http::header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            h.insert(http::header::ACCESS_CONTROL_ALLOW_METHODS, http::HeaderValue::from_static("GET, PUT, HEAD"));
            h.insert(http::header::ACCESS_CONTROL_ALLOW_HEADERS, http::HeaderValue::from_static(CORS_HEADERS));
            h.insert(http::header::ACCESS_CONTROL_MAX_AGE, http::HeaderValue::from_static("600"));
            h.insert(http::header::VARY, http::HeaderValue::from_static("origin"));
        }
        _ => *response.status_mut() = http::StatusCode::FORBIDDEN,
    }
    response
}

/// S3 answers a GET with the `Content-Disposition` its (signed) `response-content-disposition`
/// query parameter asks for; s3s-fs does not, so the server adds it here.
fn requested_disposition<B>(req: &http::Request<B>) -> Option<http::HeaderValue> {
    if req.method() != http::Method::GET {
        return None;
    }
    let query: Vec<(String, String)> = serde_urlencoded::from_str(req.uri().query()?).ok()?;
    let (_, value) = query.into_iter().find(|(name, _)| name == "response-content-disposition")?;
    http::HeaderValue::from_str(&value).ok()
}

/// The URL of a listener's address.
pub fn url(addr: SocketAddr) -> String {
    format!("http://{addr}")
}
