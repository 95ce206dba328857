//! Lambda binary for `ws-add-reaction`: see `chathub_functions::routes::ws_add_reaction`.

chathub_functions::lambda_main!(ws_add_reaction);
