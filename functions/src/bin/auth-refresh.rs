//! Lambda binary for the `auth-refresh` route (see `chathub_functions::routes::auth_refresh`).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    chathub_shared::http::run(
        "auth-refresh",
        chathub_shared::Clients::PUSH.signs(),
        chathub_functions::routes::auth_refresh::handle,
    )
    .await
}
