//! Lambda binary for the `conversations-get` route (see `chathub_functions::routes::conversations_get`).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    chathub_shared::http::run(
        "conversations-get",
        chathub_shared::Clients::STORE,
        chathub_functions::routes::conversations_get::handle,
    )
    .await
}
