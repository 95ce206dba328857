//! Lambda binary for `messages-list`: see `chathub_functions::routes::messages_list`.

chathub_functions::lambda_main!(messages_list);
