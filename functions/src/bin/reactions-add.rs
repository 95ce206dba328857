//! Lambda binary for `reactions-add`: see `chathub_functions::routes::reactions_add`.

chathub_functions::lambda_main!(reactions_add);
