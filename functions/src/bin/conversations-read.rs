//! Lambda binary for `conversations-read`: see `chathub_functions::routes::conversations_read`.

chathub_functions::lambda_main!(conversations_read);
