//! Lambda binary for the `ping` route: no store, no SDK client.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    chathub_shared::http::run_stateless("ping", chathub_functions::routes::ping::pong).await
}
