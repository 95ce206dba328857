//! Lambda binary for the `conversations-list` route (see `chathub_functions::routes::conversations_list`).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    chathub_shared::http::run(
        "conversations-list",
        chathub_shared::Clients::STORE,
        chathub_functions::routes::conversations_list::handle,
    )
    .await
}
