//! Lambda binary for `ws-mark-read`: see `chathub_functions::routes::ws_mark_read`.

chathub_functions::lambda_main!(ws_mark_read);
