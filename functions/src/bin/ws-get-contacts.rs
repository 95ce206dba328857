//! Lambda binary for the WebSocket `ws-get-contacts` route (see `chathub_functions::routes::ws_get_contacts`).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    chathub_shared::ws::run(
        "get_contacts",
        chathub_shared::Clients::STORE,
        chathub_functions::routes::ws_get_contacts::handle,
    )
    .await
}
