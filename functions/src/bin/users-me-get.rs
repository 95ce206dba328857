//! Lambda binary for `users-me-get`: see `chathub_functions::routes::users_me_get`.

chathub_functions::lambda_main!(users_me_get);
