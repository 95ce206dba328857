//! Lambda binary for `ws-add-contact`: see `chathub_functions::routes::ws_add_contact`.

chathub_functions::lambda_main!(ws_add_contact);
