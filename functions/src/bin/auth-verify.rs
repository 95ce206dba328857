//! Lambda binary for `auth-verify`: see `chathub_functions::routes::auth_verify`.

chathub_functions::lambda_main!(auth_verify);
