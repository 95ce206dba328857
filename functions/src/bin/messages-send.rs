//! Lambda binary for the `messages-send` route (see `chathub_functions::routes::messages_send`).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    chathub_shared::http::run(
        "messages-send",
        chathub_shared::Clients::PUSH_FILES,
        chathub_functions::routes::messages_send::handle,
    )
    .await
}
