//! Lambda binary for `pins-remove`: see `chathub_functions::routes::pins_remove`.

chathub_functions::lambda_main!(pins_remove);
