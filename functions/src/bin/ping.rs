//! Lambda binary for `ping`: see `chathub_functions::routes::ping`.

chathub_functions::lambda_main!(ping);
