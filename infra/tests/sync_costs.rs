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

/// Target 1: what change capture adds, off the send path, per message and per edit (the notify
/// function's DynamoDB use around `deliver`, the push's own reads included for the message).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_change_capture_adds_per_message_and_per_edit() {
    let d = Domain::new(Backing::Dynamo).await;
    let people = names("t", 10);
    let crowd = names("b", 101);
    d.users(&people).await;
    d.users(&crowd).await;
    let small = d.room(&people).await;
    let big = d.room(&crowd).await;
    let ctx = &d.ctx.ctx;
    let deliverer = Deliverer { ctx, provider: d.devices.as_ref(), content: Content::Full };
    let deliver = |changes: Vec<Change>| {
        let deliverer = &deliverer;
        async move { assert!(deliverer.deliver(&changes).await.is_empty()) }
    };

    let first = send(&d, &people[0], &small, "one").await;
    d.meter.take();
    deliver(vec![Change::Message { conversation_id: small.clone(), id: first }]).await;
    let first_used = d.meter.take();
    let second = send(&d, &people[0], &small, "two").await;
    d.meter.take();
    deliver(vec![Change::Message { conversation_id: small.clone(), id: second }]).await;
    let second_used = d.meter.take();
    // The activity key, once per member between their syncs: 10 write units.
    assert!((first_used.write_units - second_used.write_units - 10.0).abs() < 0.01, "{first_used:?} {second_used:?}");
    record_cost(
        "capture: a message in a room of 10, the first since the members' syncs (push included)",
        first_used,
        0,
    );
    record_cost("capture: a message in a room of 10, activity already recorded (push included)", second_used, 0);

    messages::edit(&d.ctx, &people[0], &small, first, "one!".to_owned(), None).await.unwrap();
    d.meter.take();
    deliver(vec![Change::MessageChanged { conversation_id: small.clone(), id: first }]).await;
    let edit_small = d.meter.take();
    record_cost("capture: an edit in a room of 10", edit_small, 0);
    assert!(edit_small.requests <= 12, "{edit_small:?}");

    let id = send(&d, &crowd[0], &big, "hello").await;
    d.meter.take();
    deliver(vec![Change::Message { conversation_id: big.clone(), id }]).await;
    let message_big = d.meter.take();
    record_cost("capture: a message in a pulled room of 101 (push included; the capture adds nothing)", message_big, 0);
    assert_eq!(message_big.write_units, 1.0, "only the notify watermark: {message_big:?}");
    messages::edit(&d.ctx, &crowd[0], &big, id, "hello!".to_owned(), None).await.unwrap();
    d.meter.take();
    deliver(vec![Change::MessageChanged { conversation_id: big.clone(), id }]).await;
    let edit_big = d.meter.take();
    record_cost("capture: an edit in a pulled room of 101", edit_big, 0);
    // The conversation, the log's last entry, the entry, the conversation's log_seq.
    assert!(edit_big.requests <= 4, "{edit_big:?}");
}

/// Target 4: a user in 20 conversations (16 of 10 members, 3 of 100, 1 of 1,000: the cost
/// model's first reading) comes back after a day: messages everywhere, some edited, read markers
/// moved on another device, two conversations joined and one left. One sync of 500 brings them
/// up to date; its time on DynamoDB Local goes to the figures (median of 7, with min and max).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_day_away_is_one_sync() {
    let d = Domain::new(Backing::Dynamo).await;
    let user = "u-away".to_owned();
    let crowd = names("c", 999);
    d.users(std::slice::from_ref(&user)).await;
    d.users(&crowd).await;
    let room_of = |size: usize, offset: usize| {
        let mut members = vec![user.clone()];
        members.extend(crowd[offset..offset + size - 1].iter().cloned());
        members
    };
    let mut rooms = Vec::new();
    for i in 0..16 {
        rooms.push(d.room(&room_of(10, i * 9)).await);
    }
    for i in 0..3 {
        rooms.push(d.room(&room_of(100, 200 + i * 99)).await);
    }
    rooms.push(d.room(&room_of(1000, 0)).await);
    let ctx = &d.ctx.ctx;
    let big = d.ctx.store.get_conversation(&rooms[19]).await.unwrap().unwrap();
    d.ctx.store.pull(&user, &Pull::from(&big)).await.unwrap();
    let since = sync::sync(ctx, &user, None, 500, sync::REST_MAX_BYTES).await.unwrap().next_cursor;

    let deliverer = Deliverer { ctx, provider: d.devices.as_ref(), content: Content::Full };
    let mut changes = Vec::new();
    for (i, room) in rooms.iter().enumerate() {
        let sender = if i < 16 {
            &crowd[i * 9]
        } else if i < 19 {
            &crowd[200 + (i - 16) * 99]
        } else {
            &crowd[0]
        };
        for n in 0..3 {
            let id = send(&d, sender, room, &format!("message {n}")).await;
            changes.push(Change::Message { conversation_id: room.clone(), id });
            if n == 0 && i % 2 == 0 {
                messages::edit(&d.ctx, sender, room, id, "edited".to_owned(), None).await.unwrap();
                changes.push(Change::MessageChanged { conversation_id: room.clone(), id });
            }
        }
    }
    for room in rooms.iter().take(10) {
        let last = d.ctx.store.get_conversation(room).await.unwrap().unwrap().last_message_id;
        messages::mark_read(&d.ctx, &user, room, last, None).await.unwrap();
        changes.push(Change::Read { username: user.clone(), conversation_id: room.clone(), settings: false });
    }
    for n in 0..2 {
        let joined = d.room(&[crowd[900 + n].clone(), user.clone()]).await;
        changes.push(Change::MemberAdded {
            conversation_id: joined.clone(),
            username: user.clone(),
            by: None,
            joined_at: 0,
        });
        changes.push(Change::MemberAdded {
            conversation_id: joined,
            username: crowd[900 + n].clone(),
            by: None,
            joined_at: 0,
        });
    }
    chathub_shared::conversations::remove_member(&d.ctx, &user, &rooms[15], "me").await.unwrap();
    changes.push(Change::MemberRemoved { conversation_id: rooms[15].clone(), username: user.clone() });
    for chunk in changes.chunks(100) {
        assert!(deliverer.deliver(chunk).await.is_empty());
    }

    let mut times = Vec::new();
    let mut answer = None;
    for _ in 0..7 {
        d.meter.take();
        let started = std::time::Instant::now();
        let page = sync::sync(ctx, &user, Some(&since), 500, sync::REST_MAX_BYTES).await.unwrap();
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        answer = Some((page, d.meter.take()));
    }
    let (page, used) = answer.unwrap();
    assert!(!page.has_more, "one page brings them up to date");
    let activity = page.changes.iter().filter(|c| c.kind == "conversation_activity").count();
    assert_eq!(activity, 19, "every conversation but the one left");
    assert_eq!(page.changes.iter().filter(|c| c.kind == "conversation_joined").count(), 2);
    assert_eq!(page.changes.iter().filter(|c| c.kind == "conversation_left").count(), 1);
    times.sort_by(f64::total_cmp);
    let row = json!({"case": "a day away: 20 conversations, one sync of 500", "changes": page.changes.len(),
        "requests": used.requests, "read_units": used.read_units, "write_units": used.write_units,
        "ms_median": times[3], "ms_min": times[0], "ms_max": times[6]});
    eprintln!("sync time: {row}");
    if let Ok(out) = std::env::var("CHATHUB_SYNC_COSTS_OUT") {
        use std::io::Write;
        let mut file = std::fs::OpenOptions::new().create(true).append(true).open(out).unwrap();
        writeln!(file, "{row}").unwrap();
    }
}
