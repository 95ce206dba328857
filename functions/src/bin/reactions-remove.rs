//! Lambda binary for `reactions-remove`: see `chathub_functions::routes::reactions_remove`.

chathub_functions::lambda_main!(reactions_remove);
