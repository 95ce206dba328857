//! Conversations: create (direct ones deduplicated), list by activity with unread counts, the
//! public directory, info, rename, members joining and leaving.

use serde::{Deserialize, Serialize};

use crate::chat::{self, Conversation, ConversationView, Kind, Message, ReadState, Visibility};
use crate::error::{ApiError, Conflict, StoreError};
use crate::model::{Page, Username};
use crate::notify::push_to_members;
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
    pub icon_file_id: Option<Option<String>>,
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
pub async fn member_view(ctx: &Ctx, caller: &str, id: &str) -> Result<Conversation, ApiError> {
    match ctx.store.get_conversation(id).await? {
        Some(c) if c.is_member(caller) => Ok(c),
        _ => Err(ApiError::NotFound("conversation not found")),
    }
}

fn parse_usernames(raw: &[String]) -> Result<Vec<String>, ApiError> {
    let mut names: Vec<String> = raw
        .iter()
        .map(|u| Username::parse(u).map(Username::into_string).map_err(|_| ApiError::NotFound("user not found")))
        .collect::<Result<_, _>>()?;
    names.sort();
    names.dedup();
    Ok(names)
}

async fn require_users(ctx: &Ctx, names: &[String]) -> Result<(), ApiError> {
    if names.is_empty() {
        return Ok(());
    }
    let found = ctx.store.get_users(names).await?;
    if found.len() != names.len() {
        return Err(ApiError::NotFound("user not found"));
    }
    Ok(())
}

/// Creates a conversation; returns it and whether it is new (a direct conversation that exists
/// already comes back as it is).
pub async fn create(
    ctx: &Ctx,
    caller: &str,
    req: CreateConversation,
    origin: Option<&str>,
) -> Result<(ConversationView, bool), ApiError> {
    let mut others = parse_usernames(&req.members)?;
    others.retain(|u| u != caller);
    if others.len() > chat::MEMBERS_PER_REQUEST_MAX {
        return Err(ApiError::invalid(format!("at most {} members at creation", chat::MEMBERS_PER_REQUEST_MAX)));
    }
    let name = req.name.as_deref().map(chat::validate_name).transpose()?;
    let visibility = req.visibility.unwrap_or_default();
    let direct = others.len() == 1 && name.is_none();
    if direct && visibility == Visibility::Public {
        return Err(ApiError::invalid("a direct conversation cannot be public; give it a name to make a group"));
    }
    if visibility == Visibility::Public && name.is_none() {
        return Err(ApiError::invalid("a public conversation needs a name"));
    }
    require_users(ctx, &others).await?;

    let direct_key = direct.then(|| {
        let mut pair = [caller.to_owned(), others[0].clone()];
        pair.sort();
        format!("{}#{}", pair[0], pair[1])
    });
    if let Some(key) = &direct_key {
        if let Some(existing) = existing_direct(ctx, key).await? {
            return Ok((existing.view(true), false));
        }
    }
    let now = ctx.now_ms();
    let mut members: std::collections::BTreeMap<String, i64> = others.into_iter().map(|u| (u, now)).collect();
    members.insert(caller.to_owned(), now - 1);
    let conversation = Conversation {
        id: ulid::Ulid::new().to_string(),
        name,
        kind: if direct { Kind::Direct } else { Kind::Group },
        visibility,
        owner: caller.to_owned(),
        members,
        icon_file_id: None,
        created_at: now,
        created_by: caller.to_owned(),
        last_message_id: 0,
        last_activity_at: now,
    };
    match ctx.store.create_conversation(&conversation, direct_key.as_deref()).await {
        Ok(()) => {}
        Err(StoreError::Conflict(Conflict::DirectExists)) => {
            // Someone created the pair's conversation meanwhile: that one it is.
            let key = direct_key.unwrap_or_default();
            let existing = existing_direct(ctx, &key).await?.ok_or(ApiError::Unavailable { retry_after_secs: 1 })?;
            return Ok((existing.view(true), false));
        }
        Err(e) => return Err(e.into()),
    }
    let view = conversation.view(true);
    push_to_members(ctx, &conversation, origin, "conversation_created", &view).await;
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
    let memberships: std::collections::HashMap<String, ReadState> =
        ctx.store.memberships(caller).await?.into_iter().collect();
    let ids: Vec<String> = memberships.keys().cloned().collect();
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
    let after = cursor
        .map(|c| {
            let raw = crate::http::decode_cursor_raw(c)?;
            let (at, id) = raw.split_once(':').ok_or_else(|| ApiError::invalid("cursor is not valid"))?;
            let at: i64 = at.parse().map_err(|_| ApiError::invalid("cursor is not valid"))?;
            Ok::<_, ApiError>((at, id.to_owned()))
        })
        .transpose()?;
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
    let last_keys: Vec<(String, i64)> =
        page.iter().filter(|(c, _)| c.last_message_id > 0).map(|(c, _)| (c.id.clone(), c.last_message_id)).collect();
    let last_messages = ctx.store.get_messages(&last_keys).await?;
    let items = page
        .iter()
        .map(|(c, state)| ConversationSummary {
            conversation: c.view(false),
            unread_count: state.unread_count(c.last_message_id),
            last_message: last_messages
                .iter()
                .find(|m| m.conversation_id == c.id && m.id == c.last_message_id)
                .cloned(),
        })
        .collect();
    let next_cursor = if more {
        page.last().map(|(c, _)| crate::http::encode_cursor(&format!("{}:{}", c.last_activity_at, c.id)))
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
    let prefix = prefix.trim().to_lowercase();
    if prefix.chars().count() > chat::CONVERSATION_NAME_MAX {
        return Err(ApiError::invalid("prefix is too long"));
    }
    let after = cursor.map(crate::http::decode_cursor_raw).transpose()?;
    let page = ctx.store.list_public(&prefix, after.as_deref(), limit).await?;
    Ok(Page {
        items: page.items.iter().map(|c| c.view(false)).collect(),
        next_cursor: page.next_cursor.as_deref().map(crate::http::encode_cursor),
    })
}

pub async fn get(ctx: &Ctx, caller: &str, id: &str) -> Result<ConversationView, ApiError> {
    Ok(member_view(ctx, caller, id).await?.view(true))
}

/// Any member renames or changes the icon.
pub async fn update(ctx: &Ctx, caller: &str, id: &str, req: UpdateConversation) -> Result<ConversationView, ApiError> {
    let name = req.name.as_deref().map(chat::validate_name).transpose()?;
    if let Some(Some(file_id)) = &req.icon_file_id {
        crate::conversations::member_view(ctx, caller, id).await?;
        crate::files::usable(ctx, caller, file_id, crate::files::Purpose::Icon, None).await?;
    }
    let icon = req.icon_file_id.as_ref().map(|i| i.as_deref());
    let updated = ctx
        .store
        .update_conversation(id, caller, name.as_deref(), icon, ctx.now_ms())
        .await
        .map_err(not_found_if_not_member)?;
    let view = updated.view(true);
    push_to_members(ctx, &updated, None, "conversation_updated", &view).await;
    Ok(view)
}

fn not_found_if_not_member(e: StoreError) -> ApiError {
    match e {
        StoreError::Conflict(Conflict::NotMember) => ApiError::NotFound("conversation not found"),
        other => other.into(),
    }
}

/// Any member adds others; those already in are skipped.
pub async fn add_members(ctx: &Ctx, caller: &str, id: &str, req: AddMembers) -> Result<ConversationView, ApiError> {
    let conversation = member_view(ctx, caller, id).await?;
    if conversation.kind == Kind::Direct {
        return Err(ApiError::invalid("a direct conversation cannot take more members; create a group"));
    }
    let mut new = parse_usernames(&req.usernames)?;
    new.retain(|u| !conversation.is_member(u));
    if new.len() > chat::MEMBERS_PER_REQUEST_MAX {
        return Err(ApiError::invalid(format!("at most {} members per request", chat::MEMBERS_PER_REQUEST_MAX)));
    }
    if conversation.members.len() + new.len() > chat::MEMBERS_MAX {
        return Err(ApiError::invalid(format!("a conversation holds at most {} members", chat::MEMBERS_MAX)));
    }
    if new.is_empty() {
        return Ok(conversation.view(true));
    }
    require_users(ctx, &new).await?;
    let updated = ctx.store.add_members(id, Some(caller), &new, ctx.now_ms()).await.map_err(|e| match e {
        StoreError::Conflict(Conflict::AlreadyMember) => ApiError::Unavailable { retry_after_secs: 1 },
        other => not_found_if_not_member(other),
    })?;
    let view = updated.view(true);
    push_to_members(ctx, &updated, None, "member_joined", &view).await;
    Ok(view)
}

/// Anyone joins a public conversation; a private one is 404.
pub async fn join(ctx: &Ctx, caller: &str, id: &str) -> Result<ConversationView, ApiError> {
    let conversation = match ctx.store.get_conversation(id).await? {
        Some(c) if c.visibility == Visibility::Public || c.is_member(caller) => c,
        _ => return Err(ApiError::NotFound("conversation not found")),
    };
    if conversation.is_member(caller) {
        return Ok(conversation.view(true));
    }
    if conversation.members.len() >= chat::MEMBERS_MAX {
        return Err(ApiError::invalid(format!("a conversation holds at most {} members", chat::MEMBERS_MAX)));
    }
    let updated = match ctx.store.add_members(id, None, &[caller.to_owned()], ctx.now_ms()).await {
        Ok(updated) => updated,
        // Joined twice at once: the other join did it.
        Err(StoreError::Conflict(Conflict::AlreadyMember)) => member_view(ctx, caller, id).await?,
        Err(e) => return Err(not_found_if_not_member(e)),
    };
    let view = updated.view(true);
    push_to_members(ctx, &updated, None, "member_joined", &view).await;
    Ok(view)
}

#[derive(Debug, Clone, Serialize)]
pub struct MemberLeft {
    pub conversation_id: String,
    pub username: String,
    pub owner: String,
}

/// `target` = `me` or oneself: leave. Anyone else: the owner removes them (403 otherwise). When the
/// owner leaves, the longest-standing member becomes owner.
pub async fn remove_member(ctx: &Ctx, caller: &str, id: &str, target: &str) -> Result<(), ApiError> {
    let conversation = member_view(ctx, caller, id).await?;
    let target = if target == "me" {
        caller.to_owned()
    } else {
        Username::parse(target).map_err(|_| ApiError::NotFound("member not found"))?.into_string()
    };
    if target != caller && conversation.owner != caller {
        return Err(ApiError::Forbidden("only the owner removes other members"));
    }
    if !conversation.is_member(&target) {
        return Err(ApiError::NotFound("member not found"));
    }
    let new_owner = if conversation.owner == target { conversation.longest_standing_except(&target) } else { None };
    ctx.store.remove_member(&conversation, &target, new_owner.as_deref()).await?;
    let event = MemberLeft {
        conversation_id: conversation.id.clone(),
        username: target.clone(),
        owner: new_owner.unwrap_or_else(|| conversation.owner.clone()),
    };
    push_to_members(ctx, &conversation, None, "member_left", &event).await;
    Ok(())
}
