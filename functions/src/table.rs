//! The route tables, REST and WebSocket: route, function (binary) name and handler, written
//! once. The local gateway dispatches with them; tests hold template.yaml, the docs and events/
//! to them.

use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use chathub_shared::http::{respond, Response};
use chathub_shared::{ws, Ctx};
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
    "GET" "/.well-known/jwks.json" => "auth-jwks" auth_jwks,
    "GET" "/users/me" => "users-me-get" users_me_get,
    "PATCH" "/users/me" => "users-me-patch" users_me_patch,
    "GET" "/users" => "users-list" users_list,
    "GET" "/users/{username}" => "users-get" users_get,
    "GET" "/contacts" => "contacts-list" contacts_list,
    "POST" "/contacts" => "contacts-add" contacts_add,
    "DELETE" "/contacts/{username}" => "contacts-remove" contacts_remove,
    "POST" "/conversations" => "conversations-create" conversations_create,
    "GET" "/conversations" => "conversations-list" conversations_list,
    "GET" "/conversations/public" => "conversations-public" conversations_public,
    "GET" "/conversations/{id}" => "conversations-get" conversations_get,
    "PATCH" "/conversations/{id}" => "conversations-update" conversations_update,
    "POST" "/conversations/{id}/members" => "conversations-add-members" conversations_add_members,
    "GET" "/conversations/{id}/members" => "conversations-members" conversations_members,
    "POST" "/conversations/{id}/join" => "conversations-join" conversations_join,
    "DELETE" "/conversations/{id}/members/{username}" => "conversations-remove-member" conversations_remove_member,
    "POST" "/conversations/{id}/messages" => "messages-send" messages_send,
    "GET" "/conversations/{id}/messages" => "messages-list" messages_list,
    "PATCH" "/conversations/{id}/messages/{message_id}" => "messages-edit" messages_edit,
    "DELETE" "/conversations/{id}/messages/{message_id}" => "messages-delete" messages_delete,
    "POST" "/conversations/{id}/read" => "conversations-read" conversations_read,
    "POST" "/files" => "files-create" files_create,
    "GET" "/files/{file_id}" => "files-get" files_get,
}

/// One WebSocket route: API Gateway's route key, served by the binary `function`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WsRoute {
    pub route_key: &'static str,
    pub function: &'static str,
}

/// The function of the WebSocket API's `$connect` REQUEST authorizer.
pub const WS_AUTHORIZER: &str = "ws-authorizer";

macro_rules! ws_routes {
    (
        lifecycle { $($lkey:literal => $lfunction:literal $lmodule:ident,)* }
        messages { $($key:literal => $function:literal $module:ident,)* }
    ) => {
        /// Every WebSocket route (the authorizer is [`WS_AUTHORIZER`]).
        pub const WS_ROUTES: &[WsRoute] = &[
            $(WsRoute { route_key: $lkey, function: $lfunction },)*
            $(WsRoute { route_key: $key, function: $function },)*
        ];

        /// Runs a WebSocket route's handler in-process; returns what its Lambda would.
        pub async fn dispatch_ws(function: &str, ctx: Ctx, event: ApiGatewayWebsocketProxyRequest) -> Option<serde_json::Value> {
            match function {
                $($lfunction => Some(ws::respond_lifecycle($lkey, ctx, event, routes::$lmodule::handle).await),)*
                $($function => Some(ws::respond($key, ctx, event, routes::$module::handle).await),)*
                _ => None,
            }
        }
    };
}

ws_routes! {
    lifecycle {
        "$connect" => "ws-connect" ws_connect,
        "$disconnect" => "ws-disconnect" ws_disconnect,
    }
    messages {
        "$default" => "ws-default" ws_default,
        "ping" => "ws-ping" ws_ping,
        "self" => "ws-self" ws_self,
        "add_contact" => "ws-add-contact" ws_add_contact,
        "get_contacts" => "ws-get-contacts" ws_get_contacts,
        "create_conversation" => "ws-create-conversation" ws_create_conversation,
        "get_conversations" => "ws-get-conversations" ws_get_conversations,
        "get_conversation_info" => "ws-get-conversation-info" ws_get_conversation_info,
        "send_message" => "ws-send-message" ws_send_message,
        "get_messages" => "ws-get-messages" ws_get_messages,
        "edit_message" => "ws-edit-message" ws_edit_message,
        "delete_message" => "ws-delete-message" ws_delete_message,
        "mark_read" => "ws-mark-read" ws_mark_read,
        "typing" => "ws-typing" ws_typing,
    }
}
