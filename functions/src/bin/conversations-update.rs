//! Lambda binary for `conversations-update`: see `chathub_functions::routes::conversations_update`.

chathub_functions::lambda_main!(conversations_update);
