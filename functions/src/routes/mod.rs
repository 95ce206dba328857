//! One module per route, named after its function binary (`auth-login` → `auth_login`).
//! REST routes: `handle(ctx, request) -> Result<Response, ApiError>`. WebSocket routes (`ws_*`):
//! `handle(ctx, frame) -> Result<data, ApiError>`, answered in the envelope. Each parses, calls
//! the domain, answers.

pub mod auth_jwks;
pub mod auth_login;
pub mod auth_logout;
pub mod auth_refresh;
pub mod auth_register;
pub mod auth_verify;
pub mod contacts_add;
pub mod contacts_list;
pub mod contacts_remove;
pub mod conversations_add_members;
pub mod conversations_create;
pub mod conversations_get;
pub mod conversations_join;
pub mod conversations_list;
pub mod conversations_members;
pub mod conversations_notifications;
pub mod conversations_public;
pub mod conversations_read;
pub mod conversations_remove_member;
pub mod conversations_update;
pub mod devices_list;
pub mod devices_register;
pub mod devices_remove;
pub mod files_create;
pub mod files_get;
pub mod messages_delete;
pub mod messages_edit;
pub mod messages_list;
pub mod messages_send;
pub mod ping;
pub mod sync_get;
pub mod users_get;
pub mod users_list;
pub mod users_me_get;
pub mod users_me_patch;
pub mod ws_add_contact;
pub mod ws_authorizer;
pub mod ws_connect;
pub mod ws_create_conversation;
pub mod ws_default;
pub mod ws_delete_message;
pub mod ws_disconnect;
pub mod ws_edit_message;
pub mod ws_get_contacts;
pub mod ws_get_conversation_info;
pub mod ws_get_conversations;
pub mod ws_get_messages;
pub mod ws_mark_read;
pub mod ws_ping;
pub mod ws_self;
pub mod ws_send_message;
pub mod ws_sync;
pub mod ws_typing;
