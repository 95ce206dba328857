//! Lambda binary for `contacts-add`: see `chathub_functions::routes::contacts_add`.

chathub_functions::lambda_main!(contacts_add);
