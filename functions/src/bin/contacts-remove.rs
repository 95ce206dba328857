//! Lambda binary for the `contacts-remove` route (see `chathub_functions::routes::contacts_remove`).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    chathub_shared::http::run(
        "contacts-remove",
        chathub_shared::Clients::STORE,
        chathub_functions::routes::contacts_remove::handle,
    )
    .await
}
