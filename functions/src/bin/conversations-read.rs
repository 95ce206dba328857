//! Lambda binary for the `conversations-read` route (see `chathub_functions::routes::conversations_read`).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    chathub_shared::http::run(
        "conversations-read",
        chathub_shared::Clients::PUSH,
        chathub_functions::routes::conversations_read::handle,
    )
    .await
}
