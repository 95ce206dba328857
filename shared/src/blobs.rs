//! The blob-store port (presign an upload or a download, inspect an object) and its S3 adapter.
//! Clients move the bytes straight to and from storage; functions only sign.

use std::time::{Duration, UNIX_EPOCH};

use async_trait::async_trait;
use aws_sdk_s3::presigning::PresigningConfig;

/// A request the client makes itself.
#[derive(Debug, Clone, PartialEq)]
pub struct Presigned {
    pub url: String,
    /// Headers the client must send as they are (they are signed).
    pub headers: Vec<(String, String)>,
}

/// What storage holds under a key.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectInfo {
    pub size: i64,
    pub content_type: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("blob store unavailable")]
    Unavailable(#[source] crate::error::BoxError),
    #[error("blob store error")]
    Internal(#[source] crate::error::BoxError),
}

impl From<BlobError> for crate::ApiError {
    fn from(err: BlobError) -> Self {
        match err {
            err @ BlobError::Unavailable(_) => {
                tracing::warn!(error = %crate::error::Chain(&err), "blob store unavailable");
                Self::Unavailable { retry_after_secs: 1 }
            }
            err @ BlobError::Internal(_) => Self::internal(err),
        }
    }
}

#[async_trait]
pub trait BlobStore: Send + Sync {
    /// A PUT that only accepts a body of exactly `size` bytes of `content_type`.
    async fn presign_upload(
        &self,
        key: &str,
        content_type: &str,
        size: i64,
        now_ms: i64,
        expires_in: Duration,
    ) -> Result<Presigned, BlobError>;
    /// A GET; with `disposition`, the response carries that `Content-Disposition` (signed into the
    /// URL as `response-content-disposition`, so it cannot be taken off).
    async fn presign_download(
        &self,
        key: &str,
        disposition: Option<&str>,
        now_ms: i64,
        expires_in: Duration,
    ) -> Result<String, BlobError>;
    /// `None` when nothing was uploaded under `key`.
    async fn inspect(&self, key: &str) -> Result<Option<ObjectInfo>, BlobError>;
    /// Copies an object within the bucket, keeping its content type.
    async fn copy(&self, from: &str, to: &str) -> Result<(), BlobError>;
}

/// S3 (or anything that speaks S3 and verifies SigV4, such as the local gateway's s3s-fs).
pub struct S3BlobStore {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl S3BlobStore {
    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        Self { client, bucket: bucket.into() }
    }

    /// A client for an S3-compatible endpoint with fixed keys (path-style addressing).
    pub async fn for_endpoint(endpoint: &str, access_key: &str, secret_key: &str, bucket: &str) -> Self {
        let shared = crate::aws::defaults().region(aws_config::Region::new("us-east-1")).load().await;
        Self::with_endpoint(&shared, endpoint, access_key, secret_key, bucket)
    }

    fn with_endpoint(shared: &aws_config::SdkConfig, endpoint: &str, key: &str, secret: &str, bucket: &str) -> Self {
        let config = aws_sdk_s3::config::Builder::from(shared)
            .endpoint_url(endpoint)
            .force_path_style(true)
            .credentials_provider(aws_sdk_s3::config::Credentials::new(key, secret, None, None, "chathub"))
            .build();
        Self::new(aws_sdk_s3::Client::from_conf(config), bucket)
    }

    /// `BUCKET_NAME`, with `S3_ENDPOINT` (+ `S3_ACCESS_KEY_ID`, `S3_SECRET_ACCESS_KEY`) for an
    /// S3-compatible server instead of AWS.
    pub fn from_env(shared: &aws_config::SdkConfig) -> Option<Self> {
        let bucket = std::env::var("BUCKET_NAME").ok().filter(|b| !b.is_empty())?;
        match std::env::var("S3_ENDPOINT") {
            Ok(endpoint) if !endpoint.is_empty() => {
                let key = std::env::var("S3_ACCESS_KEY_ID").unwrap_or_default();
                let secret = std::env::var("S3_SECRET_ACCESS_KEY").unwrap_or_default();
                Some(Self::with_endpoint(shared, &endpoint, &key, &secret, &bucket))
            }
            _ => Some(Self::new(aws_sdk_s3::Client::new(shared), bucket)),
        }
    }

    pub fn client(&self) -> &aws_sdk_s3::Client {
        &self.client
    }
}

fn presigning(now_ms: i64, expires_in: Duration) -> Result<PresigningConfig, BlobError> {
    let start = UNIX_EPOCH + Duration::from_millis(now_ms.max(0) as u64);
    PresigningConfig::builder()
        .start_time(start)
        .expires_in(expires_in)
        .build()
        .map_err(|e| BlobError::Internal(e.into()))
}

fn sdk_error<E: std::error::Error + Send + Sync + 'static>(
    err: aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> BlobError {
    use aws_sdk_s3::error::SdkError;
    let unavailable = match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => true,
        SdkError::ServiceError(se) => se.raw().status().as_u16() >= 500,
        _ => false,
    };
    if unavailable {
        BlobError::Unavailable(err.into())
    } else {
        BlobError::Internal(err.into())
    }
}

#[async_trait]
impl BlobStore for S3BlobStore {
    async fn presign_upload(
        &self,
        key: &str,
        content_type: &str,
        size: i64,
        now_ms: i64,
        expires_in: Duration,
    ) -> Result<Presigned, BlobError> {
        let request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .content_length(size)
            .presigned(presigning(now_ms, expires_in)?)
            .await
            .map_err(sdk_error)?;
        let headers = request.headers().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
        Ok(Presigned { url: request.uri().to_owned(), headers })
    }

    async fn presign_download(
        &self,
        key: &str,
        disposition: Option<&str>,
        now_ms: i64,
        expires_in: Duration,
    ) -> Result<String, BlobError> {
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .set_response_content_disposition(disposition.map(str::to_owned))
            .presigned(presigning(now_ms, expires_in)?)
            .await
            .map_err(sdk_error)?;
        Ok(request.uri().to_owned())
    }

    async fn inspect(&self, key: &str) -> Result<Option<ObjectInfo>, BlobError> {
        match self.client.head_object().bucket(&self.bucket).key(key).send().await {
            Ok(out) => Ok(Some(ObjectInfo {
                size: out.content_length().unwrap_or(0),
                content_type: out.content_type().map(str::to_owned),
            })),
            Err(e) if e.as_service_error().is_some_and(|se| se.is_not_found()) => Ok(None),
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => Ok(None),
            Err(e) => Err(sdk_error(e)),
        }
    }

    async fn copy(&self, from: &str, to: &str) -> Result<(), BlobError> {
        self.client
            .copy_object()
            .bucket(&self.bucket)
            .copy_source(format!("{}/{from}", self.bucket))
            .key(to)
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }
}

/// A blob store that has nothing: every file operation is unavailable (tests that never touch
/// files).
pub struct NoBlobStore;

#[async_trait]
impl BlobStore for NoBlobStore {
    async fn presign_upload(&self, _: &str, _: &str, _: i64, _: i64, _: Duration) -> Result<Presigned, BlobError> {
        Err(BlobError::Unavailable("no bucket configured".into()))
    }

    async fn presign_download(&self, _: &str, _: Option<&str>, _: i64, _: Duration) -> Result<String, BlobError> {
        Err(BlobError::Unavailable("no bucket configured".into()))
    }

    async fn inspect(&self, _: &str) -> Result<Option<ObjectInfo>, BlobError> {
        Err(BlobError::Unavailable("no bucket configured".into()))
    }

    async fn copy(&self, _: &str, _: &str) -> Result<(), BlobError> {
        Err(BlobError::Unavailable("no bucket configured".into()))
    }
}

/// When something valid for `expires_in` from `now_ms` expires (epoch milliseconds).
pub fn expires_at(now_ms: i64, expires_in: Duration) -> i64 {
    now_ms + expires_in.as_millis() as i64
}
