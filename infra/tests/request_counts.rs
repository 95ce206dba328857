//! What operations cost on DynamoDB Local, counted by an SDK interceptor (not estimated):
//! requests, and capacity units as DynamoDB reports them (`ReturnConsumedCapacity=TOTAL`). A send
//! costs the same in a room of 10, 1,000 or 10,000 members: 3 requests plus one Query for the
//! sockets online. Written as JSON to the file `CHATHUB_REQUEST_COUNTS_OUT` names, for
//! docs/benchmarks.md.

mod support;

use chathub_shared::chat::Kind;
use chathub_shared::messages::{self, HistoryQuery, SendMessage};
use chathub_shared::{accounts, blocks, conversations, pins, presence, reactions, MessageId};
use serde_json::json;
use support::domain::{names, Backing, Domain, Usage};

fn message(content: &str, client_id: Option<&str>) -> SendMessage {
    serde_json::from_value(json!({"content": content, "client_id": client_id})).unwrap()
}

/// Members online in the rooms measured: the yardstick.
const ONLINE: usize = 20;

#[derive(Default)]
struct Report(Vec<serde_json::Value>);

impl Report {
    /// Asserts the requests (exactly) and the capacity units (at most `units_budget`).
    #[track_caller]
    fn check(&mut self, operation: &str, got: Usage, requests: usize, units_budget: f64) {
        assert_eq!(got.requests, requests, "{operation}: requests ({got:?})");
        assert!(got.units() <= units_budget, "{operation}: {} units, budget {units_budget} ({got:?})", got.units());
        self.0.push(json!({
            "operation": operation,
            "requests": got.requests,
            "read_units": got.read_units,
            "write_units": got.write_units,
            "units": got.units(),
        }));
    }
}

/// Measures `$connect` and `$disconnect` of a user `busy` in 100 conversations with 100 others
/// (`request` makes the i-th, of kind `made`, from the others and i): `connect_requests` exactly,
/// `$connect` within `connect_units` and both together within `both_units`. Returns the domain,
/// with `busy` disconnected.
async fn busy_in_100_conversations(
    report: &mut Report,
    (label, made): (&str, Kind),
    request: impl Fn(&[String], usize) -> serde_json::Value,
    connect_requests: usize,
    (connect_units, both_units): (f64, f64),
) -> Domain {
    let d = Domain::new(Backing::Dynamo).await;
    let others = names("peer", 100);
    d.users(&others).await;
    d.users(&["busy".to_owned()]).await;
    for i in 0..others.len() {
        let request = serde_json::from_value(request(&others, i)).unwrap();
        let (view, _) = conversations::create(&d.ctx, "busy", request, None).await.unwrap();
        assert_eq!(view.kind, made);
    }
    d.meter.take();
    let socket = chathub_shared::ConnectionId::new("busy-0");
    presence::connect(&d.ctx, "busy", &socket, Default::default()).await.unwrap();
    let connect = d.meter.take();
    report.check(&format!("$connect (in 100 {label})"), connect, connect_requests, connect_units);
    presence::disconnect(&d.ctx, "busy", &socket).await.unwrap();
    let disconnect = d.meter.take();
    report.check(&format!("$disconnect (in 100 {label})"), disconnect, 2, 5.0);
    let both = connect.units() + disconnect.units();
    assert!(both <= both_units, "$connect + $disconnect in 100 {label}: {both} units");
    d
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_and_capacity_units_per_operation() {
    let mut report = Report::default();

    let d = Domain::new(Backing::Dynamo).await;
    let register = json!({"username": "counted", "password": "correct horse battery", "email": "c@example.com"});
    accounts::register(&d.ctx, serde_json::from_value(register).unwrap()).await.unwrap();
    report.check("register (with email)", d.meter.take(), 2, 10.0);
    let login = json!({"username": "counted", "password": "correct horse battery"});
    accounts::login(&d.ctx, serde_json::from_value(login).unwrap(), "127.0.0.1").await.unwrap();
    // The user; the address's and the (user, address) pair's attempt counters, counted before the
    // password is checked; on success the pair's deleted and the address's attempt given back;
    // the session.
    report.check("login", d.meter.take(), 6, 10.0);
    let ten = names("member", 10);
    d.users(&ten).await;
    d.meter.take();
    let request = serde_json::from_value(json!({"name": "counted", "members": ten[1..]})).unwrap();
    conversations::create(&d.ctx, &ten[0], request, None).await.unwrap();
    // Users (BatchGetItem), the conversation with its members (TransactWriteItems), the members'
    // sockets to record (BatchGetItem): nobody is online, so nothing more.
    report.check("create_conversation (10 members)", d.meter.take(), 3, 60.0);

    // A room of 10 is within a roster (chat::ROSTER_MAX): its sockets are found on the members'
    // profiles, one BatchGetItem more per send and a read unit per member, while `$connect`
    // records nothing under it.
    for (members, requests, units_budget) in [(10, 5, 16.0), (1_000, 4, 25.0), (10_000, 4, 30.0)] {
        let d = Domain::new(Backing::Dynamo).await;
        let everyone = names("m", members);
        d.users(&everyone).await;
        let id = d.room(&everyone).await;
        for member in everyone.iter().take(ONLINE) {
            d.connect(member, 0).await;
        }
        let owner = &everyone[0];
        d.meter.take();
        messages::send(&d.ctx, owner, &id, message("hello", None), None).await.unwrap();
        let label = format!("send_message ({members} members, {ONLINE} online)");
        // The id with the push turn (UpdateItem), the message (TransactWriteItems), the sockets
        // (Query; on a roster, and the profiles: BatchGetItem), the release (UpdateItem).
        report.check(&label, d.meter.take(), requests, units_budget);
        // A client_id costs one GetItem more (the retry check) and its claim in the transaction.
        messages::send(&d.ctx, owner, &id, message("once", Some("c-1")), None).await.unwrap();
        let label = format!("send_message with client_id ({members} members, {ONLINE} online)");
        report.check(&label, d.meter.take(), requests + 1, units_budget + 4.0);
        // A retry of it reads the claim and the original, and signals the push turn in case its
        // first try stored the message but did not push it.
        let (_, created) = messages::send(&d.ctx, owner, &id, message("once", Some("c-1")), None).await.unwrap();
        assert!(!created);
        report.check(&format!("send_message, repeated client_id ({members} members)"), d.meter.take(), 4, 6.0);
        messages::history(&d.ctx, owner, &id, HistoryQuery { after: Some(0), ..Default::default() }).await.unwrap();
        report.check(&format!("get_messages ({members} members)"), d.meter.take(), 2, 4.0);

        // Reactions and pins (docs/architecture.md, "Reactions and pins"): the message (GetItem),
        // the change (TransactWriteItems: the membership checked, the member's own reactions, the
        // message), the push as a message's (Query; on a roster, and the profiles).
        let push = requests - 3;
        let first = MessageId::new(1);
        reactions::add(&d.ctx, owner, &id, first, "👍", None).await.unwrap();
        report.check(&format!("add_reaction ({members} members, {ONLINE} online)"), d.meter.take(), 2 + push, 20.0);
        reactions::add(&d.ctx, &everyone[1], &id, first, "👍", None).await.unwrap();
        d.meter.take();
        // Adding it again reads the message and is refused by the member's own record: no push.
        reactions::add(&d.ctx, owner, &id, first, "👍", None).await.unwrap();
        report.check(&format!("add_reaction again ({members} members)"), d.meter.take(), 2, 12.0);
        // History with reactions costs what it cost without: the message says who reacted.
        let page = messages::history(&d.ctx, owner, &id, HistoryQuery::default()).await.unwrap();
        let reacted = page.messages.iter().find(|m| m.id == first).unwrap();
        assert_eq!(reacted.my_reactions.as_deref(), Some(&["👍".to_owned()][..]));
        report.check(&format!("get_messages with reactions ({members} members)"), d.meter.take(), 2, 4.0);
        reactions::remove(&d.ctx, owner, &id, first, "👍", None).await.unwrap();
        report.check(&format!("remove_reaction ({members} members, {ONLINE} online)"), d.meter.take(), 2 + push, 20.0);
        // A pin: the message (GetItem), the pin, the count, the mark and the membership check
        // (TransactWriteItems), the push.
        pins::pin(&d.ctx, owner, &id, first, None).await.unwrap();
        report.check(&format!("pin ({members} members, {ONLINE} online)"), d.meter.take(), 2 + push, 20.0);
        pins::list(&d.ctx, owner, &id).await.unwrap();
        // The membership (GetItem) and the pins (Query) at once, the messages (BatchGetItem).
        report.check(&format!("get_pins, 1 pinned ({members} members)"), d.meter.take(), 3, 6.0);
        pins::unpin(&d.ctx, owner, &id, first, None).await.unwrap();
        report.check(&format!("unpin ({members} members, {ONLINE} online)"), d.meter.take(), 2 + push, 20.0);
    }

    // $connect and $disconnect of a user in 100 groups just past a roster's size (recorded).
    // Profile (UpdateItem, which returns when the user was last online), memberships (Query), the
    // socket recorded under each conversation (4 BatchWriteItem); the first socket announces
    // presence to who has the user as a contact (Query). One write unit per conversation
    // recording the socket (the floor of this design), plus a few for the profile, the
    // memberships and presence.
    let others =
        |of: &[String], i: usize, n: usize| -> Vec<String> { (0..n).map(|k| of[(i + k) % of.len()].clone()).collect() };
    let past = chathub_shared::chat::ROSTER_MAX + 1;
    let groups = |of: &[String], i: usize| json!({"name": format!("past {i}"), "members": others(of, i, past - 1)});
    let label = format!("groups of {past}");
    busy_in_100_conversations(&mut report, (&label, Kind::Group), groups, 7, (110.0, 110.0)).await;
    // The same user in 100 groups of 3: on their roster, so found on the profiles like a direct
    // conversation's members (below), and `$connect` records nothing under them.
    let small = |of: &[String], i: usize| json!({"name": format!("three {i}"), "members": others(of, i, 2)});
    let d = busy_in_100_conversations(&mut report, ("groups of 3", Kind::Group), small, 3, (10.0, 15.0)).await;
    // A send in a group of 10 on its roster, all online: the id with the push turn (UpdateItem),
    // the message (TransactWriteItems), the roster (Query), the ten profiles (BatchGetItem,
    // strongly consistent), the release (UpdateItem). The rooms issue's target: at most 4 write
    // units and 12 read units.
    let ten = names("ten", 10);
    d.users(&ten).await;
    let room = d.room(&ten).await;
    for member in &ten {
        d.connect(member, 0).await;
    }
    d.meter.take();
    messages::send(&d.ctx, &ten[0], &room, message("hello", None), None).await.unwrap();
    let used = d.meter.take();
    assert!(used.write_units <= 4.0 && used.read_units <= 12.0, "a send in a roster room of 10: {used:?}");
    report.check("send_message (group of 10 on its roster, all online)", used, 5, 16.0);
    // The same user in 100 direct conversations: their sockets are found on the two members'
    // profiles when something is pushed, so `$connect` records nothing under them: profile
    // (UpdateItem), memberships (Query), presence (Query).
    let directs = |of: &[String], i: usize| json!({"members": [of[i]]});
    let d =
        busy_in_100_conversations(&mut report, ("direct conversations", Kind::Direct), directs, 3, (10.0, 15.0)).await;
    let socket = chathub_shared::ConnectionId::new("busy-0");
    // A send in one of them, both members online: the id with the push turn (UpdateItem), the
    // message (TransactWriteItems), the conversation's socket records and roster (Query), the
    // two profiles (BatchGetItem, strongly consistent), the release (UpdateItem).
    let direct = conversations::mine(&d.ctx, "busy").await.unwrap()[0].0.id.clone();
    let peer = conversations::get(&d.ctx, "busy", &direct).await.unwrap().members.unwrap();
    let peer = peer.iter().find(|m| *m != "busy").unwrap().clone();
    presence::connect(&d.ctx, "busy", &socket, Default::default()).await.unwrap();
    d.connect(&peer, 0).await;
    d.meter.take();
    messages::send(&d.ctx, "busy", &direct, message("hello", None), None).await.unwrap();
    report.check("send_message (direct conversation, both online)", d.meter.take(), 5, 9.0);

    // Blocks (docs/architecture.md, "Blocks"). With a direct conversation: the blocked user's
    // profile (GetItem, for a 404), the pair's direct claim and the blocked side's membership
    // (GetItem each), then the record, the blocker's set and the mark (TransactWriteItems).
    blocks::block(&d.ctx, "busy", &peer).await.unwrap();
    report.check("block (the pair has a direct conversation)", d.meter.take(), 4, 12.0);
    // The blocked user's send is refused by the membership check it already makes; telling why
    // reads the membership once more, on the refusal only.
    let refused = messages::send(&d.ctx, &peer, &direct, message("let me", None), None).await;
    assert!(matches!(refused, Err(chathub_shared::ApiError::Forbidden { code: "blocked", .. })), "{refused:?}");
    d.meter.take();
    blocks::unblock(&d.ctx, "busy", &peer).await.unwrap();
    report.check("unblock (the pair has a direct conversation)", d.meter.take(), 3, 12.0);
    // Without one: the profile, the claim (absent: checked in the transaction), the transaction.
    let stranger = names("stranger", 1);
    d.users(&stranger).await;
    d.meter.take();
    blocks::block(&d.ctx, "busy", &stranger[0]).await.unwrap();
    report.check("block (no direct conversation)", d.meter.take(), 3, 10.0);
    // And nothing more for what a block leaves alone: a send in the direct conversation, now
    // unblocked, costs what it did.
    messages::send(&d.ctx, &peer, &direct, message("back", None), None).await.unwrap();
    report.check("send_message (direct conversation, both online, after an unblock)", d.meter.take(), 5, 9.0);

    if let Ok(out) = std::env::var("CHATHUB_REQUEST_COUNTS_OUT") {
        std::fs::write(out, serde_json::to_string_pretty(&report.0).unwrap()).unwrap();
    }
    for row in &report.0 {
        eprintln!("{row}");
    }
}
