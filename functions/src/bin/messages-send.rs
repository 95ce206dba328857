//! Lambda binary for `messages-send`: see `chathub_functions::routes::messages_send`.

chathub_functions::lambda_main!(messages_send);
