//! Lambda binary for `ws-default`: see `chathub_functions::routes::ws_default`.

chathub_functions::lambda_main!(ws_default);
