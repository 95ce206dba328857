//! Lambda binary for `conversations-public`: see `chathub_functions::routes::conversations_public`.

chathub_functions::lambda_main!(conversations_public);
