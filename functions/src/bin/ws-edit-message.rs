//! Lambda binary for `ws-edit-message`: see `chathub_functions::routes::ws_edit_message`.

chathub_functions::lambda_main!(ws_edit_message);
