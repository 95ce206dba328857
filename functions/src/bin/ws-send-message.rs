//! Lambda binary for the WebSocket `ws-send-message` route (see `chathub_functions::routes::ws_send_message`).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    chathub_shared::ws::run(
        "send_message",
        chathub_shared::Clients::PUSH_FILES,
        chathub_functions::routes::ws_send_message::handle,
    )
    .await
}
