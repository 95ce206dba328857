//! Lambda binary for the `messages-list` route (see `chathub_functions::routes::messages_list`).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    chathub_shared::http::run(
        "messages-list",
        chathub_shared::Clients::STORE,
        chathub_functions::routes::messages_list::handle,
    )
    .await
}
