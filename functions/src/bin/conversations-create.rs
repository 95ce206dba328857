//! Lambda binary for `conversations-create`: see `chathub_functions::routes::conversations_create`.

chathub_functions::lambda_main!(conversations_create);
