//! Lambda binary for `devices-remove`: see `chathub_functions::routes::devices_remove`.

chathub_functions::lambda_main!(devices_remove);
