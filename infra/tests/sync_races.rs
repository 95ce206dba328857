//! The sync feed's races, injected step by step on either store: a message stored, the notify
//! function recording it, and a sync closing the feed's open bucket, in every order. Whatever
//! the order, a client that applies each answer ends with the conversation's last message: a
//! change is in the answer that sees it or in the next one.

mod support;

use chathub_shared::messages::{self, SendMessage};
use chathub_shared::notifications::alert::Content;
use chathub_shared::notifications::decision::Change;
use chathub_shared::notifications::deliver::Deliverer;
use chathub_shared::{sync, ConversationId, MessageId};
use serde_json::json;
use support::domain::{names, Backing, Domain};

on_both_backings!(
    a_message_is_in_this_answer_or_the_next_in_every_order,
    an_edit_is_in_this_answer_or_the_next_in_every_order
);

async fn send(d: &Domain, sender: &str, room: &ConversationId, content: &str) -> MessageId {
    let request: SendMessage = serde_json::from_value(json!({"content": content})).unwrap();
    messages::send(&d.ctx, sender, room, request, None).await.unwrap().0.id
}

/// A client: its cursor, and what it knows of the room.
struct Client {
    cursor: String,
    last_message_id: i64,
    contents: std::collections::BTreeMap<i64, String>,
}

impl Client {
    async fn sync(&mut self, d: &Domain, user: &str) {
        let page = sync::sync(&d.ctx.ctx, user, Some(&self.cursor), 500, sync::REST_MAX_BYTES).await.unwrap();
        assert!(!page.has_more);
        for change in page.changes {
            match change.kind {
                "conversation_activity" => {
                    self.last_message_id = self.last_message_id.max(change.data["last_message_id"].as_i64().unwrap());
                }
                "message_edited" => {
                    let id = change.data["id"].as_i64().unwrap();
                    self.contents.insert(id, change.data["content"].as_str().unwrap().to_owned());
                }
                _ => {}
            }
        }
        self.cursor = page.next_cursor;
    }
}

async fn setup(d: &Domain) -> (Vec<String>, ConversationId, Client) {
    let people = names("r", 3);
    d.users(&people).await;
    let room = d.room(&people).await;
    let added: Vec<Change> = people
        .iter()
        .map(|u| Change::MemberAdded { conversation_id: room.clone(), username: u.clone(), by: None, joined_at: 0 })
        .collect();
    let deliverer = Deliverer { ctx: &d.ctx.ctx, provider: d.devices.as_ref(), content: Content::Full };
    assert!(deliverer.deliver(&added).await.is_empty());
    let cursor = sync::sync(&d.ctx.ctx, &people[1], None, 500, sync::REST_MAX_BYTES).await.unwrap().next_cursor;
    (people, room, Client { cursor, last_message_id: 0, contents: Default::default() })
}

async fn a_message_is_in_this_answer_or_the_next_in_every_order(backing: Backing) {
    let d = Domain::new(backing).await;
    let (people, room, mut bob) = setup(&d).await;
    let deliverer = Deliverer { ctx: &d.ctx.ctx, provider: d.devices.as_ref(), content: Content::Full };
    let deliver = |id: MessageId| {
        let deliverer = &deliverer;
        let room = room.clone();
        async move { assert!(deliverer.deliver(&[Change::Message { conversation_id: room, id }]).await.is_empty()) }
    };
    let (ann, reader) = (&people[0], &people[1]);

    // Stored, then a sync before the notify function records it: not in this answer (nothing
    // said the room changed), in the next one, once recorded.
    let m1 = send(&d, ann, &room, "one").await;
    bob.sync(&d, reader).await;
    deliver(m1).await;
    bob.sync(&d, reader).await;
    assert_eq!(bob.last_message_id, m1.get());

    // Recorded, another stored, then a sync closes the bucket before the function looks at the
    // second: the sync sees both; the second's key, written after the closing, comes next.
    let m2 = send(&d, ann, &room, "two").await;
    deliver(m2).await;
    let m3 = send(&d, ann, &room, "three").await;
    bob.sync(&d, reader).await;
    assert_eq!(bob.last_message_id, m3.get());
    deliver(m3).await;
    bob.sync(&d, reader).await;
    assert_eq!(bob.last_message_id, m3.get());

    // Recorded, another stored and seen by the function while the key is still pending (it
    // writes nothing for it), then the sync closes the bucket and reads the room after: it sees
    // the second.
    let m4 = send(&d, ann, &room, "four").await;
    deliver(m4).await;
    let m5 = send(&d, ann, &room, "five").await;
    deliver(m5).await;
    bob.sync(&d, reader).await;
    assert_eq!(bob.last_message_id, m5.get(), "the message whose key was already pending is seen");

    // Nothing is left behind: a sync after everything finds nothing new.
    let before = bob.cursor.clone();
    bob.sync(&d, reader).await;
    let again = sync::sync(&d.ctx.ctx, reader, Some(&before), 500, sync::REST_MAX_BYTES).await.unwrap();
    assert!(again.changes.is_empty(), "{:?}", again.changes);
}

async fn an_edit_is_in_this_answer_or_the_next_in_every_order(backing: Backing) {
    let d = Domain::new(backing).await;
    let (people, room, mut bob) = setup(&d).await;
    let deliverer = Deliverer { ctx: &d.ctx.ctx, provider: d.devices.as_ref(), content: Content::Full };
    let (ann, reader) = (&people[0], &people[1]);
    let id = send(&d, ann, &room, "v0").await;
    assert!(deliverer.deliver(&[Change::Message { conversation_id: room.clone(), id }]).await.is_empty());
    let edited = |content: &'static str| {
        let room = room.clone();
        let d = &d;
        async move { messages::edit(&d.ctx, ann, &room, id, content.to_owned(), None).await.unwrap() }
    };
    let recorded = || {
        let deliverer = &deliverer;
        let room = room.clone();
        async move {
            let change = Change::MessageChanged { conversation_id: room, id };
            assert!(deliverer.deliver(&[change]).await.is_empty());
        }
    };
    // Edited, synced before it is recorded (the edit is not said yet), then recorded: next time.
    edited("v1").await;
    bob.sync(&d, reader).await;
    recorded().await;
    bob.sync(&d, reader).await;
    assert_eq!(bob.contents.get(&id.get()).map(String::as_str), Some("v1"));
    // Edited twice, the first recorded; a sync between the second edit and its recording says
    // the message as it is (v3); the second's key comes again next time, with the same state.
    edited("v2").await;
    recorded().await;
    edited("v3").await;
    bob.sync(&d, reader).await;
    assert_eq!(bob.contents.get(&id.get()).map(String::as_str), Some("v3"));
    recorded().await;
    bob.sync(&d, reader).await;
    assert_eq!(bob.contents.get(&id.get()).map(String::as_str), Some("v3"));
}
