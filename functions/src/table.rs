//! The REST route table: method, path, function (binary) name and handler, written once.
//! The local gateway dispatches with it; tests hold template.yaml to it.

use chathub_shared::http::{respond, Response};
use chathub_shared::Ctx;
use lambda_http::Request;

use crate::routes;

/// One REST route: `method path` as API Gateway's route key, served by the binary `function`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestRoute {
    pub method: &'static str,
    pub path: &'static str,
    pub function: &'static str,
}

impl RestRoute {
    pub fn route_key(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

macro_rules! rest_routes {
    ($($method:literal $path:literal => $function:literal $module:ident,)*) => {
        /// Every REST route.
        pub const REST_ROUTES: &[RestRoute] = &[
            $(RestRoute { method: $method, path: $path, function: $function },)*
        ];

        /// Runs the handler of `function` in-process, as its Lambda would (the local gateway).
        pub async fn dispatch(function: &str, ctx: Ctx, req: Request) -> Option<Response> {
            match function {
                $($function => Some(respond($function, routes::$module::handle(ctx, req)).await),)*
                _ => None,
            }
        }
    };
}

rest_routes! {
    "GET" "/ping" => "ping" ping,
    "POST" "/auth/register" => "auth-register" auth_register,
    "POST" "/auth/login" => "auth-login" auth_login,
    "POST" "/auth/refresh" => "auth-refresh" auth_refresh,
    "POST" "/auth/logout" => "auth-logout" auth_logout,
    "GET" "/auth/verify" => "auth-verify" auth_verify,
    "GET" "/users/me" => "users-me-get" users_me_get,
    "PATCH" "/users/me" => "users-me-patch" users_me_patch,
    "GET" "/users" => "users-list" users_list,
    "GET" "/users/{username}" => "users-get" users_get,
    "GET" "/contacts" => "contacts-list" contacts_list,
    "POST" "/contacts" => "contacts-add" contacts_add,
    "DELETE" "/contacts/{username}" => "contacts-remove" contacts_remove,
}
