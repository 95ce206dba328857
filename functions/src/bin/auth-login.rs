//! Lambda binary for `auth-login`: see `chathub_functions::routes::auth_login`.

chathub_functions::lambda_main!(auth_login);
