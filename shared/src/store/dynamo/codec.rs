//! Items: keys, and every item's encoding and decoding, in one place.

use super::*;

pub(super) const META: &str = "META";
/// The push turn's item under a conversation: who pushes, until when, and how far.
/// Where the message range of a conversation ends (above every `MSG#` key).
pub(super) const MSG_END: &str = "MSG$";

pub(super) fn conv_pk(id: &ConversationId) -> String {
    format!("CONV#{id}")
}

pub(super) fn msg_sk(id: MessageId) -> String {
    format!("MSG#{:020}", id.get().max(0))
}

pub(super) fn member_sk(conversation_id: &ConversationId) -> String {
    format!("MEMBER#{conversation_id}")
}

/// Members under their conversation: `MEMBER#<username>`.
pub(super) const MEMBER_OF: &str = "MEMBER#";

pub(super) fn member_of_sk(username: &str) -> String {
    format!("{MEMBER_OF}{username}")
}

pub(super) fn members_gsi_pk(conversation_id: &ConversationId) -> String {
    format!("MEMBERS#{conversation_id}")
}

/// Connections recorded under a conversation: `CONN#<connection id>`.
pub(super) const CONNECTION_OF: &str = "CONN#";

pub(super) fn names(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

pub(super) fn conversation_item(c: &Conversation) -> Item {
    let mut item = key(conv_pk(&c.id), META);
    item.insert("id".into(), s(c.id.as_str()));
    if let Some(name) = &c.name {
        item.insert("name".into(), s(name));
    }
    item.insert("kind".into(), s(c.kind.as_str()));
    item.insert("visibility".into(), s(c.visibility.as_str()));
    item.insert("owner".into(), s(&c.owner));
    item.insert("member_count".into(), n(c.member_count));
    item.insert("member_preview".into(), AV::L(c.member_preview.iter().map(|m| s(m)).collect()));
    if let Some(icon) = &c.icon_file_id {
        item.insert("icon_file_id".into(), s(icon.as_str()));
    }
    item.insert("created_at".into(), n(c.created_at));
    item.insert("created_by".into(), s(&c.created_by));
    item.insert("last_message_id".into(), n(c.last_message_id.get()));
    item.insert("last_activity_at".into(), n(c.last_activity_at));
    if c.sockets == Sockets::OnProfiles {
        item.insert("sockets".into(), s(ON_PROFILES));
    }
    if c.feed.pulled {
        item.insert("pulled".into(), AV::Bool(true));
    }
    if c.visibility == Visibility::Public {
        item.insert("gsi1pk".into(), s("PUBLIC"));
        item.insert("gsi1sk".into(), s(&c.public_sort_key()));
    }
    item
}

pub(super) fn parse_conversation(item: &Item) -> Result<Conversation, StoreError> {
    let member_preview = match item.get("member_preview") {
        Some(AV::L(list)) => list.iter().filter_map(|v| v.as_s().ok().cloned()).collect(),
        _ => Vec::new(),
    };
    Ok(Conversation {
        id: req_s(item, "id")?.into(),
        name: opt_s(item, "name"),
        kind: if req_s(item, "kind")? == "direct" { Kind::Direct } else { Kind::Group },
        visibility: if req_s(item, "visibility")? == "public" { Visibility::Public } else { Visibility::Private },
        owner: req_s(item, "owner")?,
        member_count: opt_n(item, "member_count")?.unwrap_or(0),
        member_preview,
        icon_file_id: opt_s(item, "icon_file_id").map(FileId::from),
        created_at: req_n(item, "created_at")?,
        created_by: req_s(item, "created_by")?,
        last_message_id: MessageId::new(req_n(item, "last_message_id")?),
        last_activity_at: req_n(item, "last_activity_at")?,
        sockets: on_profiles(item),
        feed: crate::sync::feed::ConversationFeed {
            pulled: matches!(item.get("pulled"), Some(AV::Bool(true))),
            log_seq: opt_n(item, "log_seq")?.unwrap_or(0),
        },
    })
}

/// `sockets` on a conversation and on its memberships: the conversation's live sockets are found
/// through its members' profiles (none recorded under it). Absent: recorded (every conversation
/// created before direct ones moved to profiles stays recorded).
pub(super) const ON_PROFILES: &str = "profiles";

pub(super) fn on_profiles(item: &Item) -> Sockets {
    match item.get("sockets") {
        Some(AV::S(how)) if how == ON_PROFILES => Sockets::OnProfiles,
        _ => Sockets::Recorded,
    }
}

/// The members of a conversation whose sockets are found through their profiles, under the
/// conversation beside the socket records (so the one Query that reads those finds it too).
pub(super) const ROSTER: &str = "CONN#~ROSTER";

/// A member under its conversation, also indexed by join time (who has been in longest).
pub(super) fn member_item(conversation_id: &ConversationId, member: &Member) -> Item {
    let mut item = key(conv_pk(conversation_id), &member_of_sk(&member.username));
    item.insert("username".into(), s(&member.username));
    item.insert("joined_at".into(), n(member.joined_at));
    item.insert("gsi1pk".into(), AV::S(members_gsi_pk(conversation_id)));
    item.insert("gsi1sk".into(), AV::S(format!("{:015}#{}", member.joined_at.max(0), member.username)));
    if let Some(by) = &member.added_by {
        item.insert("added_by".into(), s(by));
    }
    item
}

pub(super) fn parse_member(item: &Item) -> Result<Member, StoreError> {
    Ok(Member {
        username: req_s(item, "username")?,
        joined_at: req_n(item, "joined_at")?,
        added_by: opt_s(item, "added_by"),
    })
}

/// A member under the user: my conversations and my read state there, and whether `$connect`
/// records my sockets under the conversation.
pub(super) fn membership_item(
    username: &str,
    conversation_id: &ConversationId,
    joined_at: i64,
    sockets: Sockets,
) -> Item {
    let mut item = key(user_pk(username), &member_sk(conversation_id));
    if sockets == Sockets::OnProfiles {
        item.insert("sockets".into(), s(ON_PROFILES));
    }
    item.insert("conversation_id".into(), s(conversation_id.as_str()));
    item.insert("joined_at".into(), n(joined_at));
    item.insert("last_read".into(), n(0));
    item.insert("own_after_read".into(), n(0));
    item
}

pub(super) fn parse_read_state(item: &Item) -> Result<ReadState, StoreError> {
    Ok(ReadState {
        last_read: MessageId::new(opt_n(item, "last_read")?.unwrap_or(0)),
        own_after_read: opt_n(item, "own_after_read")?.unwrap_or(0),
        notifications: parse_settings(item)?,
        active_at: opt_n(item, "active_at")?,
        blocked: item.contains_key(BLOCKED),
    })
}

/// On a member's side of a direct conversation (`USER#<u>` / `MEMBER#<c>`): the other member
/// blocks them. The send's membership check refuses it, at no cost of its own.
pub(super) const BLOCKED: &str = "blocked";

/// A member's notification settings, on the membership (`level`, `muted_until`; absent: the
/// defaults).
pub(super) fn parse_settings(item: &Item) -> Result<Settings, StoreError> {
    let level = match opt_s(item, "level") {
        Some(level) => Level::parse(&level).ok_or_else(|| StoreError::internal(format!("unknown level {level}")))?,
        None => Level::Default,
    };
    Ok(Settings { level, muted_until: opt_n(item, "muted_until")? })
}

/// A member's settings under the conversation, where its notifications find who chose what:
/// `CONV#<id>` / `NOTIFY#<username>`, only while they differ from the defaults.
pub(super) const SETTING_OF: &str = "NOTIFY#";

pub(super) fn setting_item(conversation_id: &ConversationId, username: &str, settings: &Settings) -> Item {
    let mut item = key(conv_pk(conversation_id), &format!("{SETTING_OF}{username}"));
    item.insert("username".into(), s(username));
    item.insert("level".into(), s(settings.level.as_str()));
    if let Some(until) = settings.muted_until {
        item.insert("muted_until".into(), n(until));
    }
    item
}

/// How far a conversation's notifications are done: `CONV#<id>` / `NOTIFIED`, `notified_id`.
pub(super) const NOTIFIED: &str = "NOTIFIED";

/// A membership's `badge_due`: set where its member's badge changes (a read, a settings change),
/// removed by the member's own sends, so the stream filter passes exactly the changes that call
/// for a silent badge update.
pub(super) const BADGE_DUE: &str = "badge_due";

/// Beside `badge_due`, what changed it (`read` or `settings`): which change the sync feed records.
pub(super) const BADGE_CAUSE: &str = "badge_cause";
pub(super) const BADGE_CAUSE_READ: &str = "read";
pub(super) const BADGE_CAUSE_SETTINGS: &str = "settings";

/// `CONV#<id>` / `CHANGED`: written with a rename, an icon change or an owner change (in the same
/// transaction), so the table's stream says the conversation itself changed; expires after a day.
pub(super) const CHANGED: &str = "CHANGED";

pub(super) fn device_sk(device_id: &DeviceId) -> String {
    format!("DEVICE#{device_id}")
}

/// The claim on a push token: which device holds it (one at a time).
pub(super) fn token_pk(token: &str) -> String {
    format!("PUSHTOKEN#{}", crate::auth::sha256_hex(token))
}

pub(super) const TOKEN: &str = "TOKEN";

pub(super) fn token_item(device: &Device) -> Item {
    let mut item = key(token_pk(&device.token), TOKEN);
    item.insert("username".into(), s(&device.username));
    item.insert("device_id".into(), s(device.device_id.as_str()));
    item.insert("ttl".into(), n(device.expires_at / 1000));
    item
}

/// A device under its user; it expires with the session that registered it.
pub(super) fn device_item(d: &Device) -> Item {
    let mut item = key(user_pk(&d.username), &device_sk(&d.device_id));
    item.insert("username".into(), s(&d.username));
    item.insert("device_id".into(), s(d.device_id.as_str()));
    item.insert("session".into(), s(&d.session));
    item.insert("platform".into(), s(d.platform.as_str()));
    item.insert("token".into(), s(&d.token));
    if let Some(v) = &d.app_version {
        item.insert("app_version".into(), s(v));
    }
    if let Some(v) = &d.locale {
        item.insert("locale".into(), s(v));
    }
    item.insert("enabled".into(), AV::Bool(d.enabled));
    item.insert("created_at".into(), n(d.created_at));
    item.insert("updated_at".into(), n(d.updated_at));
    item.insert("expires_at".into(), n(d.expires_at));
    if let Some(endpoint) = &d.endpoint {
        item.insert("endpoint".into(), s(endpoint));
    }
    item.insert("ttl".into(), n(d.expires_at / 1000));
    item
}

pub(super) fn parse_device(item: &Item) -> Result<Device, StoreError> {
    let platform = req_s(item, "platform")?;
    Ok(Device {
        username: req_s(item, "username")?,
        device_id: DeviceId::from_trusted(req_s(item, "device_id")?),
        session: req_s(item, "session")?,
        platform: Platform::parse(&platform)
            .ok_or_else(|| StoreError::internal(format!("unknown platform {platform}")))?,
        token: req_s(item, "token")?,
        app_version: opt_s(item, "app_version"),
        locale: opt_s(item, "locale"),
        enabled: !matches!(item.get("enabled"), Some(AV::Bool(false))),
        created_at: req_n(item, "created_at")?,
        updated_at: req_n(item, "updated_at")?,
        expires_at: req_n(item, "expires_at")?,
        endpoint: opt_s(item, "endpoint"),
    })
}

pub(super) fn message_item(m: &Message) -> Item {
    let mut item = key(conv_pk(&m.conversation_id), &msg_sk(m.id));
    item.insert("id".into(), n(m.id.get()));
    item.insert("conversation_id".into(), s(m.conversation_id.as_str()));
    item.insert("sender".into(), s(&m.sender_username));
    item.insert("content".into(), s(&m.content));
    if let Some(reply) = m.reply_id {
        item.insert("reply_id".into(), n(reply.get()));
        // Its parent's thread, oldest first, in the index (GET …/replies).
        item.insert("gsi1pk".into(), AV::S(replies_pk(&m.conversation_id, reply)));
        item.insert("gsi1sk".into(), s(&msg_sk(m.id)));
    }
    if m.reply_count > 0 {
        item.insert(REPLY_COUNT.into(), n(m.reply_count));
    }
    if let Some(client_id) = &m.client_id {
        item.insert("client_id".into(), s(client_id));
    }
    let attachments = m
        .attachments
        .iter()
        .map(|a| {
            let mut map = HashMap::from([
                ("file_id".to_owned(), s(a.file_id.as_str())),
                ("content_type".to_owned(), s(&a.content_type)),
                ("size".to_owned(), n(a.size)),
            ]);
            if let Some(name) = &a.name {
                map.insert("name".into(), s(name));
            }
            AV::M(map)
        })
        .collect();
    item.insert("attachments".into(), AV::L(attachments));
    if !m.mentions.is_empty() {
        item.insert("mentions".into(), AV::L(m.mentions.iter().map(|name| s(name)).collect()));
    }
    item.insert("sent_at".into(), n(m.sent_at));
    if let Some(at) = m.edited_at {
        item.insert("edited_at".into(), n(at));
    }
    item.insert("deleted".into(), AV::Bool(m.deleted));
    if let Some(origin) = &m.origin {
        item.insert("origin".into(), s(origin.as_str()));
    }
    item
}

/// `None` for a void id.
/// A message's count of direct replies: written by each reply's own transaction, never by an
/// edit (which sets every other attribute).
pub(super) const REPLY_COUNT: &str = "reply_count";

/// Set on a message by an edit or a delete (when it happened): the stream filter passes a
/// message's MODIFY only with it, so a reply counted on its parent (which removes it) calls for no
/// `message_edited`.
pub(super) const MESSAGE_CHANGED: &str = "changed_at";
/// What a reaction or pin write changed, on the message it marks `changed_at` (the stream's
/// record says so: [`super::stream::change_of`]); an edit or a delete removes them.
pub(super) const CHANGE_KIND: &str = "change_kind";
pub(super) const CHANGE_BY: &str = "change_by";
pub(super) const CHANGE_REACTION: &str = "change_reaction";
pub(super) const CHANGE_KIND_REACTION: &str = "reaction";
pub(super) const CHANGE_KIND_PIN: &str = "pin";
/// A reaction's count on its message: `rx:<reaction>` (absent at 0); some of its users (a string
/// set of at most about [`crate::chat::REACTION_USERS_SHOWN`]): `ru:<reaction>`; the number of
/// distinct reactions: `rx_n`.
pub(super) const REACTION_COUNT: &str = "rx:";
pub(super) const REACTION_USERS: &str = "ru:";
pub(super) const REACTIONS_DISTINCT: &str = "rx_n";
pub(super) const PINNED: &str = "pinned";

/// A member's own reactions on a message: `CONV#<id>` / `RXU#<username>#<20-digit id>`, a string
/// set `reactions`.
pub(super) fn own_reactions_sk(username: &str, id: MessageId) -> String {
    format!("RXU#{username}#{:020}", id.get())
}

/// A pinned message: `CONV#<id>` / `PIN#<20-digit id>`; the conversation's pin count: `PINS`.
pub(super) fn pin_sk(id: MessageId) -> String {
    format!("PIN#{:020}", id.get())
}
pub(super) const PIN_COUNT: &str = "PINS";

/// A message's reactions as stored: most used first, each with up to
/// [`crate::chat::REACTION_USERS_SHOWN`] users by name.
pub(super) fn parse_reactions(item: &Item) -> Result<Vec<crate::chat::Reaction>, StoreError> {
    let mut reactions = Vec::new();
    for (name, value) in item {
        let Some(reaction) = name.strip_prefix(REACTION_COUNT) else { continue };
        let count: i64 =
            value.as_n().ok().and_then(|n| n.parse().ok()).ok_or_else(|| StoreError::internal("reaction count"))?;
        if count <= 0 {
            continue;
        }
        let mut users: Vec<String> = match item.get(&format!("{REACTION_USERS}{reaction}")) {
            Some(AV::Ss(users)) => users.clone(),
            _ => Vec::new(),
        };
        users.sort();
        users.truncate(crate::chat::REACTION_USERS_SHOWN);
        reactions.push(crate::chat::Reaction { reaction: reaction.to_owned(), count, users });
    }
    crate::chat::sort_reactions(&mut reactions);
    Ok(reactions)
}

/// The index partition of one message's replies.
pub(super) fn replies_pk(conversation_id: &ConversationId, parent: MessageId) -> String {
    format!("REPLIES#{conversation_id}#{:020}", parent.get())
}

pub(super) fn parse_message(item: &Item) -> Result<Option<Message>, StoreError> {
    if matches!(item.get("is_void"), Some(AV::Bool(true))) {
        return Ok(None);
    }
    let attachments = match item.get("attachments") {
        Some(AV::L(list)) => list
            .iter()
            .map(|a| match a {
                AV::M(m) => Ok(Attachment {
                    file_id: req_s(m, "file_id")?.into(),
                    content_type: req_s(m, "content_type")?,
                    size: req_n(m, "size")?,
                    name: opt_s(m, "name"),
                }),
                _ => Err(StoreError::internal("attachment is not a map")),
            })
            .collect::<Result<_, _>>()?,
        _ => Vec::new(),
    };
    // A tombstone shows no reactions and no pin (a reaction racing the delete may have left one).
    let deleted = matches!(item.get("deleted"), Some(AV::Bool(true)));
    let reactions = if deleted { Vec::new() } else { parse_reactions(item)? };
    Ok(Some(Message {
        id: MessageId::new(req_n(item, "id")?),
        conversation_id: req_s(item, "conversation_id")?.into(),
        sender_username: req_s(item, "sender")?,
        content: req_s(item, "content")?,
        reply_id: opt_n(item, "reply_id")?.map(MessageId::new),
        reply_count: opt_n(item, REPLY_COUNT)?.unwrap_or(0),
        client_id: opt_s(item, "client_id"),
        attachments,
        mentions: match item.get("mentions") {
            Some(AV::L(list)) => list.iter().filter_map(|v| v.as_s().ok().cloned()).collect(),
            _ => Vec::new(),
        },
        sent_at: req_n(item, "sent_at")?,
        edited_at: opt_n(item, "edited_at")?,
        deleted,
        reactions,
        pinned: !deleted && matches!(item.get(PINNED), Some(AV::Bool(true))),
        my_reactions: None,
        origin: opt_s(item, "origin").map(ConnectionId::from),
    }))
}

pub(super) fn parse_connections(item: &Item) -> Result<std::collections::BTreeMap<ConnectionId, i64>, StoreError> {
    Ok(parse_sockets(item)?.into_iter().map(|s| (s.connection, s.expires_at)).collect())
}

/// A socket as the profile records it.
pub(super) struct ProfileSocket {
    pub(super) connection: ConnectionId,
    pub(super) expires_at: i64,
    pub(super) session: Option<String>,
    pub(super) batch: bool,
}

/// The profile's sockets. A socket is
/// `{expires_at, sid, batch}`, or its expiry alone when it was recorded before sockets knew their
/// session.
pub(super) fn parse_sockets(item: &Item) -> Result<Vec<ProfileSocket>, StoreError> {
    let bad = || StoreError::internal("connection record");
    let number = |v: &AV| match v {
        AV::N(v) => v.parse::<i64>().map_err(|_| bad()),
        _ => Err(bad()),
    };
    match item.get("connections") {
        Some(AV::M(m)) => m
            .iter()
            .map(|(id, socket)| match socket {
                AV::M(fields) => {
                    let expires = fields.get("expires_at").ok_or_else(bad).and_then(number)?;
                    let batch = matches!(fields.get("batch"), Some(AV::Bool(true)));
                    Ok(ProfileSocket {
                        connection: ConnectionId::new(id.as_str()),
                        expires_at: expires,
                        session: opt_s(fields, "sid"),
                        batch,
                    })
                }
                other => Ok(ProfileSocket {
                    connection: ConnectionId::new(id.as_str()),
                    expires_at: number(other)?,
                    session: None,
                    batch: false,
                }),
            })
            .collect(),
        _ => Ok(Vec::new()),
    }
}

/// A connection recorded under a conversation (TTL'd like the connection itself).
pub(super) fn connection_item(
    conversation_id: &ConversationId,
    username: &str,
    connection_id: &ConnectionId,
    expires_at: i64,
    batch: bool,
) -> Item {
    let mut item = key(conv_pk(conversation_id), &format!("{CONNECTION_OF}{connection_id}"));
    item.insert("username".into(), s(username));
    item.insert("expires_at".into(), n(expires_at));
    item.insert("ttl".into(), n(expires_at / 1000));
    if batch {
        item.insert("batch".into(), AV::Bool(true));
    }
    item
}

// ---- items ----

pub(super) fn s(value: &str) -> AV {
    AV::S(value.to_owned())
}

pub(super) fn n(value: i64) -> AV {
    AV::N(value.to_string())
}

pub(super) fn user_pk(username: &str) -> String {
    format!("USER#{username}")
}

pub(super) fn email_pk(email: &str) -> String {
    format!("EMAIL#{email}")
}

pub(super) fn refresh_pk(hash: &str) -> String {
    format!("REFRESH#{hash}")
}

pub(super) fn throttle_pk(key: &str) -> String {
    format!("THROTTLE#{key}")
}

/// A sender's count of sends in the window starting at `window_start`.
pub(super) fn rate_key(username: &str, window_start: i64) -> Item {
    key(format!("RATE#{username}"), &format!("SEND#{window_start}"))
}

/// The sort key of a throttle's attempt counter.
pub(super) const ATTEMPTS: &str = "ATTEMPTS";

pub(super) fn key(pk: String, sk: &str) -> Item {
    HashMap::from([("pk".to_owned(), AV::S(pk)), ("sk".to_owned(), s(sk))])
}

pub(super) fn merge(mut values: HashMap<String, AV>, extra: Vec<(&str, AV)>) -> HashMap<String, AV> {
    values.extend(extra.into_iter().map(|(k, v)| (k.to_owned(), v)));
    values
}

pub(super) fn user_item(user: &UserRecord) -> Item {
    let mut item = key(user_pk(&user.username), PROFILE);
    item.insert("gsi1pk".into(), s(USER_DIRECTORY));
    item.insert("gsi1sk".into(), s(&user.username));
    item.insert("username".into(), s(&user.username));
    item.insert("password_hash".into(), s(&user.password_hash));
    item.insert("fullname".into(), s(&user.fullname));
    item.insert("created_at".into(), n(user.created_at));
    item.insert(
        "connections".into(),
        AV::M(user.connections.iter().map(|(id, exp)| (id.to_string(), n(*exp))).collect()),
    );
    for (name, value) in [
        ("email", &user.email),
        ("first_name", &user.first_name),
        ("last_name", &user.last_name),
        ("role", &user.role),
        ("date_of_birth", &user.date_of_birth),
    ] {
        if let Some(value) = value {
            item.insert(name.into(), s(value));
        }
    }
    if let Some(avatar) = &user.avatar_file_id {
        item.insert("avatar_file_id".into(), s(avatar.as_str()));
    }
    if let Some(at) = user.last_online {
        item.insert("last_online".into(), n(at));
    }
    if !user.blocks.is_empty() {
        item.insert("blocks".into(), AV::Ss(user.blocks.iter().cloned().collect()));
    }
    item
}

pub(super) fn email_item(email: &str, username: &str) -> Item {
    let mut item = key(email_pk(email), "EMAIL");
    item.insert("username".into(), s(username));
    item
}

pub(super) fn session_item(username: &str, family_id: &str, now: i64, expires_at: i64) -> Item {
    let mut item = key(user_pk(username), &format!("SESSION#{family_id}"));
    item.insert("created_at".into(), n(now));
    item.insert("ttl".into(), n(expires_at / 1000));
    item
}

pub(super) fn refresh_item(token: &RefreshTokenRecord) -> Item {
    let mut item = key(refresh_pk(&token.token_hash), "REFRESH");
    item.insert("username".into(), s(&token.username));
    item.insert("family_id".into(), s(&token.family_id));
    item.insert("expires_at".into(), n(token.expires_at));
    item.insert("ttl".into(), n(token.expires_at / 1000));
    if let Some(at) = token.used_at {
        item.insert("used_at".into(), n(at));
    }
    item
}

pub(super) fn parse_user(item: &Item) -> Result<UserRecord, StoreError> {
    Ok(UserRecord {
        username: req_s(item, "username")?,
        password_hash: req_s(item, "password_hash")?,
        fullname: req_s(item, "fullname")?,
        email: opt_s(item, "email"),
        first_name: opt_s(item, "first_name"),
        last_name: opt_s(item, "last_name"),
        role: opt_s(item, "role"),
        date_of_birth: opt_s(item, "date_of_birth"),
        avatar_file_id: opt_s(item, "avatar_file_id").map(FileId::from),
        created_at: req_n(item, "created_at")?,
        last_online: opt_n(item, "last_online")?,
        connections: parse_connections(item)?,
        blocks: string_set(item, "blocks"),
    })
}

/// A string set attribute's members (none when absent: DynamoDB keeps no empty set).
pub(super) fn string_set(item: &Item, name: &str) -> std::collections::BTreeSet<String> {
    match item.get(name) {
        Some(AV::Ss(values)) => values.iter().cloned().collect(),
        _ => Default::default(),
    }
}

pub(super) fn parse_refresh(item: &Item) -> Result<RefreshTokenRecord, StoreError> {
    let pk = req_s(item, "pk")?;
    Ok(RefreshTokenRecord {
        token_hash: pk.trim_start_matches("REFRESH#").to_owned(),
        username: req_s(item, "username")?,
        family_id: req_s(item, "family_id")?,
        expires_at: req_n(item, "expires_at")?,
        used_at: opt_n(item, "used_at")?,
    })
}

pub(super) fn parse_attempts(item: &Item) -> Result<Attempts, StoreError> {
    Ok(Attempts {
        count: u32::try_from(req_n(item, "count")?).unwrap_or(u32::MAX),
        window_start: req_n(item, "window_start")?,
    })
}

pub(super) fn opt_s(item: &Item, name: &str) -> Option<String> {
    match item.get(name) {
        Some(AV::S(v)) => Some(v.clone()),
        _ => None,
    }
}

pub(super) fn req_s(item: &Item, name: &str) -> Result<String, StoreError> {
    opt_s(item, name).ok_or_else(|| StoreError::internal(format!("item lacks string {name}")))
}

pub(super) fn opt_n(item: &Item, name: &str) -> Result<Option<i64>, StoreError> {
    match item.get(name) {
        Some(AV::N(v)) => v.parse().map(Some).map_err(|_| StoreError::internal(format!("{name} is not an integer"))),
        None => Ok(None),
        Some(_) => Err(StoreError::internal(format!("{name} is not a number"))),
    }
}

pub(super) fn req_n(item: &Item, name: &str) -> Result<i64, StoreError> {
    opt_n(item, name)?.ok_or_else(|| StoreError::internal(format!("item lacks number {name}")))
}

pub(super) fn parse_push_turn(item: &Item) -> Result<PushTurn, StoreError> {
    Ok(PushTurn {
        pushed_id: MessageId::new(opt_n(item, "pushed_id")?.unwrap_or(0)),
        last_id: MessageId::new(opt_n(item, "last_message_id")?.unwrap_or(0)),
        signal: opt_n(item, "signal")?.unwrap_or(0),
        clean_signal: opt_n(item, "clean_signal")?.unwrap_or(0),
    })
}

pub(super) fn file_pk(id: &FileId) -> String {
    format!("FILE#{id}")
}

pub(super) fn file_item(file: &FileRecord) -> Item {
    let mut item = key(file_pk(&file.id), "FILE");
    item.insert("id".into(), s(file.id.as_str()));
    item.insert("owner".into(), s(&file.owner));
    item.insert("purpose".into(), s(file.purpose.as_str()));
    item.insert("content_type".into(), s(&file.content_type));
    item.insert("size".into(), n(file.size));
    if let Some(name) = &file.name {
        item.insert("name".into(), s(name));
    }
    if let Some(conversation) = &file.conversation_id {
        item.insert("conversation_id".into(), s(conversation.as_str()));
    }
    item.insert("created_at".into(), n(file.created_at));
    item
}

pub(super) fn parse_file(item: &Item) -> Result<FileRecord, StoreError> {
    Ok(FileRecord {
        id: req_s(item, "id")?.into(),
        owner: req_s(item, "owner")?,
        purpose: Purpose::parse(&req_s(item, "purpose")?).ok_or(StoreError::internal("file purpose"))?,
        content_type: req_s(item, "content_type")?,
        size: req_n(item, "size")?,
        name: opt_s(item, "name"),
        conversation_id: opt_s(item, "conversation_id").map(ConversationId::from),
        created_at: req_n(item, "created_at")?,
        referenced: matches!(item.get("referenced"), Some(AV::Bool(true))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conversation(name: Option<&str>, kind: Kind, visibility: Visibility) -> Conversation {
        Conversation {
            id: "01J0CONV".into(),
            name: name.map(str::to_owned),
            kind,
            visibility,
            owner: "ann".into(),
            member_count: 3,
            member_preview: vec!["ann".into(), "bob".into(), "cy".into()],
            icon_file_id: name.map(|_| FileId::new("01J0ICON")),
            created_at: 1_700_000_000_000,
            created_by: "ann".into(),
            last_message_id: MessageId::new(42),
            last_activity_at: 1_700_000_100_000,
            sockets: if kind == Kind::Direct { Sockets::OnProfiles } else { Sockets::Recorded },
            feed: Default::default(),
        }
    }

    #[test]
    fn keys_are_the_documented_ones() {
        assert_eq!(conv_pk(&"c1".into()), "CONV#c1");
        let id = MessageId::new;
        assert_eq!(msg_sk(id(7)), "MSG#00000000000000000007");
        assert!(msg_sk(id(9)) < msg_sk(id(10)), "message keys sort by id");
        assert_eq!(msg_sk(id(-1)), msg_sk(id(0)));
        assert_eq!(member_sk(&"c1".into()), "MEMBER#c1");
        assert_eq!(member_of_sk("ann"), "MEMBER#ann");
        assert_eq!(members_gsi_pk(&"c1".into()), "MEMBERS#c1");
        assert_eq!(
            (user_pk("ann"), email_pk("a@x.io"), refresh_pk("ab")),
            ("USER#ann".into(), "EMAIL#a@x.io".into(), "REFRESH#ab".into())
        );
        assert_eq!((throttle_pk("t"), file_pk(&"f".into())), ("THROTTLE#t".into(), "FILE#f".into()));
        assert_eq!(rate_key("ann", 10_000), key("RATE#ann".into(), "SEND#10000"));
        assert_eq!(key("P".into(), "S"), HashMap::from([("pk".into(), s("P")), ("sk".into(), s("S"))]));
    }

    #[test]
    fn users_and_refresh_tokens_round_trip() {
        let user = UserRecord {
            username: "ann".into(),
            password_hash: "$argon2id$x".into(),
            fullname: "Ann".into(),
            email: Some("ann@example.com".into()),
            first_name: None,
            last_name: Some("Lee".into()),
            role: None,
            date_of_birth: Some("1990-01-02".into()),
            avatar_file_id: None,
            created_at: 5,
            last_online: Some(6),
            connections: [(ConnectionId::new("c1"), 99)].into(),
            blocks: ["bob".to_owned()].into(),
        };
        let item = user_item(&user);
        assert_eq!((item["gsi1pk"].clone(), item["sk"].clone()), (s(USER_DIRECTORY), s(PROFILE)));
        assert_eq!(parse_user(&item).unwrap(), user);
        let token = RefreshTokenRecord {
            token_hash: "h".into(),
            username: "ann".into(),
            family_id: "f".into(),
            expires_at: 10,
            used_at: Some(3),
        };
        assert_eq!(parse_refresh(&refresh_item(&token)).unwrap(), token);
    }

    #[test]
    fn conversations_members_and_read_states_round_trip() {
        for c in [
            conversation(Some("Team"), Kind::Group, Visibility::Public),
            conversation(None, Kind::Direct, Visibility::Private),
        ] {
            let item = conversation_item(&c);
            assert_eq!(parse_conversation(&item).unwrap(), c);
            // Only public conversations are in the public index, sorted by name then id.
            let indexed = item.get("gsi1sk").cloned();
            let expected = (c.visibility == Visibility::Public).then(|| s(&c.public_sort_key()));
            assert_eq!(indexed, expected, "{c:?}");
        }
        let member = Member { username: "bob".into(), joined_at: 12, added_by: Some("ann".into()) };
        let item = member_item(&"c1".into(), &member);
        assert_eq!(parse_member(&item).unwrap(), member);
        assert_eq!(item["gsi1sk"], s("000000000000012#bob"), "members index by join time");
        let fresh = parse_read_state(&membership_item("bob", &"c1".into(), 12, Sockets::Recorded)).unwrap();
        assert_eq!(fresh, ReadState { last_read: MessageId::NONE, own_after_read: 0, ..ReadState::default() });
    }

    #[test]
    fn devices_and_settings_round_trip() {
        let device = Device {
            username: "ann".into(),
            device_id: DeviceId::parse("phone-1").unwrap(),
            session: "s1".into(),
            platform: Platform::ApnsSandbox,
            token: "abc123".into(),
            app_version: Some("1.2".into()),
            locale: None,
            enabled: false,
            created_at: 5,
            updated_at: 6,
            expires_at: 7_000,
            endpoint: Some("arn:aws:sns:eu-west-1:1:endpoint/APNS/app/x".into()),
        };
        let item = device_item(&device);
        assert_eq!(parse_device(&item).unwrap(), device);
        assert_eq!(item["ttl"], n(7));
        assert_eq!(token_item(&device)["pk"], AV::S(token_pk("abc123")));
        let muted = Settings { level: Level::Mentions, muted_until: Some(9) };
        assert_eq!(parse_settings(&setting_item(&"c1".into(), "ann", &muted)).unwrap(), muted);
        assert_eq!(parse_settings(&key("p".into(), "s")).unwrap(), Settings::default());
    }

    #[test]
    fn messages_round_trip_and_voids_are_none() {
        let message = Message {
            id: MessageId::new(3),
            conversation_id: "c1".into(),
            sender_username: "ann".into(),
            content: "hi".into(),
            reply_id: Some(MessageId::new(1)),
            reply_count: 0,
            client_id: Some("k".into()),
            attachments: vec![Attachment {
                file_id: "f".into(),
                content_type: "image/png".into(),
                size: 10,
                name: Some("a.png".into()),
            }],
            mentions: vec!["bob".into(), "cat".into()],
            sent_at: 100,
            edited_at: Some(200),
            deleted: false,
            reactions: Vec::new(),
            pinned: false,
            my_reactions: None,
            origin: Some("conn".into()),
        };
        let item = message_item(&message);
        assert_eq!(item["sk"], s(&msg_sk(MessageId::new(3))));
        assert_eq!(parse_message(&item).unwrap(), Some(message.clone()));
        let tombstone =
            Message { content: String::new(), attachments: vec![], mentions: vec![], deleted: true, ..message };
        assert_eq!(parse_message(&message_item(&tombstone)).unwrap(), Some(tombstone));
        let void = HashMap::from([("is_void".to_owned(), AV::Bool(true))]);
        assert_eq!(parse_message(&void).unwrap(), None);
    }

    #[test]
    fn files_connections_and_push_turns() {
        let file = FileRecord {
            id: "f1".into(),
            owner: "ann".into(),
            purpose: Purpose::Attachment,
            content_type: "application/pdf".into(),
            size: 1024,
            name: Some("report.pdf".into()),
            conversation_id: Some("c1".into()),
            created_at: 9,
            referenced: false,
        };
        assert_eq!(parse_file(&file_item(&file)).unwrap(), file);
        let socket = connection_item(&"c1".into(), "ann", &"conn".into(), 7_200_000, true);
        assert_eq!(socket["sk"], s("CONN#conn"));
        // DynamoDB's TTL is in seconds; the record's own expiry in milliseconds.
        assert_eq!((socket["ttl"].clone(), socket["expires_at"].clone()), (n(7_200), n(7_200_000)));
        assert_eq!(socket["batch"], AV::Bool(true));
        assert!(!connection_item(&"c1".into(), "ann", &"conn".into(), 1, false).contains_key("batch"));
        // The push turn lives on the conversation's item; a fresh one has pushed nothing.
        let mut meta = key(conv_pk(&"c1".into()), "META");
        let turn = parse_push_turn(&meta).unwrap();
        let none = MessageId::NONE;
        assert_eq!((turn.pushed_id, turn.last_id, turn.signal, turn.clean_signal), (none, none, 0, 0));
        meta.insert("last_message_id".into(), n(7));
        meta.insert("pushed_id".into(), n(5));
        assert_eq!(
            (parse_push_turn(&meta).unwrap().last_id, parse_push_turn(&meta).unwrap().pushed_id),
            (MessageId::new(7), MessageId::new(5))
        );
    }

    #[test]
    fn items_missing_what_they_need_are_internal_errors() {
        let mut item = user_item(&UserRecord {
            username: "ann".into(),
            password_hash: "h".into(),
            fullname: "Ann".into(),
            email: None,
            first_name: None,
            last_name: None,
            role: None,
            date_of_birth: None,
            avatar_file_id: None,
            created_at: 1,
            last_online: None,
            connections: Default::default(),
            blocks: Default::default(),
        });
        item.remove("password_hash");
        assert!(matches!(parse_user(&item), Err(StoreError::Internal(_))));
        let mut item = message_item(&Message {
            id: MessageId::new(1),
            conversation_id: "c".into(),
            sender_username: "a".into(),
            content: "x".into(),
            reply_id: None,
            reply_count: 0,
            client_id: None,
            attachments: vec![],
            mentions: vec![],
            sent_at: 1,
            edited_at: None,
            deleted: false,
            reactions: Vec::new(),
            pinned: false,
            my_reactions: None,
            origin: None,
        });
        item.insert("id".into(), s("not a number"));
        assert!(matches!(parse_message(&item), Err(StoreError::Internal(_))));
    }
}
