//! Lambda binary for `pins-list`: see `chathub_functions::routes::pins_list`.

chathub_functions::lambda_main!(pins_list);
