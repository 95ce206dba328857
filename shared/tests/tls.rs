//! The functions' HTTPS client, over a real TLS handshake with a local DynamoDB stand-in whose
//! certificate a test CA signed (`fixtures/`): by default it trusts only the embedded Amazon
//! Trust Services roots, so it refuses that server; with `SSL_CERT_FILE` naming the test CA it
//! uses that store and the request goes through.
//!
//! One test in its own binary: it sets `SSL_CERT_FILE`, and the SDK caches the system store the
//! first time it loads it.
// A test runs its own TLS server in a task; only Lambda code may not spawn (clippy.toml).
#![allow(clippy::disallowed_methods)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use aws_config::Region;
use aws_sdk_dynamodb::config::Credentials;
use aws_sdk_dynamodb::types::AttributeValue;
use chathub_shared::aws::{defaults, TrustRoots};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// An HTTPS server on 127.0.0.1 presenting `fixtures/localhost.pem`, answering every request with
/// an empty GetItem result. Returns its endpoint and the number of completed TLS handshakes.
async fn dynamodb_stand_in() -> (String, Arc<AtomicUsize>) {
    let certs = CertificateDer::pem_slice_iter(include_bytes!("fixtures/localhost.pem"))
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_slice(include_bytes!("fixtures/localhost.key.pem")).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let handshakes = Arc::new(AtomicUsize::new(0));
    let counted = handshakes.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let counted = counted.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                counted.fetch_add(1, Ordering::SeqCst);
                let mut request = Vec::new();
                let mut chunk = [0u8; 4096];
                // Headers, then as many body bytes as Content-Length says.
                loop {
                    let Ok(n) = tls.read(&mut chunk).await else { return };
                    if n == 0 {
                        return;
                    }
                    request.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&request).to_ascii_lowercase();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let length = text[..end]
                            .lines()
                            .find_map(|line| line.strip_prefix("content-length:"))
                            .and_then(|value| value.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        if request.len() >= end + 4 + length {
                            break;
                        }
                    }
                }
                let response = "HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.0\r\n\
                                content-length: 2\r\nconnection: close\r\n\r\n{}";
                let _ = tls.write_all(response.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (format!("https://localhost:{port}"), handshakes)
}

async fn get_item(endpoint: &str) -> Result<(), String> {
    let shared = defaults()
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("key", "secret", None, None, "test"))
        .load()
        .await;
    let config = aws_sdk_dynamodb::config::Builder::from(&shared)
        .endpoint_url(endpoint)
        .retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::disabled())
        .build();
    let client = aws_sdk_dynamodb::Client::from_conf(config);
    let key = AttributeValue::S("pk".into());
    match client.get_item().table_name("chathub").key("pk", key).send().await {
        Ok(output) if output.item.is_none() => Ok(()),
        Ok(output) => Err(format!("unexpected item {output:?}")),
        Err(error) => Err(format!("{:?}", aws_sdk_dynamodb::error::DisplayErrorContext(error))),
    }
}

#[tokio::test]
async fn the_default_trust_store_is_amazon_only_and_ssl_cert_file_replaces_it() {
    std::env::remove_var("SSL_CERT_FILE");
    std::env::remove_var("SSL_CERT_DIR");
    let (endpoint, handshakes) = dynamodb_stand_in().await;

    assert_eq!(TrustRoots::from_env(), TrustRoots::AmazonTrustServices);
    let refused = get_item(&endpoint).await.expect_err("a certificate from an unknown CA must be refused");
    assert!(refused.to_lowercase().contains("certificate"), "refused for another reason: {refused}");
    assert_eq!(handshakes.load(Ordering::SeqCst), 0);

    // The directory cargo names at run time, not `env!`'s: clones share one target directory
    // (README), and cargo may run a test binary another clone built.
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let ca = format!("{dir}/tests/fixtures/test-ca.pem");
    std::env::set_var("SSL_CERT_FILE", &ca);
    assert_eq!(TrustRoots::from_env(), TrustRoots::System);
    get_item(&endpoint).await.expect("the CA named by SSL_CERT_FILE is trusted");
    assert_eq!(handshakes.load(Ordering::SeqCst), 1);
}
