//! Lambda binary for `conversations-add-members`: see `chathub_functions::routes::conversations_add_members`.

chathub_functions::lambda_main!(conversations_add_members);
