//! Lambda binary for the `messages-edit` route (see `chathub_functions::routes::messages_edit`).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    chathub_shared::http::run(
        "messages-edit",
        chathub_shared::Clients::PUSH,
        chathub_functions::routes::messages_edit::handle,
    )
    .await
}
