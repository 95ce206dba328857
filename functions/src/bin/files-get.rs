//! Lambda binary for `files-get`: see `chathub_functions::routes::files_get`.

chathub_functions::lambda_main!(files_get);
