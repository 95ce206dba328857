//! Lambda binary for the `contacts-add` route (see `chathub_functions::routes::contacts_add`).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    chathub_shared::http::run(
        "contacts-add",
        chathub_shared::Clients::STORE,
        chathub_functions::routes::contacts_add::handle,
    )
    .await
}
