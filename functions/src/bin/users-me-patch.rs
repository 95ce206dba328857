//! Lambda binary for the `users-me-patch` route (see `chathub_functions::routes::users_me_patch`).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    chathub_shared::http::run(
        "users-me-patch",
        chathub_shared::Clients::PUSH_FILES,
        chathub_functions::routes::users_me_patch::handle,
    )
    .await
}
