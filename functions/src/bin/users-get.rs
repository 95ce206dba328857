//! Lambda binary for `users-get`: see `chathub_functions::routes::users_get`.

chathub_functions::lambda_main!(users_get);
