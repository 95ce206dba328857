//! Lambda binary for `ws-disconnect`: see `chathub_functions::routes::ws_disconnect`.

chathub_functions::lambda_main!(ws_disconnect);
