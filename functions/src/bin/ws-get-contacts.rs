//! Lambda binary for `ws-get-contacts`: see `chathub_functions::routes::ws_get_contacts`.

chathub_functions::lambda_main!(ws_get_contacts);
