//! Lambda binary for `ws-get-messages`: see `chathub_functions::routes::ws_get_messages`.

chathub_functions::lambda_main!(ws_get_messages);
