//! Lambda binary for the WebSocket `ws-get-messages` route (see `chathub_functions::routes::ws_get_messages`).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    chathub_shared::ws::run(
        "get_messages",
        chathub_shared::Clients::STORE,
        chathub_functions::routes::ws_get_messages::handle,
    )
    .await
}
