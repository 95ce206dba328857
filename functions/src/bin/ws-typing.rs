//! Lambda binary for the WebSocket `ws-typing` route (see `chathub_functions::routes::ws_typing`).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    chathub_shared::ws::run("typing", chathub_shared::Clients::PUSH, chathub_functions::routes::ws_typing::handle).await
}
