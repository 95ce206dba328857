//! Lambda binary for the `auth-verify` route (see `chathub_functions::routes::auth_verify`).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    chathub_shared::http::run(
        "auth-verify",
        chathub_shared::Clients::STORE,
        chathub_functions::routes::auth_verify::handle,
    )
    .await
}
