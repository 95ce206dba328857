//! Lambda binary for the WebSocket `ws-get-conversations` route (see `chathub_functions::routes::ws_get_conversations`).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    chathub_shared::ws::run(
        "get_conversations",
        chathub_shared::Clients::STORE,
        chathub_functions::routes::ws_get_conversations::handle,
    )
    .await
}
