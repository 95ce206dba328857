//! Lambda binary for `ws-authorizer`: see `chathub_functions::routes::ws_authorizer`.

chathub_functions::lambda_main!(ws_authorizer);
