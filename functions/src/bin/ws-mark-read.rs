//! Lambda binary for the WebSocket `ws-mark-read` route (see `chathub_functions::routes::ws_mark_read`).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    chathub_shared::ws::run("mark_read", chathub_shared::Clients::PUSH, chathub_functions::routes::ws_mark_read::handle)
        .await
}
