//! Lambda binary for the `auth-logout` route (see `chathub_functions::routes::auth_logout`).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    chathub_shared::http::run(
        "auth-logout",
        chathub_shared::Clients::PUSH,
        chathub_functions::routes::auth_logout::handle,
    )
    .await
}
