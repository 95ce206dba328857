//! Lambda binary for the `users-me-get` route (see `chathub_functions::routes::users_me_get`).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    chathub_shared::http::run(
        "users-me-get",
        chathub_shared::Clients::STORE,
        chathub_functions::routes::users_me_get::handle,
    )
    .await
}
