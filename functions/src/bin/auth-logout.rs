//! Lambda binary for `auth-logout`: see `chathub_functions::routes::auth_logout`.

chathub_functions::lambda_main!(auth_logout);
