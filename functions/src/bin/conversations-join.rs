//! Lambda binary for the `conversations-join` route (see `chathub_functions::routes::conversations_join`).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    chathub_shared::http::run(
        "conversations-join",
        chathub_shared::Clients::PUSH,
        chathub_functions::routes::conversations_join::handle,
    )
    .await
}
