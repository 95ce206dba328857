//! Lambda binary for `ws-connect`: see `chathub_functions::routes::ws_connect`.

chathub_functions::lambda_main!(ws_connect);
