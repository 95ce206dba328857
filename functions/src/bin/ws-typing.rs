//! Lambda binary for `ws-typing`: see `chathub_functions::routes::ws_typing`.

chathub_functions::lambda_main!(ws_typing);
