//! Lambda binary for the `conversations-public` route (see `chathub_functions::routes::conversations_public`).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    chathub_shared::http::run(
        "conversations-public",
        chathub_shared::Clients::STORE,
        chathub_functions::routes::conversations_public::handle,
    )
    .await
}
