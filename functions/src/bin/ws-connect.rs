//! Lambda binary for the WebSocket `ws-connect` route (see `chathub_functions::routes::ws_connect`).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    chathub_shared::ws::run_lifecycle(
        "$connect",
        chathub_shared::Clients::PUSH,
        chathub_functions::routes::ws_connect::handle,
    )
    .await
}
