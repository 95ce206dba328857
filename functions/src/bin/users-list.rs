//! Lambda binary for `users-list`: see `chathub_functions::routes::users_list`.

chathub_functions::lambda_main!(users_list);
