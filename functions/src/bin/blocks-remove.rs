//! Lambda binary for `blocks-remove`: see `chathub_functions::routes::blocks_remove`.

chathub_functions::lambda_main!(blocks_remove);
