//! Lambda binary for the `conversations-remove-member` route (see `chathub_functions::routes::conversations_remove_member`).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    chathub_shared::http::run(
        "conversations-remove-member",
        chathub_shared::Clients::PUSH,
        chathub_functions::routes::conversations_remove_member::handle,
    )
    .await
}
