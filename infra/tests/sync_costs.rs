//! What a sync costs in DynamoDB (target 2 of the sync issue), counted on DynamoDB Local: a user
//! in 1,000 conversations, 20 (or 100) of them over 100 members (pulled). A sync that finds
//! nothing reads the feed's head and the pulled rooms' conversation items, whatever the number of
//! conversations; one that finds changes in 20 conversations adds a few requests for what changed.
//! Figures go to `CHATHUB_SYNC_COSTS_OUT` (JSON lines) for `scripts/bench --sync`.

mod support;

use chathub_shared::messages::{self, SendMessage};
use chathub_shared::notifications::alert::Content;
use chathub_shared::notifications::decision::Change;
use chathub_shared::notifications::deliver::Deliverer;
use chathub_shared::sync::feed::Pull;
use chathub_shared::{sync, ConversationId, MessageId};
use futures_util::stream::{self, StreamExt};
use serde_json::json;
use support::domain::{names, Backing, Domain, Usage};

/// Writes one figure as a JSON line to `CHATHUB_SYNC_COSTS_OUT`, when set, and prints it.
fn record_cost(case: &str, used: Usage, changes: usize) {
    let row = json!({"case": case, "requests": used.requests, "read_units": used.read_units,
        "write_units": used.write_units, "changes": changes});
    eprintln!("sync cost, {case}: {row}");
    if let Ok(out) = std::env::var("CHATHUB_SYNC_COSTS_OUT") {
        use std::io::Write;
        let mut file = std::fs::OpenOptions::new().create(true).append(true).open(out).unwrap();
        writeln!(file, "{row}").unwrap();
    }
}

async fn send(d: &Domain, sender: &str, room: &ConversationId, content: &str) -> MessageId {
    let request: SendMessage = serde_json::from_value(json!({"content": content})).unwrap();
    messages::send(&d.ctx, sender, room, request, None).await.unwrap().0.id
}

/// `user` in 1,000 conversations: `big` of 101 members (pulled, as the notify function makes a
/// room that grows past 100), the rest of 2.
async fn seed(d: &Domain, user: &str, big: usize) -> (Vec<ConversationId>, Vec<ConversationId>) {
    let partners = names("s", 1000 - big);
    let crowd = names("c", 100);
    d.users(&[user.to_owned()]).await;
    d.users(&partners).await;
    d.users(&crowd).await;
    let small: Vec<ConversationId> = stream::iter(&partners)
        .map(|partner| async move { d.room(&[partner.clone(), user.to_owned()]).await })
        .buffer_unordered(16)
        .collect()
        .await;
    let mut members = vec![user.to_owned()];
    members.extend(crowd);
    let bigs: Vec<ConversationId> = stream::iter(0..big).map(|_| d.room(&members)).buffer_unordered(8).collect().await;
    // Created with more than 100 members: pulled from the start; the notify function records
    // each member's pull with their join (done here directly: nothing reads the stream).
    for room in &bigs {
        let conversation = d.ctx.store.get_conversation(room).await.unwrap().unwrap();
        assert!(conversation.feed.pulled);
        d.ctx.store.pull(user, &Pull::from(&conversation)).await.unwrap();
    }
    (small, bigs)
}

async fn costs(big: usize) {
    let d = Domain::new(Backing::Dynamo).await;
    let user = "u-reader";
    let (small, bigs) = seed(&d, user, big).await;
    let ctx = &d.ctx.ctx;
    let first = sync::sync(ctx, user, None, 100, sync::REST_MAX_BYTES).await.unwrap();
    let since = first.next_cursor;

    d.meter.take();
    let nothing = sync::sync(ctx, user, Some(&since), 100, sync::REST_MAX_BYTES).await.unwrap();
    let used = d.meter.take();
    assert!(nothing.changes.is_empty(), "{:?}", nothing.changes);
    record_cost(&format!("nothing changed, 1,000 conversations, {big} pulled"), used, 0);
    if big == 20 {
        assert!(used.requests <= 5, "{used:?}");
        assert!(used.read_units <= 20.0, "{used:?}");
    }

    // Changes in 20 conversations: a message in 10 small ones (5 of them edited too), recorded by
    // the notify function; a message in 10 pulled ones.
    let deliverer = Deliverer { ctx, provider: d.devices.as_ref(), content: Content::Full };
    for (i, room) in small.iter().take(10).enumerate() {
        let partner = d.ctx.store.list_members(room, None, 10).await.unwrap().items;
        let sender = partner.iter().find(|m| m.username != user).unwrap().username.clone();
        let id = send(&d, &sender, room, "hello").await;
        let mut changes = vec![Change::Message { conversation_id: room.clone(), id }];
        if i < 5 {
            messages::edit(&d.ctx, &sender, room, id, "edited".to_owned(), None).await.unwrap();
            changes.push(Change::MessageChanged { conversation_id: room.clone(), id });
        }
        assert!(deliverer.deliver(&changes).await.is_empty());
    }
    for room in bigs.iter().take(10) {
        send(&d, "c00000", room, "hello all").await;
    }
    d.meter.take();
    let changed = sync::sync(ctx, user, Some(&since), 100, sync::REST_MAX_BYTES).await.unwrap();
    let used = d.meter.take();
    assert_eq!(changed.changes.iter().filter(|c| c.kind == "conversation_activity").count(), 20);
    assert_eq!(changed.changes.iter().filter(|c| c.kind == "message_edited").count(), 5);
    record_cost(
        &format!("changes in 20 conversations, 1,000 conversations, {big} pulled"),
        used,
        changed.changes.len(),
    );
    assert!(used.requests <= 25, "{used:?}");
    d.meter.take();
    let again = sync::sync(ctx, user, Some(&changed.next_cursor), 100, sync::REST_MAX_BYTES).await.unwrap();
    assert!(again.changes.is_empty(), "{:?}", again.changes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_costs_what_changed_with_twenty_big_rooms() {
    costs(20).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_costs_what_changed_with_a_hundred_big_rooms() {
    costs(100).await;
}
