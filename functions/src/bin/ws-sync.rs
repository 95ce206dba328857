//! Lambda binary for `ws-sync`: see `chathub_functions::routes::ws_sync`.

chathub_functions::lambda_main!(ws_sync);
