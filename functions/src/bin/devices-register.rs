//! Lambda binary for `devices-register`: see `chathub_functions::routes::devices_register`.

chathub_functions::lambda_main!(devices_register);
