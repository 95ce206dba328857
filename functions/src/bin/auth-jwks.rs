//! Lambda binary for the `auth-jwks` route (see `chathub_functions::routes::auth_jwks`): the
//! public keys from configuration, no store, no SDK client.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    chathub_shared::http::run_configured("auth-jwks", chathub_functions::routes::auth_jwks::handle).await
}
