//! Lambda binary for the `ping` route: the handler the route table dispatches, on its
//! configuration alone (no store, no SDK client).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    chathub_shared::http::run_configured("ping", chathub_functions::routes::ping::handle).await
}
