//! Lambda binary for the `files-create` route (see `chathub_functions::routes::files_create`).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    chathub_shared::http::run(
        "files-create",
        chathub_shared::Clients::FILES,
        chathub_functions::routes::files_create::handle,
    )
    .await
}
