//! Lambda binary for `blocks-add`: see `chathub_functions::routes::blocks_add`.

chathub_functions::lambda_main!(blocks_add);
