//! Lambda binary for `devices-list`: see `chathub_functions::routes::devices_list`.

chathub_functions::lambda_main!(devices_list);
