//! Lambda binary for `files-create`: see `chathub_functions::routes::files_create`.

chathub_functions::lambda_main!(files_create);
