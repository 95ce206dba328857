//! Lambda binary for the WebSocket `ws-ping` route (see `chathub_functions::routes::ws_ping`):
//! no store, no SDK client.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    chathub_shared::ws::run_stateless("ping", chathub_functions::routes::ws_ping::handle).await
}
