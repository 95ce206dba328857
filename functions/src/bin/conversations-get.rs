//! Lambda binary for `conversations-get`: see `chathub_functions::routes::conversations_get`.

chathub_functions::lambda_main!(conversations_get);
