//! Lambda binary for the `users-list` route (see `chathub_functions::routes::users_list`).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    chathub_shared::http::run(
        "users-list",
        chathub_shared::Clients::STORE,
        chathub_functions::routes::users_list::handle,
    )
    .await
}
