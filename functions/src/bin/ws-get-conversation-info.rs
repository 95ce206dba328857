//! Lambda binary for `ws-get-conversation-info`: see `chathub_functions::routes::ws_get_conversation_info`.

chathub_functions::lambda_main!(ws_get_conversation_info);
