//! SigV4 checks for the local management API, as API Gateway makes them: the request is signed
//! again here with the key pair the gateway knows (aws-sigv4, the signer the SDK clients use) and
//! the signatures must match. The functions' real management API client signs with that pair.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use axum::http::{HeaderMap, Method, Uri};

/// How far a request's `x-amz-date` may be from now, as AWS allows.
const CLOCK_SKEW: Duration = Duration::from_secs(15 * 60);

/// A key pair: the one the management API accepts signatures from, or the embedded S3 server's.
#[derive(Clone)]
pub struct Keys {
    pub access_key: String,
    secret_key: String,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys").field("access_key", &self.access_key).field("secret_key", &"<redacted>").finish()
    }
}

impl Keys {
    pub fn new(access_key: impl Into<String>, secret_key: impl Into<String>) -> Self {
        Self { access_key: access_key.into(), secret_key: secret_key.into() }
    }

    /// A fresh pair, for one run.
    pub fn random() -> Self {
        Self::new(format!("local-{}", crate::random_key(8)), crate::random_key(32))
    }

    pub fn secret_key(&self) -> &str {
        &self.secret_key
    }

    /// Ok when the request carries a valid SigV4 signature (`Authorization` header, service
    /// `execute-api`) made with these keys within the allowed clock skew; else why not.
    pub fn verify(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: &[u8],
        now: SystemTime,
    ) -> Result<(), &'static str> {
        self.verify_for("execute-api", method, uri, headers, body, now)
    }

    /// [`verify`](Self::verify), for a signature made for `expected_service`.
    pub fn verify_for(
        &self,
        expected_service: &str,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: &[u8],
        now: SystemTime,
    ) -> Result<(), &'static str> {
        let authorization = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or("no Authorization header")?;
        let fields = authorization.strip_prefix("AWS4-HMAC-SHA256 ").ok_or("not a SigV4 signature")?;
        let (mut credential, mut signed_headers, mut signature) = (None, None, None);
        for field in fields.split(',').map(str::trim) {
            if let Some(v) = field.strip_prefix("Credential=") {
                credential = Some(v);
            } else if let Some(v) = field.strip_prefix("SignedHeaders=") {
                signed_headers = Some(v);
            } else if let Some(v) = field.strip_prefix("Signature=") {
                signature = Some(v);
            }
        }
        let (credential, signed_headers, signature) = (
            credential.ok_or("no Credential")?,
            signed_headers.ok_or("no SignedHeaders")?,
            signature.ok_or("no Signature")?,
        );
        let scope: Vec<&str> = credential.split('/').collect();
        let [access_key, _date, region, service, "aws4_request"] = scope[..] else {
            return Err("malformed credential scope");
        };
        if access_key != self.access_key {
            return Err("unknown access key");
        }
        if service != expected_service {
            return Err("signed for another service");
        }
        let signed_at = headers
            .get("x-amz-date")
            .and_then(|v| v.to_str().ok())
            .and_then(parse_amz_date)
            .ok_or("no valid x-amz-date")?;
        let skew = now.duration_since(signed_at).unwrap_or_else(|e| e.duration());
        if skew > CLOCK_SKEW {
            return Err("signed too long ago, or in the future");
        }
        let mut signed = Vec::new();
        for name in signed_headers.split(';') {
            let value = headers.get(name).and_then(|v| v.to_str().ok()).ok_or("a signed header is missing")?;
            signed.push((name, value));
        }
        let identity = Credentials::new(&self.access_key, &self.secret_key, None, None, "local-gateway").into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(region)
            .name(service)
            .time(signed_at)
            .settings(SigningSettings::default())
            .build()
            .map_err(|_| "cannot build signing parameters")?
            .into();
        let request =
            SignableRequest::new(method.as_str(), uri.to_string(), signed.into_iter(), SignableBody::Bytes(body))
                .map_err(|_| "cannot canonicalize the request")?;
        let expected = sign(request, &params).map_err(|_| "cannot sign")?;
        if constant_time_eq(expected.signature().as_bytes(), signature.as_bytes()) {
            Ok(())
        } else {
            Err("signature does not match")
        }
    }
}

/// `20261204T175520Z` → the time it names.
fn parse_amz_date(value: &str) -> Option<SystemTime> {
    let b = value.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let iso = format!(
        "{}-{}-{}T{}:{}:{}Z",
        &value[0..4],
        &value[4..6],
        &value[6..8],
        &value[9..11],
        &value[11..13],
        &value[13..15]
    );
    let time = aws_smithy_types::DateTime::from_str(&iso, aws_smithy_types::date_time::Format::DateTime).ok()?;
    SystemTime::try_from(time).ok()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed_request(keys: &Keys, at: SystemTime, body: &[u8]) -> (Uri, HeaderMap) {
        let identity = Credentials::new(&keys.access_key, keys.secret_key(), None, None, "test").into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region("us-east-1")
            .name("execute-api")
            .time(at)
            .settings(SigningSettings::default())
            .build()
            .unwrap()
            .into();
        let uri = "http://127.0.0.1:3001/%40connections/abc%3D";
        let headers = [("host", "127.0.0.1:3001"), ("content-type", "application/json")];
        let request = SignableRequest::new("POST", uri, headers.into_iter(), SignableBody::Bytes(body)).unwrap();
        let (instructions, _) = sign(request, &params).unwrap().into_parts();
        let mut map = HeaderMap::new();
        for (name, value) in headers.into_iter().chain(instructions.headers()) {
            map.insert(axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(), value.parse().unwrap());
        }
        ("/%40connections/abc%3D".parse().unwrap(), map)
    }

    #[test]
    fn only_signatures_made_with_the_keys_pass() {
        let keys = Keys::random();
        let now = SystemTime::now();
        let (uri, headers) = signed_request(&keys, now, b"hello");
        assert_eq!(keys.verify(&Method::POST, &uri, &headers, b"hello", now), Ok(()));
        // Another body, method, path or secret; too old; unsigned.
        assert!(keys.verify(&Method::POST, &uri, &headers, b"hellO", now).is_err());
        assert!(keys.verify(&Method::DELETE, &uri, &headers, b"hello", now).is_err());
        let other: Uri = "/%40connections/abd%3D".parse().unwrap();
        assert!(keys.verify(&Method::POST, &other, &headers, b"hello", now).is_err());
        let impostor = Keys::new(keys.access_key.clone(), "guessed");
        assert!(impostor.verify(&Method::POST, &uri, &headers, b"hello", now).is_err());
        assert!(keys.verify(&Method::POST, &uri, &headers, b"hello", now + Duration::from_secs(16 * 60)).is_err());
        assert!(keys.verify(&Method::POST, &uri, &HeaderMap::new(), b"hello", now).is_err());
    }

    #[test]
    fn amz_dates_parse() {
        let t = parse_amz_date("20261204T175520Z").unwrap();
        let secs = t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs();
        assert_eq!(secs, 1_796_406_920);
        assert!(parse_amz_date("2026-12-04T17:55:20Z").is_none());
    }
}
