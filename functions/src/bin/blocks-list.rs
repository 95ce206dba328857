//! Lambda binary for `blocks-list`: see `chathub_functions::routes::blocks_list`.

chathub_functions::lambda_main!(blocks_list);
