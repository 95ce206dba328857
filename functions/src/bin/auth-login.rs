//! Lambda binary for the `auth-login` route (see `chathub_functions::routes::auth_login`).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    chathub_shared::http::run(
        "auth-login",
        chathub_shared::Clients::SIGNS,
        chathub_functions::routes::auth_login::handle,
    )
    .await
}
