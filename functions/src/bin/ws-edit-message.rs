//! Lambda binary for the WebSocket `ws-edit-message` route (see `chathub_functions::routes::ws_edit_message`).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    chathub_shared::ws::run(
        "edit_message",
        chathub_shared::Clients::PUSH,
        chathub_functions::routes::ws_edit_message::handle,
    )
    .await
}
