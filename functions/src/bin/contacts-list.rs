//! Lambda binary for the `contacts-list` route (see `chathub_functions::routes::contacts_list`).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    chathub_shared::http::run(
        "contacts-list",
        chathub_shared::Clients::STORE,
        chathub_functions::routes::contacts_list::handle,
    )
    .await
}
