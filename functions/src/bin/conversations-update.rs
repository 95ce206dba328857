//! Lambda binary for the `conversations-update` route (see `chathub_functions::routes::conversations_update`).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    chathub_shared::http::run(
        "conversations-update",
        chathub_shared::Clients::PUSH_FILES,
        chathub_functions::routes::conversations_update::handle,
    )
    .await
}
