//! Lambda binary for `conversations-remove-member`: see `chathub_functions::routes::conversations_remove_member`.

chathub_functions::lambda_main!(conversations_remove_member);
