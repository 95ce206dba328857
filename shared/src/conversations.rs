//! Conversations: create (direct ones deduplicated), list by activity with unread counts, the
//! public directory, info, rename, members (listed, added, joining, leaving). Rooms hold up to
//! [`chat::MEMBERS_MAX`] members, each an item of its own, so nothing here reads every member
//! except the inline member list of a room of up to [`chat::MEMBERS_INLINE_MAX`].

use serde::{Deserialize, Serialize};

use crate::chat::{
    self, Conversation, ConversationView, Kind, Member, MemberView, Message, ReadState, Sockets, Visibility,
};
use crate::clients::{HoldsFiles, Pushes, With};
use crate::error::{ApiError, Conflict, StoreError};
use crate::fanout::{event, fan_out, push_to_conversation, push_to_users};
use crate::ids::{ConnectionId, ConversationId, FileId, MessageId};
use crate::model::{Page, Username};
use crate::Ctx;

#[derive(Debug, Deserialize)]
pub struct CreateConversation {
    pub name: Option<String>,
    #[serde(default)]
    pub members: Vec<String>,
    pub visibility: Option<Visibility>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateConversation {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "crate::model::present")]
    pub icon_file_id: Option<Option<FileId>>,
}

#[derive(Debug, Deserialize)]
pub struct AddMembers {
    pub usernames: Vec<String>,
}

/// One row of my conversation list.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ConversationSummary {
    #[serde(flatten)]
    pub conversation: ConversationView,
    pub unread_count: i64,
    pub last_message: Option<Message>,
}

/// The conversation if `caller` is a member; 404 otherwise (never reveal that it exists).
pub async fn member_view(ctx: &Ctx, caller: &str, id: &ConversationId) -> Result<Conversation, ApiError> {
    Ok(membership(ctx, caller, id).await?.0)
}

/// The conversation and the caller's read state in it, in one read; 404 for a non-member.
pub async fn membership(ctx: &Ctx, caller: &str, id: &ConversationId) -> Result<(Conversation, ReadState), ApiError> {
    ctx.store.member_conversation(id, caller).await?.ok_or(ApiError::NotFound("conversation not found"))
}

/// The view with its members inline, for rooms of up to [`chat::MEMBERS_INLINE_MAX`] (one Query).
pub async fn with_members(ctx: &Ctx, conversation: &Conversation) -> Result<ConversationView, ApiError> {
    if conversation.member_count > chat::MEMBERS_INLINE_MAX as i64 {
        return Ok(conversation.view(None));
    }
    let page = ctx.store.list_members(&conversation.id, None, chat::MEMBERS_INLINE_MAX).await?;
    if page.next_cursor.is_some() {
        // Grown past the inline limit since the conversation was read.
        return Ok(conversation.view(None));
    }
    Ok(conversation.view(Some(page.items.into_iter().map(|m| m.username).collect())))
}

/// The usernames a request names, lower-cased, sorted and de-duplicated; at most
/// [`chat::MEMBERS_PER_REQUEST_MAX`] of them as given (the OpenAPI document's `maxItems`).
fn parse_usernames(raw: &[String]) -> Result<Vec<String>, ApiError> {
    too_many_per_request(raw.len())?;
    let mut names: Vec<String> = raw
        .iter()
        .map(|u| Username::parse(u).map(Username::into_string).map_err(|_| ApiError::NotFound("user not found")))
        .collect::<Result<_, _>>()?;
    names.sort();
    names.dedup();
    Ok(names)
}

/// Every one of `names` exists (404), and none blocks `caller`, who would add them (403 `blocked`).
async fn require_users(ctx: &Ctx, caller: &str, names: &[String]) -> Result<(), ApiError> {
    if names.is_empty() {
        return Ok(());
    }
    let found = ctx.store.get_users(names).await?;
    if found.len() != names.len() {
        return Err(ApiError::NotFound("user not found"));
    }
    if found.iter().any(|user| user.blocks(caller)) {
        return Err(ApiError::blocked());
    }
    Ok(())
}

fn too_many_per_request(named: usize) -> Result<(), ApiError> {
    if named > chat::MEMBERS_PER_REQUEST_MAX {
        return Err(ApiError::invalid(format!("at most {} members per request", chat::MEMBERS_PER_REQUEST_MAX)));
    }
    Ok(())
}

/// Records the live sockets of members who just joined under the conversation, so its pushes
/// reach them without a reconnect, and returns them. A failure costs them pushes until they
/// reconnect, not the join.
async fn register_sockets(
    ctx: &Ctx,
    id: &ConversationId,
    usernames: &[String],
    sockets: Sockets,
) -> Vec<(String, ConnectionId)> {
    ctx.store.register_connections(id, usernames, sockets, ctx.now_ms()).await.unwrap_or_else(|e| {
        tracing::warn!(error = %crate::error::Chain(&e), conversation_id = %id, "could not record joining members' sockets");
        Vec::new()
    })
}

/// Creates a conversation; returns it and whether it is new (a direct conversation that exists
/// already comes back as it is).
pub async fn create(
    ctx: &With<impl Pushes>,
    caller: &str,
    req: CreateConversation,
    origin: Option<&ConnectionId>,
) -> Result<(ConversationView, bool), ApiError> {
    let mut others = parse_usernames(&req.members)?;
    others.retain(|u| u != caller);
    too_many_per_request(others.len())?;
    let name = req.name.as_deref().map(chat::validate_name).transpose()?;
    let visibility = req.visibility.unwrap_or_default();
    let direct = others.len() == 1 && name.is_none();
    if direct && visibility == Visibility::Public {
        return Err(ApiError::invalid("a direct conversation cannot be public; give it a name to make a group"));
    }
    if visibility == Visibility::Public && name.is_none() {
        return Err(ApiError::invalid("a public conversation needs a name"));
    }
    require_users(ctx, caller, &others).await?;

    let direct_key = direct.then(|| chat::direct_key(caller, &others[0]));
    if let Some(key) = &direct_key {
        if let Some(existing) = existing_direct(ctx, key).await? {
            return Ok((with_members(ctx, &existing).await?, false));
        }
    }
    let now = ctx.now_ms();
    // The creator joined first: it is the longest-standing member.
    let member = |username: &str, joined_at| Member {
        username: username.to_owned(),
        joined_at,
        added_by: Some(caller.to_owned()),
    };
    let mut members = vec![member(caller, now - 1)];
    members.extend(others.iter().map(|u| member(u, now)));
    let mut names: Vec<String> = members.iter().map(|m| m.username.clone()).collect();
    names.sort();
    let conversation = Conversation {
        id: ConversationId::new(ulid::Ulid::new().to_string()),
        name,
        kind: if direct { Kind::Direct } else { Kind::Group },
        visibility,
        owner: caller.to_owned(),
        member_count: members.len() as i64,
        member_preview: chat::preview(&names, &[], None, &[]),
        icon_file_id: None,
        created_at: now,
        created_by: caller.to_owned(),
        last_message_id: MessageId::NONE,
        last_activity_at: now,
        // A direct conversation's two members never change but by leaving, and a small group's
        // roster is small: a push reads their profiles (a read unit each) rather than every
        // `$connect` writing a record under it.
        sockets: Sockets::for_new(direct, members.len()),
        // Made bigger than the sync feed fans out to: pulled from the start (sync::capture).
        feed: crate::sync::feed::ConversationFeed {
            pulled: members.len() as i64 > crate::sync::feed::FANOUT_MAX,
            log_seq: 0,
        },
    };
    match ctx.store.create_conversation(&conversation, &members, direct_key.as_deref()).await {
        Ok(()) => {}
        Err(StoreError::Conflict(Conflict::DirectExists)) => {
            // Someone created the pair's conversation meanwhile: that one it is.
            let key = direct_key.unwrap_or_default();
            let existing = existing_direct(ctx, &key).await?.ok_or(ApiError::Unavailable { retry_after_secs: 1 })?;
            return Ok((with_members(ctx, &existing).await?, false));
        }
        Err(e) => return Err(e.into()),
    }
    // Everyone's sockets were just recorded: push to them without reading them back.
    let sockets = register_sockets(ctx, &conversation.id, &names, conversation.sockets).await;
    let view = conversation.view(Some(names));
    // Just recorded under the conversation, or all on the roster.
    let on_profile = conversation.sockets == Sockets::OnProfiles;
    let sockets = sockets
        .into_iter()
        .filter(|(_, c)| Some(c) != origin)
        .map(|(user, connection)| crate::store::Target { user, connection, batch: false, on_profile })
        .collect();
    fan_out(ctx, Some(&conversation.id), sockets, event("conversation_created", &view)).await;
    Ok((view, true))
}

async fn existing_direct(ctx: &Ctx, key: &str) -> Result<Option<Conversation>, ApiError> {
    match ctx.store.direct_conversation(key).await? {
        Some(id) => Ok(ctx.store.get_conversation(&id).await?),
        None => Ok(None),
    }
}

/// Every conversation `caller` is in, with their read state, most recent activity first (ties by
/// id, so the order is total and cursors are exact): one Query and a BatchGetItem per 100.
pub async fn mine(ctx: &Ctx, caller: &str) -> Result<Vec<(Conversation, ReadState)>, ApiError> {
    let memberships: std::collections::HashMap<ConversationId, ReadState> =
        ctx.store.memberships(caller).await?.into_iter().collect();
    let ids: Vec<ConversationId> = memberships.keys().cloned().collect();
    let mut conversations: Vec<(Conversation, ReadState)> = ctx
        .store
        .get_conversations(&ids)
        .await?
        .into_iter()
        .map(|c| {
            let state = memberships.get(&c.id).copied().unwrap_or_default();
            (c, state)
        })
        .collect();
    conversations.sort_by(|(a, _), (b, _)| b.last_activity_at.cmp(&a.last_activity_at).then_with(|| b.id.cmp(&a.id)));
    Ok(conversations)
}

/// My conversations, most recent activity first, with unread counts and last messages.
/// The cursor holds the last row's `last_activity_at` and id.
pub async fn list(
    ctx: &Ctx,
    caller: &str,
    cursor: Option<&str>,
    limit: usize,
) -> Result<Page<ConversationSummary>, ApiError> {
    let after = cursor.map(crate::paging::activity_cursor).transpose()?;
    let conversations = mine(ctx, caller).await?;
    let start = match &after {
        Some((at, id)) => conversations
            .iter()
            .position(|(c, _)| (c.last_activity_at, c.id.as_str()) < (*at, id.as_str()))
            .unwrap_or(conversations.len()),
        None => 0,
    };
    let page: Vec<(Conversation, ReadState)> = conversations.iter().skip(start).take(limit).cloned().collect();
    let more = conversations.len() > start + page.len();
    let last_keys: Vec<(ConversationId, MessageId)> = page
        .iter()
        .filter(|(c, _)| c.last_message_id > MessageId::NONE)
        .map(|(c, _)| (c.id.clone(), c.last_message_id))
        .collect();
    let last_messages = ctx.store.get_messages(&last_keys).await?;
    let items = page
        .iter()
        .map(|(c, state)| ConversationSummary {
            conversation: ConversationView { notifications: Some(state.notifications), ..c.view(None) },
            unread_count: state.unread_count(c.last_message_id),
            last_message: last_messages
                .iter()
                .find(|m| m.conversation_id == c.id && m.id == c.last_message_id)
                .cloned(),
        })
        .collect();
    let next_cursor = if more {
        page.last().map(|(c, _)| crate::paging::activity_cursor_of(c.last_activity_at, c.id.as_str()))
    } else {
        None
    };
    Ok(Page { items, next_cursor })
}

/// Public conversations whose name starts with `prefix` (case-insensitively), by name.
pub async fn public(
    ctx: &Ctx,
    prefix: &str,
    cursor: Option<&str>,
    limit: usize,
) -> Result<Page<ConversationView>, ApiError> {
    if prefix.chars().count() > chat::CONVERSATION_NAME_MAX {
        return Err(ApiError::invalid("prefix is too long"));
    }
    let prefix = prefix.trim().to_lowercase();
    let after = cursor.map(crate::paging::sort_key_cursor).transpose()?;
    let page = ctx.store.list_public(&prefix, after.as_deref(), limit).await?;
    Ok(Page {
        items: page.items.iter().map(|c| c.view(None)).collect(),
        next_cursor: page.next_cursor.as_deref().map(crate::paging::sort_key_cursor_of),
    })
}

pub async fn get(ctx: &Ctx, caller: &str, id: &ConversationId) -> Result<ConversationView, ApiError> {
    let (conversation, state) = membership(ctx, caller, id).await?;
    let view = with_members(ctx, &conversation).await?;
    Ok(ConversationView { notifications: Some(state.notifications), ..view })
}

/// The members with their roles, in name order, paginated.
pub async fn members(
    ctx: &Ctx,
    caller: &str,
    id: &ConversationId,
    cursor: Option<&str>,
    limit: usize,
) -> Result<Page<MemberView>, ApiError> {
    let conversation = member_view(ctx, caller, id).await?;
    let after = cursor.map(crate::paging::username_cursor).transpose()?;
    let page = ctx.store.list_members(id, after.as_deref(), limit).await?;
    Ok(Page { items: page.items.iter().map(|m| conversation.member_view(m)).collect(), next_cursor: page.next_cursor })
}

/// Any member renames or changes the icon.
pub async fn update(
    ctx: &With<impl Pushes + HoldsFiles>,
    caller: &str,
    id: &ConversationId,
    req: UpdateConversation,
) -> Result<ConversationView, ApiError> {
    let name = req.name.as_deref().map(chat::validate_name).transpose()?;
    member_view(ctx, caller, id).await?;
    if let Some(Some(file_id)) = &req.icon_file_id {
        crate::files::usable(ctx, caller, file_id, crate::files::Purpose::Icon, None).await?;
    }
    let icon = req.icon_file_id.as_ref().map(Option::as_ref);
    let updated = ctx.store.update_conversation(id, name.as_deref(), icon, ctx.now_ms()).await?;
    let view = with_members(ctx, &updated).await?;
    push_to_conversation(ctx, id, None, None, "conversation_updated", &view).await;
    Ok(view)
}

/// Any member adds others; those already in are skipped.
pub async fn add_members(
    ctx: &With<impl Pushes>,
    caller: &str,
    id: &ConversationId,
    req: AddMembers,
) -> Result<ConversationView, ApiError> {
    let conversation = member_view(ctx, caller, id).await?;
    if conversation.kind == Kind::Direct {
        return Err(ApiError::invalid("a direct conversation cannot take more members; create a group"));
    }
    let mut new = parse_usernames(&req.usernames)?;
    too_many_per_request(new.len())?;
    let already = ctx.store.members_among(id, &new).await?;
    new.retain(|u| !already.contains(u));
    if conversation.member_count + new.len() as i64 > chat::MEMBERS_MAX as i64 {
        return Err(StoreError::Conflict(Conflict::Full { max: chat::MEMBERS_MAX }).into());
    }
    if new.is_empty() {
        return with_members(ctx, &conversation).await;
    }
    require_users(ctx, caller, &new).await?;
    let now = ctx.now_ms();
    let members: Vec<Member> =
        new.iter().map(|u| Member { username: u.clone(), joined_at: now, added_by: Some(caller.to_owned()) }).collect();
    let preview = chat::preview(&conversation.member_preview, &new, None, &[]);
    let sockets = Sockets::for_joining(&conversation, new.len());
    let added = ctx.store.add_members(id, Some(caller), &members, sockets, &preview, now).await;
    let updated = added.map_err(|e| match e {
        StoreError::Conflict(Conflict::AlreadyMember) => ApiError::Unavailable { retry_after_secs: 1 },
        other => other.into(),
    })?;
    register_sockets(ctx, id, &new, sockets).await;
    let view = with_members(ctx, &updated).await?;
    push_to_conversation(ctx, id, None, None, "member_joined", &view).await;
    Ok(view)
}

/// Anyone joins a public conversation; a private one is 404.
pub async fn join(ctx: &With<impl Pushes>, caller: &str, id: &ConversationId) -> Result<ConversationView, ApiError> {
    if let Some((conversation, _)) = ctx.store.member_conversation(id, caller).await? {
        return with_members(ctx, &conversation).await;
    }
    let conversation = match ctx.store.get_conversation(id).await? {
        Some(c) if c.visibility == Visibility::Public => c,
        _ => return Err(ApiError::NotFound("conversation not found")),
    };
    if conversation.member_count >= chat::MEMBERS_MAX as i64 {
        return Err(StoreError::Conflict(Conflict::Full { max: chat::MEMBERS_MAX }).into());
    }
    let now = ctx.now_ms();
    let me = [Member { username: caller.to_owned(), joined_at: now, added_by: Some(caller.to_owned()) }];
    let preview = chat::preview(&conversation.member_preview, &[caller.to_owned()], None, &[]);
    let sockets = Sockets::for_joining(&conversation, 1);
    let updated = match ctx.store.add_members(id, None, &me, sockets, &preview, now).await {
        Ok(updated) => updated,
        // Joined twice at once: the other join did it.
        Err(StoreError::Conflict(Conflict::AlreadyMember)) => return get(ctx, caller, id).await,
        Err(e) => return Err(e.into()),
    };
    register_sockets(ctx, id, &[caller.to_owned()], sockets).await;
    let view = with_members(ctx, &updated).await?;
    push_to_conversation(ctx, id, None, None, "member_joined", &view).await;
    Ok(view)
}

#[derive(Debug, Clone, Serialize)]
pub struct MemberLeft {
    pub conversation_id: ConversationId,
    pub username: String,
    pub owner: String,
}

/// `target` = `me` or oneself: leave. Anyone else: the owner of a group removes them (403
/// otherwise; nobody removes the other member of a direct conversation). When the owner leaves,
/// the longest-standing member becomes owner.
pub async fn remove_member(
    ctx: &With<impl Pushes>,
    caller: &str,
    id: &ConversationId,
    target: &str,
) -> Result<(), ApiError> {
    let conversation = member_view(ctx, caller, id).await?;
    let target = if target == "me" {
        caller.to_owned()
    } else {
        Username::parse(target).map_err(|_| ApiError::NotFound("member not found"))?.into_string()
    };
    if target != caller && (conversation.owner != caller || conversation.kind == Kind::Direct) {
        return Err(ApiError::forbidden("only the owner of a group removes other members"));
    }
    if target != caller && ctx.store.read_state(&target, id).await?.is_none() {
        return Err(ApiError::NotFound("member not found"));
    }
    let new_owner = if conversation.owner == target { ctx.store.longest_standing(id, &target).await? } else { None };
    let more = if conversation.member_preview.contains(&target) {
        let page = ctx.store.list_members(id, None, chat::PREVIEW_MAX + 1).await?;
        page.items.into_iter().map(|m| m.username).collect()
    } else {
        Vec::new()
    };
    let preview = chat::preview(&conversation.member_preview, &[], Some(&target), &more);
    ctx.store.remove_member(&conversation, &target, new_owner.as_deref(), &preview).await?;
    let event = MemberLeft {
        conversation_id: conversation.id.clone(),
        username: target.clone(),
        owner: new_owner.unwrap_or_else(|| conversation.owner.clone()),
    };
    // The one who left hears it directly; then their sockets stop hearing the conversation.
    push_to_users(ctx, std::slice::from_ref(&target), None, "member_left", &event).await;
    // Their sockets' records go; a roster lost the name in the leave's own write. Only a direct
    // conversation on profiles has all its members on the roster (a group's may be recorded
    // beside it).
    let all_on_roster = conversation.kind == Kind::Direct && conversation.sockets == Sockets::OnProfiles;
    if !all_on_roster {
        if let Err(e) = ctx.store.unregister_connections(id, &target, None, ctx.now_ms()).await {
            tracing::warn!(error = %crate::error::Chain(&e), conversation_id = %id, "could not forget a leaving member's sockets");
        }
    }
    push_to_conversation(ctx, id, None, Some(&target), "member_left", &event).await;
    Ok(())
}
