//! Lambda binary for the WebSocket `ws-self` route (see `chathub_functions::routes::ws_self`).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    chathub_shared::ws::run("self", chathub_shared::Clients::STORE, chathub_functions::routes::ws_self::handle).await
}
