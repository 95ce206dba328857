//! Lambda binary for `reports-create`: see `chathub_functions::routes::reports_create`.

chathub_functions::lambda_main!(reports_create);
