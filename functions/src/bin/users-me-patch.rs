//! Lambda binary for `users-me-patch`: see `chathub_functions::routes::users_me_patch`.

chathub_functions::lambda_main!(users_me_patch);
