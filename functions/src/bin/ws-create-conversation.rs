//! Lambda binary for `ws-create-conversation`: see `chathub_functions::routes::ws_create_conversation`.

chathub_functions::lambda_main!(ws_create_conversation);
