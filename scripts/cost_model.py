"""A priced day of a stated workload, for the previous design and this one (docs/architecture.md).

Usage: python3 scripts/cost_model.py     (prints the markdown table)

Capacity units per operation follow DynamoDB's billing rules (1 WCU per KB written, twice that in a
transaction; 1 RCU per 4 KB read strongly consistent, half that eventually consistent). They are
the units `infra/tests/request_counts.rs` measures on DynamoDB Local, except that DynamoDB Local
bills a transaction's writes once where AWS bills them twice; the previous design's figures are
the ones the rooms issue measured (room of 10: 9 units, 1,000: 550, on DynamoDB Local). Prices:
on-demand, us-east-1, 2025: $0.625 per million WCU, $0.125 per million RCU, $1.00 per million
API Gateway WebSocket messages, $0.25 per million connection minutes; push notifications: SNS
mobile push $0.50 per million publishes, Lambda arm64 $0.20 per million invocations and
$0.0000133334 per GB-second (the notify function: 256 MB).
"""

import math

WCU, RCU, MESSAGE, MINUTE = 0.625e-6, 0.125e-6, 1.00e-6, 0.25e-6
SNS_PUBLISH, LAMBDA_INVOKE, LAMBDA_GB_SECOND = 0.50e-6, 0.20e-6, 0.0000133334

USERS = 10_000
CONNECTS = 10  # per user per day
SENDS = 30  # per user per day
SESSION_MINUTES = 30  # how long a connection stays open
PER_USER = 20  # conversations each user is in
SIZES = [(10, 0.80), (100, 0.15), (1000, 0.05)]  # room size and its share: 80% ≤ 10, 15% ≤ 100, 5% ≈ 1,000
# Push notifications (docs/architecture.md, "Push notifications"): the share of users with a phone
# registered, mentions per message in rooms of 1,000 (notified by default only when mentioned),
# read markers set per user per day (each a silent badge update), the notify function's time per
# message at 256 MB (an estimate: the local gateway's runs take a few milliseconds a message plus
# DynamoDB and SNS round trips), and one invocation per message (the stream batches them on AWS,
# so this overstates it).
PHONES = 0.8
MENTIONS_PER_SEND = 0.1
READS = 30
NOTIFY_SECONDS = 0.05
FUNCTION_GB = 0.25  # every function's memory (template.yaml), the notify function's too
# Rooms of up to ROSTER_MAX members (shared/src/chat.rs) find their members' sockets on their
# profiles: a push reads each profile (1 read unit, strongly consistent) and `$connect` records
# nothing under them. Typing pushes read the same sockets: TYPING_PER_SEND of them per message
# (clients send `typing` at most every few seconds while composing), counted where the roster's
# size is chosen (break_even), not in the priced day (which, as before, prices sends).
ROSTER_MAX = 50
TYPING_PER_SEND = 1


def rooms_per_user(by):
    """(members, conversations of this size per user), PER_USER in all. The workload's shares read
    two ways: of each user's conversations (16 of 10 members, 3 of 100, 1 of 1,000), or of the
    rooms that exist (80% of the rooms have 10 members; as a room of 1,000 holds a hundred times
    the members, most memberships are then in big rooms: 2.2, 4.1 and 13.7 per user)."""
    if by == "conversations":
        return [(members, PER_USER * share) for members, share in SIZES]
    weight = sum(members * share for members, share in SIZES)
    return [(members, PER_USER * members * share / weight) for members, share in SIZES]


ONLINE = CONNECTS * SESSION_MINUTES / (24 * 60)  # share of members online at a time
STALE_HOURS = 2 - SESSION_MINUTES / 60  # a closed socket's record lives until 2 h after connect


def old_send(members):
    """(WCU, RCU): the conversation item carried the members map (~24 B each): the id counter
    and `pushed_id` updates wrote it whole; the sockets came from every member's profile."""
    item_kb = max(1, math.ceil(members * 24 / 1024))
    return item_kb + 4 + item_kb, members * 0.5


def new_send(online, members):
    """(WCU, RCU): the id counter with the push turn's claim 1, transaction 3 items × 2 (the
    sender's counter, the message, the sender's send-limit window), the push turn's release 1;
    the sockets' records (~130 B) read strongly consistent, or in a room on a roster the roster
    and every member's profile (1 unit each)."""
    if members <= ROSTER_MAX:
        return 8, 1 + members
    return 8, max(1, math.ceil(online * 130 / 4096))


def stale_hit(members):
    """The chance that a closed socket's record in a recorded room of `members` is found by a push
    (and deleted: 1 WCU and a 410) before it expires."""
    sends_per_room_hour = SENDS * members / PER_USER / 24
    return 1 - math.exp(-sends_per_room_hour * STALE_HOURS)


def break_even(typing_per_send):
    """The largest room whose members cost less on a roster than recorded, per room and day: a
    roster reads every member's profile per push (sends and typing), records cost every member a
    write per connection plus the stale record's deletion and its 410."""
    best = 1
    for n in range(2, 1001):
        pushes = SENDS * n / PER_USER * (1 + typing_per_send)
        roster = pushes * n * RCU
        hit = stale_hit(n)
        records = n * CONNECTS * ((1 + hit) * WCU + hit * MESSAGE)
        if roster > records:
            break
        best = n
    return best


def notify(members, sends, online_share):
    """(WCU, RCU, publishes) the notify function spends on `sends` messages in rooms of `members`,
    as measured on DynamoDB Local (infra/tests/push_delivery.rs): per message the watermark, the
    messages, the conversation, its write, the sender's name and a re-read; rooms of up to 100 read
    their member list and decide for every member, bigger ones only for the members a message
    mentions; per candidate one Query of their devices, memberships and profile (2 units for 20
    conversations), and for one a push may reach (a phone, away) a BatchGetItem of their
    conversations (half a unit each, eventually consistent as GET /conversations reads them) and
    the typing counter."""
    base_r = 5 + (math.ceil(members * 100 / 4096) if members <= 100 else 1)
    candidates = members - 1 if members <= 100 else MENTIONS_PER_SEND
    reachable = candidates * PHONES * (1 - online_share)
    reads = base_r + candidates * 2 + reachable * (PER_USER + 1) / 2
    return sends * 1, sends * reads, sends * reachable


def day(ROOMS):
    """The table rows and the day's totals for one reading of the workload."""
    per_user_rooms = sum(n for _, n in ROOMS)
    rows = []
    totals = {"old": [0.0, 0.0, 0.0], "new": [0.0, 0.0, 0.0]}  # WCU, RCU, API Gateway messages
    push = {"wcu": 0.0, "rcu": 0.0, "publishes": 0.0, "messages": 0.0}
    for members, per_user in ROOMS:
        rooms = USERS * per_user / members
        sends = USERS * SENDS * per_user / per_user_rooms
        online = members * ONLINE
        pushes = sends * (2 + max(0.0, online - 1))  # frame in, answer out, a push per other socket
        ow, orr = old_send(members)
        nw, nr = new_send(online, members)
        for key, (w, r) in (("old", (ow, orr)), ("new", (nw, nr))):
            totals[key][0] += sends * w
            totals[key][1] += sends * r
            totals[key][2] += pushes
        rows.append((members, rooms, sends, online, ow + orr, nw + nr))
        w, r, p = notify(members, sends, ONLINE)
        push["wcu"] += w
        push["rcu"] += r
        push["publishes"] += p
        push["messages"] += sends
    connects = USERS * CONNECTS
    # Previous: profile update and a connection item at $connect, the same undone at $disconnect,
    # presence reads. This one: the same on the profile, plus a record under each conversation.
    totals["old"][0] += connects * 4
    totals["old"][1] += connects * 2
    recorded_rooms = sum(n for members, n in ROOMS if members > ROSTER_MAX)
    records = connects * recorded_rooms
    totals["new"][0] += connects * 4 + records
    totals["new"][1] += connects * (math.ceil(per_user_rooms * 150 / 4096) + 1)
    # Records of closed sockets: deleted (1 WCU, and one 410 from PostToConnection) by the first
    # push that finds them before they expire.
    stale_hits = 0.0
    for members, per_user in ROOMS:
        if members > ROSTER_MAX:
            stale_hits += connects * per_user * stale_hit(members)
    totals["new"][0] += stale_hits
    totals["new"][2] += stale_hits
    minutes = connects * SESSION_MINUTES
    # Each read marker moved: a silent badge update to each phone of the reader (a Query and a
    # BatchGetItem of their conversations).
    badge_users = USERS * PHONES
    push["rcu"] += badge_users * READS * (2 + (PER_USER + 1) / 2)
    push["publishes"] += badge_users * READS
    push["messages"] += badge_users * READS
    return rows, totals, records, stale_hits, minutes, push


# The whole system (issue 27, part 3), on top of DynamoDB: what else a day of the workload calls.
# Every function has FUNCTION_GB (template.yaml); durations are a stated approximation (warm Rust
# handlers on the local gateway take a few ms of CPU; on AWS each DynamoDB or management-API round
# trip adds ~5–20 ms), not measured on AWS.
HTTP_REQUEST = 1.00e-6  # HTTP API, per request (first 300 M a month)
S3_PUT, S3_GET, S3_GB_MONTH = 0.005e-3, 0.0004e-3, 0.023
FUNCTION_SECONDS = 0.03  # per invocation, at 256 MB
REST_PER_CONNECT = 4  # GET /conversations, two histories, one token refresh
ATTACHED = 0.05  # share of messages with a file (presigned PUT, then a GET per member who opens it)
FILE_MB = 0.2
VIEWS = 3  # GETs of an attached file
# Operations (issue 28, docs/operations.md): CloudWatch Logs, $0.50 per GB ingested and $0.03 per
# GB-month stored (counted uncompressed, so an upper bound), kept LOG_RETENTION_DAYS (template.yaml's
# default). Bytes per line as the local gateway writes them (the same JSON the functions write on
# Lambda), measured on a run: a function's request line ~280 B; Lambda's own JSON START and REPORT
# lines ~150 B and ~400 B per invocation; an access line ~420 B (the gateway's ~490 B less its
# timestamp, level and message) per HTTP request and per WebSocket event; the notify function's
# line per message ~255 B. Alarms, $0.10 per metric a month (metric math and Metrics Insights
# count each metric they read): 66 functions' Errors and Throttles, 2 + 2 for the APIs, about 20
# DynamoDB operations' throttles and errors, 2 for the notify function; the dashboard $3 a month.
LOGS_GB, LOGS_GB_MONTH, LOG_RETENTION_DAYS = 0.50, 0.03, 30
REQUEST_LINE, PLATFORM_LINES, ACCESS_LINE, NOTIFIED_LINE = 280, 550, 420, 255
ALARM_METRICS, ALARM_METRIC_MONTH, DASHBOARD_MONTH = 66 * 2 + 4 + 20 + 2, 0.10, 3.00


def whole_system(rows, totals, push, sync):
    """(line items in dollars per day, messages sent per day) for everything the workload calls;
    `sync` is the sync feed's (WCU, RCU) a day (a sync at each connection)."""
    sends = sum(r[2] for r in rows)
    connects = USERS * CONNECTS
    # A typing frame in, its answer out, and in rooms of up to 100 members a push to every other
    # socket online (bigger rooms show no typing).
    typing_messages = sum(
        room_sends * TYPING_PER_SEND * (2 + (max(0.0, online - 1) if members <= 100 else 0))
        for members, _, room_sends, online, _, _ in rows
    )
    reads_messages = USERS * READS * 2
    ws_invocations = connects * 3 + sends * (1 + TYPING_PER_SEND) + USERS * READS  # authorizer, $connect, $disconnect
    # GET /sync at each connection (its WebSocket twin costs the same), POST /files, GET /files/{id}
    http_requests = connects * (REST_PER_CONNECT + 1) + sends * ATTACHED * 2
    invocations = ws_invocations + http_requests + push["messages"]
    lam = invocations * (LAMBDA_INVOKE + FUNCTION_SECONDS * FUNCTION_GB * LAMBDA_GB_SECOND)
    files = sends * ATTACHED
    # Requests, and a day's files kept a month (a GB-month), charged to the day they came.
    s3 = files * (S3_PUT + VIEWS * S3_GET) + files * FILE_MB / 1024 * S3_GB_MONTH
    # DynamoDB beyond the priced day, approximated from request_counts.rs's kinds of figures: a
    # typing frame (its limit's UpdateItem, the sockets' Query, on a roster the profiles; nothing in
    # rooms over 100), a read marker (2 write units), and per connection the REST reads and a
    # refresh (4 write, 6 read units).
    typing_units = sum(
        room_sends * TYPING_PER_SEND * (WCU + (1 + (members if members <= ROSTER_MAX else 0)) * RCU)
        for members, _, room_sends, _, _, _ in rows
        if members <= 100
    )
    other_dynamo = typing_units + USERS * READS * 2 * WCU + connects * (4 * WCU + 6 * RCU)
    # Logs: every invocation's platform and request lines; an access line per HTTP request and per
    # WebSocket event (every invocation but the authorizer's); the notify function's per message.
    log_bytes = (
        invocations * (PLATFORM_LINES + REQUEST_LINE)
        + (http_requests + ws_invocations - connects) * ACCESS_LINE
        + push["messages"] * NOTIFIED_LINE
    )
    log_gb = log_bytes / 1024**3
    logs = log_gb * (LOGS_GB + LOGS_GB_MONTH * LOG_RETENTION_DAYS / 30)
    watching = (ALARM_METRICS * ALARM_METRIC_MONTH + DASHBOARD_MONTH) / 30
    items = {
        "DynamoDB (sends, sockets, notify)": totals["new"][3] + push["wcu"] * WCU + push["rcu"] * RCU,
        "DynamoDB (typing, read markers, REST reads, refreshes; approximated)": other_dynamo,
        "DynamoDB (the sync feed: capture, a sync at each connection)": sync[0] * WCU + sync[1] * RCU,
        "API Gateway WebSocket (messages, typing, read markers, minutes)":
            totals["new"][4] + (typing_messages + reads_messages) * MESSAGE,
        "API Gateway HTTP API": http_requests * HTTP_REQUEST,
        "Lambda (every invocation, 256 MB)": lam,
        "SNS mobile push": push["publishes"] * SNS_PUBLISH,
        "S3 (attachments)": s3,
        f"CloudWatch Logs ({log_gb:,.2f} GB a day, kept {LOG_RETENTION_DAYS} days)": logs,
        "CloudWatch alarms and dashboard": watching,
    }
    return items, sends


def report_whole(items, sends):
    day = sum(items.values())
    print("| per day, everything | $ |")
    print("|---|---:|")
    for name, dollars in items.items():
        print(f"| {name} | {dollars:,.2f} |")
    print(f"| **all** | **{day:,.2f}** |")
    print(f"| per 1,000 monthly active users (30 days; every user active daily) | {day * 30 / (USERS / 1000):,.2f} |")
    print(f"| per million messages sent | {day / sends * 1e6:,.2f} |")


# The sync feed (issue 24, docs/architecture.md "The sync feed"): a sync at every connection.
FANOUT_MAX = 100  # rooms up to this size write to their members' feeds; bigger ones are pulled
EDITS = 0.02  # share of messages edited or deleted later (each a change for every member)


def sync_designs(ROOMS):
    """{design: (WCU, RCU, requests per sync with nothing changed for a user in 1,000
    conversations of which 20 are big)} per day, a sync at every connection.

    chosen: rooms of up to FANOUT_MAX add an activity key to each member's feed head the first
    time a message comes after the member's last sync (the notify function already reads the
    member's partition, head included, to decide the push: the key costs 1 WCU, the read
    nothing), the sender's head is read (1 RCU, a strongly consistent GetItem); bigger
    rooms write nothing per message and are read at sync (their conversation item, 0.5 RCU). A
    sync reads the head and the rooms it pulls (2 RCU), closes the open bucket (a transaction of 2 small
    items, 4 WCU), reads the buckets (1 RCU), each pulled room's item, and the state of each
    conversation that changed (its item and my membership, 1 RCU each, strongly consistent).
    fan_out_all: every message writes an entry to every member's feed (1 WCU each), whatever the
    room's size; a sync reads the entries since its cursor.
    read_all: nothing is captured; a sync reads all my memberships and every conversation's item
    (and, to find edits, each one's log): cheap for 20 conversations, a read per conversation."""
    per_user_rooms = sum(n for _, n in ROOMS)
    connects = USERS * CONNECTS
    pulled = sum(n for m, n in ROOMS if m > FANOUT_MAX)
    chosen_w = chosen_r = 0.0
    changed = 0.0  # conversations with a change per sync
    all_w = all_r = 0.0
    for members, per_user in ROOMS:
        sends = USERS * SENDS * per_user / per_user_rooms
        per_interval = SENDS * members / PER_USER / CONNECTS
        active = 1 - math.exp(-per_interval)
        changed += per_user * active
        if members <= FANOUT_MAX:
            chosen_w += USERS * per_user * CONNECTS * active + sends * EDITS * members
            chosen_r += sends * 1
        else:
            chosen_w += sends * EDITS * 2
            chosen_r += sends * EDITS
        all_w += sends * (1 + EDITS) * members
    own = USERS * READS  # read markers: a key in my own feed each
    chosen_w += own + connects * 4
    chosen_r += connects * (2 + 1 + pulled * 0.5 + changed * 2)
    entries_per_sync = sum(per_user * SENDS * m / PER_USER / CONNECTS for m, per_user in ROOMS)
    all_w += own
    all_r += connects * (1 + math.ceil(entries_per_sync * 100 / 4096) + changed)
    read_all_r = connects * (math.ceil(per_user_rooms * 150 / 4096) + per_user_rooms * 0.5 + per_user_rooms * 1)
    return {
        "chosen: fan out to rooms of up to 100, pull bigger ones": (chosen_w, chosen_r, 2 + math.ceil(20 / 100)),
        "fan every message out to every member's feed": (all_w, all_r, 2),
        # My memberships (a Query), every conversation's item (BatchGetItem, 100 a call), and each
        # one's log for edits: a request per conversation.
        "read every conversation at each sync": (0.0, read_all_r, 1 + math.ceil(1000 / 100) + 1000),
    }


def report_sync(ROOMS, today):
    print(f"| the sync feed, a sync at each of {USERS * CONNECTS / 1e3:,.0f} k connections a day | write units | read units | $ a day | vs today's DynamoDB (${today:,.2f}) | requests, a sync finding nothing in 1,000 conversations |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, (w, r, requests) in sync_designs(ROOMS).items():
        dollars = w * WCU + r * RCU
        print(f"| {name} | {w / 1e6:,.2f} M | {r / 1e6:,.2f} M | {dollars:,.2f} | +{dollars / today:.0%} | {requests} |")


def main():
    print(f"Roster break-even (members): {break_even(0)} counting sends only, {break_even(TYPING_PER_SEND)} with "
          f"{TYPING_PER_SEND} typing push per message; ROSTER_MAX = {ROSTER_MAX}.")
    print()
    for by, title in (
        ("conversations", "Shares of each user's conversations (16 of 10 members, 3 of 100, 1 of 1,000)"),
        ("rooms", "Shares of the rooms that exist (80% of rooms have 10 members; 2.2, 4.1 and 13.7 of each user's conversations)"),
    ):
        print(f"### {title}")
        print()
        rows, totals, records, stale_hits, minutes, push = day(rooms_per_user(by))
        report(rows, totals, records, stale_hits, minutes, push)
        print()
        today = totals["new"][3] + push["wcu"] * WCU + push["rcu"] * RCU
        report_sync(rooms_per_user(by), today)
        print()
        chosen = next(iter(sync_designs(rooms_per_user(by)).values()))
        report_whole(*whole_system(rows, totals, push, chosen[:2]))
        print()


def report(rows, totals, records, stale_hits, minutes, push):
    print("| room size | rooms | sends/day | online | units per send, previous | units per send, this |")
    print("|---:|---:|---:|---:|---:|---:|")
    for members, rooms, sends, online, old_units, new_units in rows:
        print(f"| {members:,} | {rooms:,.0f} | {sends:,.0f} | {online:.0f} | {old_units:,.0f} | {new_units:,.0f} |")
    print()
    print("| per day | previous design | this design |")
    print("|---|---:|---:|")
    for key in ("old", "new"):
        w, r, m = totals[key]
        totals[key].append(w * WCU + r * RCU)
        totals[key].append(m * MESSAGE + minutes * MINUTE)
    print(f"| DynamoDB write units | {totals['old'][0] / 1e6:,.2f} M | {totals['new'][0] / 1e6:,.2f} M |")
    print(f"| DynamoDB read units | {totals['old'][1] / 1e6:,.2f} M | {totals['new'][1] / 1e6:,.2f} M |")
    print(
        f"| DynamoDB units in all | {(totals['old'][0] + totals['old'][1]) / 1e6:,.2f} M | "
        f"{(totals['new'][0] + totals['new'][1]) / 1e6:,.2f} M |"
    )
    print(f"| **DynamoDB cost** | **${totals['old'][3]:,.2f}** | **${totals['new'][3]:,.2f}** |")
    print(f"| API Gateway messages | {totals['old'][2] / 1e6:,.2f} M | {totals['new'][2] / 1e6:,.2f} M |")
    print(f"| API Gateway cost (messages + {minutes / 1e6:.1f} M connection minutes) | ${totals['old'][4]:,.2f} | ${totals['new'][4]:,.2f} |")
    print(f"| of the new design's DynamoDB writes: socket records at `$connect` (rooms over {ROSTER_MAX}) | | {records / 1e6:,.2f} M |")
    print(f"| of the new design's DynamoDB writes: deleting closed sockets' records | | {stale_hits / 1e6:,.2f} M |")
    print(f"| DynamoDB cost, previous ÷ this | | **{totals['old'][3] / totals['new'][3]:.2f}×** |")
    dynamo = push["wcu"] * WCU + push["rcu"] * RCU
    sns = push["publishes"] * SNS_PUBLISH
    lam = push["messages"] * (LAMBDA_INVOKE + NOTIFY_SECONDS * FUNCTION_GB * LAMBDA_GB_SECOND)
    print(
        f"| push notifications (this design only): notify's DynamoDB ({push['wcu'] / 1e6:,.2f} M write, "
        f"{push['rcu'] / 1e6:,.2f} M read units) | | ${dynamo:,.2f} |"
    )
    print(f"| push notifications: {push['publishes'] / 1e6:,.2f} M SNS publishes | | ${sns:,.2f} |")
    print(f"| push notifications: the notify function, {push['messages'] / 1e6:,.2f} M invocations (Lambda) | | ${lam:,.2f} |")
    print(f"| this design's DynamoDB cost with push notifications (the previous design had none) | | ${totals['new'][3] + dynamo:,.2f} |")


if __name__ == "__main__":
    main()
