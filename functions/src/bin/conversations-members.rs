//! Lambda binary for the `conversations-members` route (see `chathub_functions::routes::conversations_members`).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    chathub_shared::http::run(
        "conversations-members",
        chathub_shared::Clients::STORE,
        chathub_functions::routes::conversations_members::handle,
    )
    .await
}
