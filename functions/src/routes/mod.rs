//! One module per REST route, named after its function binary. Each has
//! `handle(ctx, request) -> Result<Response, ApiError>`: parse, call the domain, answer.

pub mod auth_login;
pub mod auth_logout;
pub mod auth_refresh;
pub mod auth_register;
pub mod auth_verify;
pub mod contacts_add;
pub mod contacts_list;
pub mod contacts_remove;
pub mod ping;
pub mod users_get;
pub mod users_list;
pub mod users_me_get;
pub mod users_me_patch;
