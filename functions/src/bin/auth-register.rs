//! Lambda binary for the `auth-register` route (see `chathub_functions::routes::auth_register`).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    chathub_shared::http::run(
        "auth-register",
        chathub_shared::Clients::SIGNS,
        chathub_functions::routes::auth_register::handle,
    )
    .await
}
