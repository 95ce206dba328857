//! Lambda binary for `notify`: see `chathub_functions::notify`.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    chathub_functions::notify::main().await
}
