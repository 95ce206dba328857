//! Lambda binary for `ws-get-conversations`: see `chathub_functions::routes::ws_get_conversations`.

chathub_functions::lambda_main!(ws_get_conversations);
