//! Lambda binary for the WebSocket API's REQUEST authorizer (see
//! `chathub_functions::routes::ws_authorizer`): the store, to refuse tokens of revoked sessions.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    chathub_shared::ws::run_authorizer(chathub_functions::routes::ws_authorizer::handle).await
}
