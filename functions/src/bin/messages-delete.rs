//! Lambda binary for the `messages-delete` route (see `chathub_functions::routes::messages_delete`).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    chathub_shared::http::run(
        "messages-delete",
        chathub_shared::Clients::PUSH,
        chathub_functions::routes::messages_delete::handle,
    )
    .await
}
