//! Lambda binary for the `users-get` route (see `chathub_functions::routes::users_get`).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    chathub_shared::http::run("users-get", chathub_shared::Clients::STORE, chathub_functions::routes::users_get::handle)
        .await
}
