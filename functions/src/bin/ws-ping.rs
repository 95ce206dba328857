//! Lambda binary for `ws-ping`: see `chathub_functions::routes::ws_ping`.

chathub_functions::lambda_main!(ws_ping);
