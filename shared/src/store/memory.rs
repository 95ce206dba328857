//! The embedded store: everything in memory behind one lock, with the same semantics as the
//! DynamoDB adapter (each method is atomic, conditions fail the same way).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;

use super::{
    ContactStore, LoginFailures, RefreshTokenRecord, SessionStore, ThrottleStore, UserStore,
    UserUpdate,
};
use crate::error::{Conflict, StoreError};
use crate::model::{Page, UserRecord};

#[derive(Default)]
struct State {
    users: BTreeMap<String, UserRecord>,
    emails: HashMap<String, String>,
    /// username → open session family ids
    sessions: HashMap<String, BTreeSet<String>>,
    refresh_tokens: HashMap<String, RefreshTokenRecord>,
    login_failures: HashMap<String, LoginFailures>,
    contacts: HashMap<String, BTreeMap<String, i64>>,
}

#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave half-written state: every method checks
        // before it writes. So a poisoned lock is still consistent.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn set_opt(field: &mut Option<String>, change: &Option<Option<String>>) {
    if let Some(value) = change {
        field.clone_from(value);
    }
}

#[async_trait]
impl UserStore for MemoryStore {
    async fn create_user(&self, user: &UserRecord) -> Result<(), StoreError> {
        let mut s = self.lock();
        if s.users.contains_key(&user.username) {
            return Err(StoreError::Conflict(Conflict::UsernameTaken));
        }
        if let Some(email) = &user.email {
            if s.emails.contains_key(email) {
                return Err(StoreError::Conflict(Conflict::EmailTaken));
            }
            s.emails.insert(email.clone(), user.username.clone());
        }
        s.users.insert(user.username.clone(), user.clone());
        Ok(())
    }

    async fn get_user(&self, username: &str) -> Result<Option<UserRecord>, StoreError> {
        Ok(self.lock().users.get(username).cloned())
    }

    async fn get_users(&self, usernames: &[String]) -> Result<Vec<UserRecord>, StoreError> {
        let s = self.lock();
        Ok(usernames
            .iter()
            .filter_map(|u| s.users.get(u).cloned())
            .collect())
    }

    async fn username_for_email(&self, email: &str) -> Result<Option<String>, StoreError> {
        Ok(self.lock().emails.get(email).cloned())
    }

    async fn update_user(
        &self,
        current: &UserRecord,
        update: &UserUpdate,
    ) -> Result<UserRecord, StoreError> {
        let username = current.username.as_str();
        let mut s = self.lock();
        let old_email = match s.users.get(username) {
            Some(user) if user.email == current.email => user.email.clone(),
            _ => return Err(StoreError::Conflict(Conflict::Missing)),
        };
        if let Some(Some(new_email)) = &update.email {
            if Some(new_email) != old_email.as_ref() && s.emails.contains_key(new_email) {
                return Err(StoreError::Conflict(Conflict::EmailTaken));
            }
        }
        if let Some(new_email) = &update.email {
            if let Some(old) = &old_email {
                s.emails.remove(old);
            }
            if let Some(new) = new_email {
                s.emails.insert(new.clone(), username.to_owned());
            }
        }
        let Some(user) = s.users.get_mut(username) else {
            return Err(StoreError::Conflict(Conflict::Missing));
        };
        if let Some(fullname) = &update.fullname {
            user.fullname.clone_from(fullname);
        }
        if let Some(hash) = &update.password_hash {
            user.password_hash.clone_from(hash);
        }
        set_opt(&mut user.email, &update.email);
        set_opt(&mut user.first_name, &update.first_name);
        set_opt(&mut user.last_name, &update.last_name);
        set_opt(&mut user.role, &update.role);
        set_opt(&mut user.date_of_birth, &update.date_of_birth);
        set_opt(&mut user.avatar_file_id, &update.avatar_file_id);
        Ok(user.clone())
    }

    async fn list_users(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<UserRecord>, StoreError> {
        let s = self.lock();
        let start = match after {
            Some(a) if a > prefix => a.to_owned(),
            _ => prefix.to_owned(),
        };
        let mut matching = s
            .users
            .range(start..)
            .filter(|(name, _)| Some(name.as_str()) != after)
            .take_while(|(name, _)| name.starts_with(prefix))
            .map(|(_, user)| user.clone());
        let items: Vec<UserRecord> = matching.by_ref().take(limit).collect();
        let next_cursor = match matching.next() {
            Some(_) => items.last().map(|u| u.username.clone()),
            None => None,
        };
        Ok(Page { items, next_cursor })
    }
}

#[async_trait]
impl SessionStore for MemoryStore {
    async fn create_session(
        &self,
        token: &RefreshTokenRecord,
        _now: i64,
    ) -> Result<(), StoreError> {
        let mut s = self.lock();
        s.sessions
            .entry(token.username.clone())
            .or_default()
            .insert(token.family_id.clone());
        s.refresh_tokens
            .insert(token.token_hash.clone(), token.clone());
        Ok(())
    }

    async fn get_refresh_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<RefreshTokenRecord>, StoreError> {
        Ok(self.lock().refresh_tokens.get(token_hash).cloned())
    }

    async fn rotate_refresh_token(
        &self,
        old: &RefreshTokenRecord,
        new: &RefreshTokenRecord,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut s = self.lock();
        match s.refresh_tokens.get(&old.token_hash) {
            Some(stored) if stored.used_at.is_none() && stored.expires_at > now => {}
            _ => return Err(StoreError::Conflict(Conflict::TokenAlreadyUsed)),
        }
        let open = s
            .sessions
            .get(&old.username)
            .is_some_and(|f| f.contains(&old.family_id));
        if !open {
            return Err(StoreError::Conflict(Conflict::SessionRevoked));
        }
        if let Some(stored) = s.refresh_tokens.get_mut(&old.token_hash) {
            stored.used_at = Some(now);
        }
        s.refresh_tokens.insert(new.token_hash.clone(), new.clone());
        Ok(())
    }

    async fn revoke_session(&self, username: &str, family_id: &str) -> Result<(), StoreError> {
        if let Some(families) = self.lock().sessions.get_mut(username) {
            families.remove(family_id);
        }
        Ok(())
    }

    async fn revoke_sessions(&self, username: &str, keep: Option<&str>) -> Result<(), StoreError> {
        if let Some(families) = self.lock().sessions.get_mut(username) {
            families.retain(|f| Some(f.as_str()) == keep);
        }
        Ok(())
    }
}

#[async_trait]
impl ThrottleStore for MemoryStore {
    async fn login_failures(&self, key: &str) -> Result<Option<LoginFailures>, StoreError> {
        Ok(self.lock().login_failures.get(key).copied())
    }

    async fn record_login_failure(
        &self,
        key: &str,
        now: i64,
        window_start_min: i64,
    ) -> Result<LoginFailures, StoreError> {
        let mut s = self.lock();
        let entry = s
            .login_failures
            .entry(key.to_owned())
            .or_insert(LoginFailures {
                count: 0,
                window_start: now,
            });
        if entry.window_start <= window_start_min {
            *entry = LoginFailures {
                count: 0,
                window_start: now,
            };
        }
        entry.count += 1;
        Ok(*entry)
    }

    async fn clear_login_failures(&self, key: &str) -> Result<(), StoreError> {
        self.lock().login_failures.remove(key);
        Ok(())
    }
}

#[async_trait]
impl ContactStore for MemoryStore {
    async fn add_contact(&self, owner: &str, contact: &str, now: i64) -> Result<(), StoreError> {
        let mut s = self.lock();
        let contacts = s.contacts.entry(owner.to_owned()).or_default();
        if contacts.contains_key(contact) {
            return Err(StoreError::Conflict(Conflict::AlreadyContact));
        }
        contacts.insert(contact.to_owned(), now);
        Ok(())
    }

    async fn remove_contact(&self, owner: &str, contact: &str) -> Result<bool, StoreError> {
        Ok(self
            .lock()
            .contacts
            .get_mut(owner)
            .is_some_and(|c| c.remove(contact).is_some()))
    }

    async fn list_contacts(
        &self,
        owner: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<String>, StoreError> {
        let s = self.lock();
        let Some(contacts) = s.contacts.get(owner) else {
            return Ok(Page {
                items: Vec::new(),
                next_cursor: None,
            });
        };
        let mut names = contacts
            .keys()
            .filter(|name| after.is_none_or(|a| name.as_str() > a))
            .cloned();
        let items: Vec<String> = names.by_ref().take(limit).collect();
        let next_cursor = names.next().and(items.last().cloned());
        Ok(Page { items, next_cursor })
    }
}
