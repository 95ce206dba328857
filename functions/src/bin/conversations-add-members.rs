//! Lambda binary for the `conversations-add-members` route (see `chathub_functions::routes::conversations_add_members`).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    chathub_shared::http::run(
        "conversations-add-members",
        chathub_shared::Clients::PUSH,
        chathub_functions::routes::conversations_add_members::handle,
    )
    .await
}
