//! Lambda binary for `sync-get`: see `chathub_functions::routes::sync_get`.

chathub_functions::lambda_main!(sync_get);
