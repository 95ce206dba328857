//! Lambda binary for `conversations-members`: see `chathub_functions::routes::conversations_members`.

chathub_functions::lambda_main!(conversations_members);
