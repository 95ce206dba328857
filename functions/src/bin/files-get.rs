//! Lambda binary for the `files-get` route (see `chathub_functions::routes::files_get`).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    chathub_shared::http::run("files-get", chathub_shared::Clients::FILES, chathub_functions::routes::files_get::handle)
        .await
}
