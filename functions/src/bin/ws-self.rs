//! Lambda binary for `ws-self`: see `chathub_functions::routes::ws_self`.

chathub_functions::lambda_main!(ws_self);
