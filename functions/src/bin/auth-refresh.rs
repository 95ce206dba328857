//! Lambda binary for `auth-refresh`: see `chathub_functions::routes::auth_refresh`.

chathub_functions::lambda_main!(auth_refresh);
