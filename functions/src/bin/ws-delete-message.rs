//! Lambda binary for the WebSocket `ws-delete-message` route (see `chathub_functions::routes::ws_delete_message`).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    chathub_shared::ws::run(
        "delete_message",
        chathub_shared::Clients::PUSH,
        chathub_functions::routes::ws_delete_message::handle,
    )
    .await
}
