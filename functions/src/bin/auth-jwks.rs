//! Lambda binary for `auth-jwks`: see `chathub_functions::routes::auth_jwks`.

chathub_functions::lambda_main!(auth_jwks);
