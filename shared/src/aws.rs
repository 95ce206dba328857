//! SDK configuration: one load per cold start on AWS, and placeholders for local stand-ins.

use aws_config::{BehaviorVersion, ConfigLoader, Region, SdkConfig};
use aws_sdk_dynamodb::config::SharedHttpClient;
use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode, TlsContext, TrustStore};
use aws_smithy_http_client::{Builder, ConnectorBuilder};

/// The Amazon Trust Services roots (PEM), which every AWS endpoint the functions call chains to.
const AMAZON_TRUST_SERVICES: &[u8] = include_bytes!("../certs/amazon-trust-services.pem");

/// The environment's AWS configuration (region, credentials), loaded once and shared by every
/// client a function builds.
pub async fn load() -> SdkConfig {
    defaults().load().await
}

/// For local stand-ins (DynamoDB Local, the local gateway's management API): the environment's
/// region and keys where set, placeholders where not, since the stand-ins accept any signature.
pub async fn local() -> SdkConfig {
    let mut loader = defaults();
    if std::env::var("AWS_REGION").is_err() {
        loader = loader.region(Region::new("us-east-1"));
    }
    if std::env::var("AWS_ACCESS_KEY_ID").is_err() {
        loader = loader.credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "local",
            "local",
            None,
            None,
            "chathub-local",
        ));
    }
    loader.load().await
}

/// [`local`] with this key pair: for the local gateway's management API, which checks SigV4
/// signatures against the pair it made for the run.
pub async fn local_with_keys(access_key: &str, secret_key: &str) -> SdkConfig {
    let credentials = aws_sdk_dynamodb::config::Credentials::new(access_key, secret_key, None, None, "chathub-local");
    local()
        .await
        .to_builder()
        .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(credentials))
        .build()
}

/// The SDK's default loader with the HTTPS client for the certificates `TrustRoots::from_env`
/// names: every SDK configuration in the project starts here.
pub fn defaults() -> ConfigLoader {
    let loader = aws_config::defaults(BehaviorVersion::latest());
    match https_client(TrustRoots::from_env()) {
        Some(client) => loader.http_client(client),
        None => loader,
    }
}

/// Which root certificates the functions' HTTPS client trusts.
///
/// Loading the system store costs a cold start more than everything else the function does
/// before it is ready (it reads and parses about 150 certificates; on Debian twice, once from the
/// bundle and once from the directory). Every endpoint a function calls is an AWS endpoint with an
/// Amazon Trust Services certificate, so by default the client trusts only those five roots,
/// embedded in the binary. An operator who needs another store (a TLS-intercepting proxy, an
/// S3-compatible server with its own CA) sets `SSL_CERT_FILE` or `SSL_CERT_DIR`, the variables
/// OpenSSL and rustls-native-certs read, and gets that store instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrustRoots {
    AmazonTrustServices,
    /// The system store, as rustls-native-certs finds it (honouring `SSL_CERT_FILE`/`SSL_CERT_DIR`).
    System,
}

impl TrustRoots {
    pub fn from_env() -> Self {
        Self::choose(std::env::var_os("SSL_CERT_FILE"), std::env::var_os("SSL_CERT_DIR"))
    }

    fn choose(cert_file: Option<std::ffi::OsString>, cert_dir: Option<std::ffi::OsString>) -> Self {
        if [cert_file, cert_dir].into_iter().flatten().any(|value| !value.is_empty()) {
            TrustRoots::System
        } else {
            TrustRoots::AmazonTrustServices
        }
    }
}

/// The SDK's default HTTPS client (hyper, rustls on aws-lc, proxy settings from the environment)
/// with `roots` as its trust store; `None` for the system store, which is the SDK's own default.
pub fn https_client(roots: TrustRoots) -> Option<SharedHttpClient> {
    if roots == TrustRoots::System {
        return None;
    }
    let context = match TlsContext::builder()
        .with_trust_store(TrustStore::empty().with_pem_certificate(AMAZON_TRUST_SERVICES))
        .build()
    {
        Ok(context) => context,
        Err(error) => {
            tracing::warn!(%error, "TLS context with the embedded roots; using the system store");
            return None;
        }
    };
    // The same connector the SDK builds by default (aws-smithy-runtime's `default_https_client`),
    // with the trust store replaced.
    Some(Builder::new().build_with_connector_fn(move |settings, components| {
        let mut connector = ConnectorBuilder::default()
            .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
            .tls_context(context.clone());
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector.set_proxy_config(Some(ProxyConfig::from_env()));
        connector.build()
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_system_store_is_used_only_when_ssl_cert_file_or_dir_names_one() {
        assert_eq!(TrustRoots::choose(None, None), TrustRoots::AmazonTrustServices);
        assert_eq!(TrustRoots::choose(Some("".into()), Some("".into())), TrustRoots::AmazonTrustServices);
        assert_eq!(TrustRoots::choose(Some("/etc/ssl/cert.pem".into()), None), TrustRoots::System);
        assert_eq!(TrustRoots::choose(None, Some("/etc/ssl/certs".into())), TrustRoots::System);
    }

    #[test]
    fn the_embedded_roots_are_the_five_amazon_trust_services_certificates() {
        let text = std::str::from_utf8(AMAZON_TRUST_SERVICES).unwrap();
        assert_eq!(text.matches("-----BEGIN CERTIFICATE-----").count(), 5);
        assert_eq!(text.matches("-----END CERTIFICATE-----").count(), 5);
        assert!(https_client(TrustRoots::AmazonTrustServices).is_some());
        assert!(https_client(TrustRoots::System).is_none());
    }
}
