//! Lambda binary for the WebSocket API's REQUEST authorizer (see
//! `chathub_functions::routes::ws_authorizer`): no store, no SDK client.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    chathub_shared::ws::run_authorizer().await
}
