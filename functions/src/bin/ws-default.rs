//! Lambda binary for the WebSocket `ws-default` route (see `chathub_functions::routes::ws_default`):
//! no store, no SDK client.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    chathub_shared::ws::run_stateless("$default", chathub_functions::routes::ws_default::handle).await
}
