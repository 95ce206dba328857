//! Lambda binary for `messages-delete`: see `chathub_functions::routes::messages_delete`.

chathub_functions::lambda_main!(messages_delete);
