//! Lambda binary for the WebSocket `ws-add-contact` route (see `chathub_functions::routes::ws_add_contact`).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    chathub_shared::ws::run(
        "add_contact",
        chathub_shared::Clients::STORE,
        chathub_functions::routes::ws_add_contact::handle,
    )
    .await
}
