//! A Secrets Manager stand-in with one secret: the gateway's token signing key, as a private JWK,
//! under the name [`SIGNING_KEY_SECRET`]. Functions run outside the gateway (`scripts/watch`, the
//! cold-start benchmark) read their signing key from it exactly as they do on AWS: the unchanged
//! SDK client, pointed here by `AWS_ENDPOINT_URL_SECRETS_MANAGER`, calling `GetSecretValue`
//! signed (SigV4, service `secretsmanager`) with the management API's key pair.

use std::time::SystemTime;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::ws::WsState;

/// The name the stand-in answers to (`JWT_SIGNING_KEY_SECRET`).
pub const SIGNING_KEY_SECRET: &str = "chathub-local-signing-key";

/// The awsJson1.1 error shape: `__type` names the exception.
fn error(status: StatusCode, kind: &str, message: &str) -> Response {
    (
        status,
        [("content-type", "application/x-amz-json-1.1")],
        json!({ "__type": kind, "message": message }).to_string(),
    )
        .into_response()
}

/// `POST /` with `X-Amz-Target: secretsmanager.GetSecretValue`.
pub async fn get_secret_value(State(state): State<WsState>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(reason) =
        state.management.verify_for("secretsmanager", &Method::POST, &uri, &headers, &body, SystemTime::now())
    {
        tracing::info!(reason, "Secrets Manager request refused");
        return error(StatusCode::BAD_REQUEST, "UnrecognizedClientException", "The security token is invalid.");
    }
    if headers.get("x-amz-target").and_then(|v| v.to_str().ok()) != Some("secretsmanager.GetSecretValue") {
        return error(StatusCode::BAD_REQUEST, "UnknownOperationException", "only GetSecretValue is served");
    }
    let asked: Option<String> =
        serde_json::from_slice::<serde_json::Value>(&body).ok().and_then(|v| v["SecretId"].as_str().map(str::to_owned));
    let signer = state.all.clients.signer.key();
    match asked.as_deref() {
        Some(SIGNING_KEY_SECRET) => (
            StatusCode::OK,
            [("content-type", "application/x-amz-json-1.1")],
            json!({
                "ARN": format!("arn:aws:secretsmanager:us-east-1:000000000000:secret:{SIGNING_KEY_SECRET}"),
                "Name": SIGNING_KEY_SECRET,
                "SecretString": signer.to_private_jwk(),
                "VersionId": signer.kid(),
                "VersionStages": ["AWSCURRENT"],
            })
            .to_string(),
        )
            .into_response(),
        _ => error(
            StatusCode::BAD_REQUEST,
            "ResourceNotFoundException",
            "Secrets Manager can't find the specified secret.",
        ),
    }
}
