//! Lambda binary for `contacts-list`: see `chathub_functions::routes::contacts_list`.

chathub_functions::lambda_main!(contacts_list);
