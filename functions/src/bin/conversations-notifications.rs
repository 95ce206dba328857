//! Lambda binary for `conversations-notifications`: see `chathub_functions::routes::conversations_notifications`.

chathub_functions::lambda_main!(conversations_notifications);
