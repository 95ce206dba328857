//! Lambda binary for `ws-remove-reaction`: see `chathub_functions::routes::ws_remove_reaction`.

chathub_functions::lambda_main!(ws_remove_reaction);
