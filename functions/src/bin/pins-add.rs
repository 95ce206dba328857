//! Lambda binary for `pins-add`: see `chathub_functions::routes::pins_add`.

chathub_functions::lambda_main!(pins_add);
