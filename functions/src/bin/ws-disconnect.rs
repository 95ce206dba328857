//! Lambda binary for the WebSocket `ws-disconnect` route (see `chathub_functions::routes::ws_disconnect`).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    chathub_shared::ws::run_lifecycle(
        "$disconnect",
        chathub_shared::Clients::PUSH,
        chathub_functions::routes::ws_disconnect::handle,
    )
    .await
}
