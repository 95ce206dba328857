//! Lambda binary for `contacts-remove`: see `chathub_functions::routes::contacts_remove`.

chathub_functions::lambda_main!(contacts_remove);
