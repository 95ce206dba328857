//! Lambda binary for the `conversations-create` route (see `chathub_functions::routes::conversations_create`).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    chathub_shared::http::run(
        "conversations-create",
        chathub_shared::Clients::PUSH,
        chathub_functions::routes::conversations_create::handle,
    )
    .await
}
