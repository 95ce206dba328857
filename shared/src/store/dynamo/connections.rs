//! WebSocket connections, on the profile and under each conversation: the `ConnectionStore` port
//! on DynamoDB.

use super::*;

#[async_trait]
impl ConnectionStore for DynamoStore {
    async fn add_connection(
        &self,
        username: &str,
        connection_id: &ConnectionId,
        options: &SocketOptions<'_>,
        now: i64,
        expires_at: i64,
    ) -> Result<Connected, StoreError> {
        // The profile's `connections` map: connection id → {expires_at, sid, batch} (or, written
        // before sockets knew their session, the expiry alone).
        let mut socket = HashMap::from([("expires_at".to_owned(), n(expires_at))]);
        if let Some(session) = options.session {
            socket.insert("sid".into(), s(session));
        }
        if options.batch {
            socket.insert("batch".into(), AV::Bool(true));
        }
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(user_pk(username), PROFILE)))
            .update_expression("SET connections.#c = :socket")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#c", connection_id.as_str())
            .expression_attribute_values(":socket", AV::M(socket))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| conditional_error(e, Conflict::Missing))?;
        let profile = out.attributes.unwrap_or_default();
        let before = parse_connections(&profile)?;
        // Strongly consistent, after the profile's write: see `register_connections`. Conversations
        // that find this user on their roster get no record.
        let mut records = Vec::new();
        for membership in self.query_prefix(user_pk(username), "MEMBER#").await? {
            if on_profiles(&membership) == Sockets::Recorded {
                let conversation = ConversationId::new(req_s(&membership, "conversation_id")?);
                records.push(connection_item(&conversation, username, connection_id, expires_at, options.batch));
            }
        }
        self.batch_put(records).await?;
        Ok(Connected {
            first: !before.values().any(|exp| *exp > now),
            last_online: opt_n(&profile, "last_online")?,
            blocks: string_set(&profile, "blocks"),
        })
    }

    async fn remove_connection(
        &self,
        username: &str,
        connection_id: &ConnectionId,
        now: i64,
    ) -> Result<Disconnected, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(user_pk(username), PROFILE)))
            .update_expression("REMOVE connections.#c SET last_online = :now")
            .condition_expression("attribute_exists(connections.#c)")
            .expression_attribute_names("#c", connection_id.as_str())
            .expression_attribute_values(":now", n(now))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        let out = match result {
            Ok(out) => out,
            Err(e) if is_conditional_failure(&e) => return Ok(Disconnected::default()),
            Err(e) => return Err(sdk_error(e)),
        };
        let profile = out.attributes.unwrap_or_default();
        let after = parse_connections(&profile)?;
        Ok(Disconnected { last: !after.values().any(|exp| *exp > now), blocks: string_set(&profile, "blocks") })
    }

    async fn sockets(&self, username: &str, now: i64) -> Result<Vec<(ConnectionId, Option<String>)>, StoreError> {
        let profile = self.get(user_pk(username), PROFILE).await?.unwrap_or_default();
        Ok(parse_sockets(&profile)?
            .into_iter()
            .filter(|socket| socket.expires_at > now)
            .map(|socket| (socket.connection, socket.session))
            .collect())
    }

    async fn connections_of(&self, usernames: &[String], now: i64) -> Result<Vec<(String, ConnectionId)>, StoreError> {
        let keys = usernames.iter().map(|u| key(user_pk(u), PROFILE)).collect();
        let projection = ("#u, connections", names(&[("#u", "username")]));
        let items = self.batch_get(keys, Some(projection)).await?;
        let mut found = Vec::new();
        for item in &items {
            let user = req_s(item, "username")?;
            for (id, expires) in parse_connections(item)? {
                if expires > now {
                    found.push((user.clone(), id));
                }
            }
        }
        Ok(found)
    }

    async fn conversation_connections(
        &self,
        conversation_id: &ConversationId,
        now: i64,
    ) -> Result<Vec<Target>, StoreError> {
        // One Query finds the records and, for a conversation whose sockets are on its members'
        // profiles, the roster of those members; their profiles are then read strongly
        // consistent (a `$connect` writes the profile before its client reads history, so a
        // message stored after that is pushed after the profile can be seen).
        let mut found = Vec::new();
        let mut roster = Vec::new();
        for item in self.query_prefix(conv_pk(conversation_id), CONNECTION_OF).await? {
            if opt_s(&item, "sk").as_deref() == Some(ROSTER) {
                if let Some(AV::Ss(members)) = item.get("members") {
                    roster.extend(members.iter().cloned());
                }
            } else if opt_n(&item, "expires_at")?.unwrap_or(0) > now {
                let connection = ConnectionId::new(req_s(&item, "sk")?.trim_start_matches(CONNECTION_OF));
                let batch = matches!(item.get("batch"), Some(AV::Bool(true)));
                found.push(Target { user: req_s(&item, "username")?, connection, batch, on_profile: false });
            }
        }
        for (user, socket) in self.live_sockets(&roster, now).await? {
            if !found.iter().any(|t| t.connection == socket.connection) {
                let (connection, batch) = (socket.connection, socket.batch);
                found.push(Target { user, connection, batch, on_profile: true });
            }
        }
        Ok(found)
    }

    async fn register_connections(
        &self,
        conversation_id: &ConversationId,
        usernames: &[String],
        sockets: Sockets,
        now: i64,
    ) -> Result<Vec<(String, ConnectionId)>, StoreError> {
        // Strongly consistent, against a `$connect` racing the join: it writes the profile, then
        // reads the memberships; this writes the memberships, then reads the profiles. One of
        // the two sees the other, so the socket is recorded either way.
        let live = self.live_sockets(usernames, now).await?;
        if sockets == Sockets::Recorded {
            let records = live
                .iter()
                .map(|(user, socket)| {
                    connection_item(conversation_id, user, &socket.connection, socket.expires_at, socket.batch)
                })
                .collect();
            self.batch_put(records).await?;
        }
        Ok(live.into_iter().map(|(user, socket)| (user, socket.connection)).collect())
    }

    async fn unregister_connections(
        &self,
        conversation_id: &ConversationId,
        username: &str,
        connection_id: Option<&ConnectionId>,
        _now: i64,
    ) -> Result<(), StoreError> {
        let connections: Vec<ConnectionId> = match connection_id {
            Some(connection) => vec![connection.clone()],
            None => match self.get(user_pk(username), PROFILE).await? {
                Some(profile) => parse_connections(&profile)?.into_keys().collect(),
                None => Vec::new(),
            },
        };
        let keys = connections.iter().map(|c| key(conv_pk(conversation_id), &format!("{CONNECTION_OF}{c}"))).collect();
        self.batch_delete(keys).await
    }

    async fn contact_of(&self, username: &str) -> Result<Vec<String>, StoreError> {
        let query = self
            .client
            .query()
            .index_name(GSI1)
            .key_condition_expression("gsi1pk = :k")
            .expression_attribute_values(":k", AV::S(format!("CONTACTOF#{username}")));
        self.query_all(query).await?.iter().map(|item| req_s(item, "gsi1sk")).collect()
    }
}

impl DynamoStore {
    /// The live sockets on the profiles of `usernames`, read strongly consistent (so a socket whose
    /// `$connect` wrote its profile before this read is among them).
    async fn live_sockets(&self, usernames: &[String], now: i64) -> Result<Vec<(String, ProfileSocket)>, StoreError> {
        let keys = usernames.iter().map(|u| key(user_pk(u), PROFILE)).collect();
        let mut live = Vec::new();
        for profile in self.get_consistent(keys).await? {
            let user = req_s(&profile, "username")?;
            live.extend(parse_sockets(&profile)?.into_iter().filter(|s| s.expires_at > now).map(|s| (user.clone(), s)));
        }
        Ok(live)
    }
}
