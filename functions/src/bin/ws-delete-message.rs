//! Lambda binary for `ws-delete-message`: see `chathub_functions::routes::ws_delete_message`.

chathub_functions::lambda_main!(ws_delete_message);
