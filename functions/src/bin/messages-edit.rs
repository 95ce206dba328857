//! Lambda binary for `messages-edit`: see `chathub_functions::routes::messages_edit`.

chathub_functions::lambda_main!(messages_edit);
