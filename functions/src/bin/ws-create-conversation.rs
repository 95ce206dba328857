//! Lambda binary for the WebSocket `ws-create-conversation` route (see `chathub_functions::routes::ws_create_conversation`).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    chathub_shared::ws::run(
        "create_conversation",
        chathub_shared::Clients::PUSH,
        chathub_functions::routes::ws_create_conversation::handle,
    )
    .await
}
