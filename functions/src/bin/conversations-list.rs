//! Lambda binary for `conversations-list`: see `chathub_functions::routes::conversations_list`.

chathub_functions::lambda_main!(conversations_list);
