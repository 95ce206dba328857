//! Lambda binary for `auth-register`: see `chathub_functions::routes::auth_register`.

chathub_functions::lambda_main!(auth_register);
