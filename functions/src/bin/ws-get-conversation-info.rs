//! Lambda binary for the WebSocket `ws-get-conversation-info` route (see `chathub_functions::routes::ws_get_conversation_info`).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    chathub_shared::ws::run(
        "get_conversation_info",
        chathub_shared::Clients::STORE,
        chathub_functions::routes::ws_get_conversation_info::handle,
    )
    .await
}
