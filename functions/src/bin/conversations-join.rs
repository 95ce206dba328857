//! Lambda binary for `conversations-join`: see `chathub_functions::routes::conversations_join`.

chathub_functions::lambda_main!(conversations_join);
