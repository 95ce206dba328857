//! Lambda binary for `messages-replies`: see `chathub_functions::routes::messages_replies`.

chathub_functions::lambda_main!(messages_replies);
