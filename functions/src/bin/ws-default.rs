//! Lambda binary for the WebSocket `ws-default` route (see `chathub_functions::routes::ws_default`).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    chathub_shared::ws::run("$default", chathub_functions::routes::ws_default::handle).await
}
