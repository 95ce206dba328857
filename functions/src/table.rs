//! The route tables, REST and WebSocket: the lists of route modules. Each module declares its
//! route key and function (binary) name next to its handler (`rest_route!`, `ws_route!` in
//! lib.rs); the local gateway dispatches with these lists, and tests hold template.yaml, Cargo.toml,
//! the docs and events/ to them.

use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use chathub_shared::clients::{Local, Needs};
use chathub_shared::http::Response;
use chathub_shared::With;
use lambda_http::Request;

use crate::routes;

/// One REST route: `method path` as API Gateway's route key, served by the binary `function`,
/// which holds the store and the clients `needs` names (`None`: its configuration alone).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestRoute {
    pub method: &'static str,
    pub path: &'static str,
    pub function: &'static str,
    pub needs: Option<Needs>,
}

impl RestRoute {
    pub fn route_key(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

macro_rules! rest_routes {
    ($($module:ident,)*) => {
        /// Every REST route.
        pub const REST_ROUTES: &[RestRoute] = &[$(routes::$module::ROUTE,)*];

        /// Runs the handler of `function` in-process, as its Lambda would (the local gateway),
        /// with the clients its route declared out of `all`.
        pub async fn dispatch(function: &str, all: &With<Local>, req: Request) -> Option<Response> {
            $(if function == routes::$module::ROUTE.function {
                return Some(routes::$module::dispatch(all, req).await);
            })*
            None
        }
    };
}

rest_routes! {
    ping,
    auth_register,
    auth_login,
    auth_refresh,
    auth_logout,
    auth_verify,
    auth_jwks,
    users_me_get,
    users_me_patch,
    users_list,
    users_get,
    blocks_add,
    blocks_remove,
    blocks_list,
    reports_create,
    contacts_list,
    contacts_add,
    contacts_remove,
    conversations_create,
    conversations_list,
    conversations_public,
    conversations_get,
    conversations_update,
    conversations_add_members,
    conversations_members,
    conversations_join,
    conversations_remove_member,
    messages_send,
    messages_list,
    messages_replies,
    messages_edit,
    messages_delete,
    reactions_add,
    reactions_remove,
    pins_add,
    pins_remove,
    pins_list,
    conversations_read,
    conversations_notifications,
    files_create,
    files_get,
    devices_register,
    devices_list,
    devices_remove,
    sync_get,
}

/// One WebSocket route: API Gateway's route key, served by the binary `function`, which holds the
/// store and the clients `needs` names (`None`: its configuration alone).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WsRoute {
    pub route_key: &'static str,
    pub function: &'static str,
    pub needs: Option<Needs>,
    /// One-way in API Gateway (no route response): the handler posts its answer itself, through
    /// the management API, as soon as it knows it (a send once its message is stored).
    pub answers_early: bool,
}

/// The function of the WebSocket API's `$connect` REQUEST authorizer.
pub const WS_AUTHORIZER: &str = routes::ws_authorizer::FUNCTION;

/// The function the table's stream invokes (push notifications), which serves no route.
pub const NOTIFY: &str = crate::notify::FUNCTION;

macro_rules! ws_routes {
    ($($module:ident,)*) => {
        /// Every WebSocket route (the authorizer is [`WS_AUTHORIZER`]).
        pub const WS_ROUTES: &[WsRoute] = &[$(routes::$module::ROUTE,)*];

        /// Runs a WebSocket route's handler in-process; returns what its Lambda would.
        pub async fn dispatch_ws(
            function: &str,
            all: &With<Local>,
            event: ApiGatewayWebsocketProxyRequest,
        ) -> Option<serde_json::Value> {
            $(if function == routes::$module::ROUTE.function {
                return Some(routes::$module::dispatch(all, event).await);
            })*
            None
        }
    };
}

ws_routes! {
    ws_connect,
    ws_disconnect,
    ws_default,
    ws_ping,
    ws_self,
    ws_add_contact,
    ws_get_contacts,
    ws_create_conversation,
    ws_get_conversations,
    ws_get_conversation_info,
    ws_send_message,
    ws_get_messages,
    ws_edit_message,
    ws_delete_message,
    ws_add_reaction,
    ws_remove_reaction,
    ws_mark_read,
    ws_typing,
    ws_sync,
}
