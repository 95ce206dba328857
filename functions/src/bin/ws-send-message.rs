//! Lambda binary for `ws-send-message`: see `chathub_functions::routes::ws_send_message`.

chathub_functions::lambda_main!(ws_send_message);
