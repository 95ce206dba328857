//! Ordered, combined delivery of a conversation's messages.
//!
//! The write that hands a send its message id also signals the conversation's push turn (a lease
//! on the conversation's item) and takes the turn if nobody holds it. Whoever holds the turn
//! pushes every stored message nobody has pushed yet, in id order: to each connection one after
//! another, to different connections concurrently. A send that finds the turn held stores its
//! message, leaves it to the holder and answers: nobody waits for, or polls, another sender's
//! pushes. The holder releases the turn only if nothing was signalled since it last read, so the
//! last message of a burst never waits for the next send. As the signal comes before the message
//! is stored, a holder that finds an id handed out but not yet stored waits for it, up to
//! [`LATE`]; a send whose store took that long signals again once stored, so a holder that
//! stopped waiting never strands it. A holder that dies keeps the turn until its lease runs out;
//! the next signal then takes over. A holder whose time budget is spent retires: it pushes what
//! was handed out before it retired, and the sends that signal meanwhile take the turn after it.
//! All of it runs before the send answers, because Lambda freezes a function once it has.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt};

use crate::chat::Message;
use crate::clients::{Pushes, With};
use crate::error::StoreError;
use crate::fanout::{event, forget, FANOUT_CONCURRENCY};
use crate::ids::{ConnectionId, ConversationId, MessageId};
use crate::notify::PushError;
use crate::store::{persist, PushRelease, PushTurn, ReleaseMode, Released, Signalled, Target, TurnClaim};
use crate::Ctx;

/// How long a holder keeps the turn without renewing it: after that, a holder is presumed dead
/// and the next signal takes over. Every round renews it, right before it pushes when the
/// round's reads were slow, so the lease has to outlast a round's posts (at most [`PAGE`] to each
/// connection) plus one slow store request: measured on DynamoDB Local under a burst, where a
/// request can take seconds, 5 s let two holders push at once.
pub const LEASE_MS: i64 = 15_000;
/// Stored messages read per round.
pub const PAGE: usize = 50;
/// An id handed out this long before a later message was sent, and still neither stored nor
/// filled, belongs to a send that died (the send functions time out after 29 s): the holder
/// fills it with a void so the messages after it go out.
pub const GAP_MS: i64 = 30_000;
/// How long a holder waits for an id that was handed out (it saw the signal) to be stored before
/// it releases the turn without it; and how long a send's store may take, counted from before
/// it asked for its id, before the send signals again once stored. Measured as real time on each
/// side: the holder stops waiting only after reading at least this long after it saw the id, which
/// is after the id was handed out, so a store the holder missed took at least this long from the
/// send's side too, and that send signals. On AWS a store takes milliseconds, so this matters only
/// when DynamoDB throttles or a send died between its two writes (then each holder waits this
/// long until the id is filled with a void, [`GAP_MS`]). Under the burst on DynamoDB Local, where
/// stores queue for seconds, 1 s made nearly every send signal twice (docs/benchmarks.md).
pub const LATE: Duration = Duration::from_millis(5_000);

/// A send's ticket for the push turn, made right before it asks for its message id.
pub struct Ticket {
    holder: String,
    asked: Instant,
    now: i64,
}

impl Ticket {
    pub fn new(ctx: &Ctx) -> Self {
        Self { holder: ulid::Ulid::new().to_string(), asked: Instant::now(), now: ctx.now_ms() }
    }

    /// The claim to write with the id (or the signal).
    pub fn claim(&self) -> TurnClaim<'_> {
        TurnClaim { holder: &self.holder, now: self.now, lease_until: self.now + LEASE_MS }
    }
}

/// After a send filled the id it was handed with `ticket` (`own`: with its message; `None`: a
/// void): pushes everything pending if the id came with the turn; takes the turn over (signalling
/// again) if its holder's lease had run out; else, if storing took [`LATE`] or more, signals
/// again, as the holder may have stopped waiting for it.
pub async fn after_store(
    ctx: &With<impl Pushes>,
    conversation_id: &ConversationId,
    ticket: &Ticket,
    turn: Signalled,
    filled: MessageId,
    own: Option<&Message>,
) -> Result<(), StoreError> {
    match turn {
        Signalled::Holder(turn) => push(ctx, conversation_id, &ticket.holder, turn, filled, own, ticket.asked).await,
        Signalled::Stale => signal(ctx, conversation_id, filled, own).await,
        Signalled::Retiring => succeed(ctx, conversation_id, filled, own, ticket.asked).await,
        Signalled::Held if ticket.asked.elapsed() >= LATE => {
            tracing::info!(%conversation_id, id = filled.get(), "stored late; signalling the push turn again");
            signal(ctx, conversation_id, filled, own).await
        }
        Signalled::Held => Ok(()),
    }
}

/// Signals the push turn without handing out an id (`filled`: an id stored earlier, `own` its
/// message if the caller has it) and, if this call gets the turn, pushes everything pending.
pub async fn signal(
    ctx: &With<impl Pushes>,
    conversation_id: &ConversationId,
    filled: MessageId,
    own: Option<&Message>,
) -> Result<(), StoreError> {
    let ticket = Ticket::new(ctx);
    match ctx.store.claim_push_turn(conversation_id, &ticket.claim()).await? {
        Signalled::Holder(turn) => push(ctx, conversation_id, &ticket.holder, turn, filled, own, ticket.asked).await,
        Signalled::Retiring => succeed(ctx, conversation_id, filled, own, ticket.asked).await,
        Signalled::Held | Signalled::Stale => Ok(()),
    }
}

/// A send that signalled a retiring holder (see [`push`]'s budget): that holder pushes only what
/// was handed out before it retired, so this send claims the turn itself, again and again until
/// the retiring holder has released it (its last round: milliseconds, or its lease's end if it
/// died). Then it holds the turn, or finds a holder that claimed it after its own id was handed
/// out and so pushes it. The only polling in the push turn, and only by the sends that signal
/// during a retiring holder's last round.
async fn succeed(
    ctx: &With<impl Pushes>,
    conversation_id: &ConversationId,
    filled: MessageId,
    own: Option<&Message>,
    since: Instant,
) -> Result<(), StoreError> {
    let mut pause = Duration::from_millis(5);
    // A retiring holder's last rounds push only what was handed out before it retired, and its
    // lease runs out at most LEASE_MS after its last round: past that, something is wrong, and
    // this send stops waiting rather than spend its Lambda's time (the next send pushes it).
    let give_up = Instant::now() + Duration::from_millis(LEASE_MS as u64) + LATE;
    loop {
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(100));
        let ticket = Ticket::new(ctx);
        match ctx.store.claim_push_turn(conversation_id, &ticket.claim()).await? {
            Signalled::Holder(turn) => {
                return push(ctx, conversation_id, &ticket.holder, turn, filled, own, since).await
            }
            Signalled::Retiring if Instant::now() < give_up => continue,
            Signalled::Retiring => {
                tracing::warn!(%conversation_id, id = filled.get(), "the retiring holder never released the push turn; leaving the message to the next send");
                return Ok(());
            }
            Signalled::Held | Signalled::Stale => return Ok(()),
        }
    }
}

/// The holder's work: rounds of read, push, release until a release holds. `since`: when the
/// send began, from which its push budget counts.
///
/// A holder whose budget is spent and that finds new signals at its release retires instead of
/// going round again: it marks the turn retiring, makes its last rounds through the ids handed
/// out before that mark, and releases the turn whatever was signalled since. A send that signals
/// after the mark finds the turn [`Signalled::Retiring`] and claims it itself once stored
/// ([`succeed`]), so the end of a burst is never left for the room's next send.
async fn push(
    ctx: &With<impl Pushes>,
    conversation_id: &ConversationId,
    holder: &str,
    turn: PushTurn,
    filled: MessageId,
    own: Option<&Message>,
    since: Instant,
) -> Result<(), StoreError> {
    let mut pushed = turn.pushed_id;
    let mut seen = turn.signal;
    let mut last_id = turn.last_id;
    let mut renewed_at = ctx.now_ms();
    // Since when the holder has waited for id `.0` (handed out, not stored yet).
    let mut waiting: Option<(MessageId, Instant)> = None;
    let mut pause = Duration::from_millis(5);
    let budget = Duration::from_millis(ctx.config.push_budget_ms);
    // Retired: push only through `last_id` as it was at the mark, then release.
    let mut retired = false;
    // Uncontended: the caller's signal is the only one since everything handed out was pushed,
    // so nothing but the caller's own message can be waiting: no need to read.
    let mut fast = match own {
        _ if !turn.only_new_signal() || last_id > filled => None,
        _ if filled <= pushed => Some(Round { batch: Vec::new(), through: pushed, complete: true, clean: true }),
        Some(m) if filled == pushed + 1 => {
            Some(Round { batch: vec![m.clone()], through: filled, complete: true, clean: true })
        }
        // A void to step over, or ids before the caller's still being stored: read.
        _ => None,
    };
    loop {
        let read_at = Instant::now();
        let round = match fast.take() {
            Some(round) => round,
            None => match read_round(ctx, conversation_id, pushed).await {
                Ok(round) => round,
                Err(e) => return Err(hand_off(ctx, conversation_id, holder, pushed, e).await),
            },
        };
        if !round.batch.is_empty() {
            let targets = match ctx.store.conversation_connections(conversation_id, ctx.now_ms()).await {
                Ok(targets) => targets,
                Err(e) => return Err(hand_off(ctx, conversation_id, holder, pushed, e).await),
            };
            // Slow reads eat the lease: renew it right before pushing, or stop if someone took
            // over, so two holders never push at once.
            if ctx.now_ms() - renewed_at > LEASE_MS / 4 {
                let keep =
                    PushRelease { pushed_id: pushed, mode: ReleaseMode::Keep, lease_until: ctx.now_ms() + LEASE_MS };
                if release_turn(ctx, conversation_id, holder, keep).await? == Released::Lost {
                    return Ok(());
                }
                renewed_at = ctx.now_ms();
            }
            deliver(ctx, conversation_id, targets, &round.batch).await;
        }
        if round.through > pushed {
            pause = Duration::from_millis(5);
        }
        pushed = round.through;
        // An id handed out before the holder's last look is not stored yet: its send is storing
        // it. Wait for it (reading again) rather than release without it, up to LATE.
        if round.complete && pushed < last_id {
            match waiting {
                Some((id, since)) if id == pushed + 1 && read_at.duration_since(since) >= LATE => {
                    tracing::info!(%conversation_id, id = id.get(), "releasing the push turn without an id still being stored");
                }
                Some((id, _)) if id == pushed + 1 => {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_millis(100));
                    continue;
                }
                _ => {
                    waiting = Some((pushed + 1, Instant::now()));
                    tokio::time::sleep(pause).await;
                    continue;
                }
            }
        }
        let mode = if !round.complete {
            ReleaseMode::Keep
        } else if retired {
            ReleaseMode::Release
        } else {
            ReleaseMode::IfQuiet { seen, clean: round.clean && pushed >= last_id }
        };
        let release = PushRelease { pushed_id: pushed, mode, lease_until: ctx.now_ms() + LEASE_MS };
        match release_turn(ctx, conversation_id, holder, release).await? {
            Released::Released => return Ok(()),
            Released::Lost => {
                tracing::warn!(%conversation_id, pushed = pushed.get(), "push turn lost (lease ran out); the new holder goes on");
                return Ok(());
            }
            Released::Signalled(_) if retired => {}
            Released::Signalled(_) if since.elapsed() >= budget => {
                // Out of time: retire rather than this Lambda timing out mid-round and the room
                // waiting for the lease. The mark tells every later signal to claim the turn
                // itself once this holder is done; this holder pushes what was handed out before.
                let retire =
                    PushRelease { pushed_id: pushed, mode: ReleaseMode::Retire, lease_until: ctx.now_ms() + LEASE_MS };
                match release_turn(ctx, conversation_id, holder, retire).await? {
                    Released::Signalled(turn) => {
                        tracing::info!(
                            %conversation_id,
                            pushed = pushed.get(),
                            last_id = turn.last_id.get(),
                            "push budget spent; retiring after the ids handed out so far"
                        );
                        retired = true;
                        last_id = turn.last_id;
                        renewed_at = ctx.now_ms();
                    }
                    Released::Released | Released::Lost => return Ok(()),
                }
            }
            Released::Signalled(turn) => {
                seen = turn.signal;
                last_id = turn.last_id;
                renewed_at = ctx.now_ms();
            }
        }
    }
}

/// What one round pushes.
struct Round {
    /// Messages in id order, voids left out.
    batch: Vec<Message>,
    /// Every id up to this one is in the batch or void.
    through: MessageId,
    /// Nothing stored lies beyond `through` unread (a full page does not say).
    complete: bool,
    /// Complete, and no gap: everything stored has been read.
    clean: bool,
}

/// Reads what is stored after `pushed` and takes the run of consecutive ids from `pushed + 1`.
/// Stops at the first id not yet filled: its send is still storing it and will signal; one that
/// has been missing for [`GAP_MS`] is filled with a void here.
async fn read_round(ctx: &Ctx, conversation_id: &ConversationId, pushed: MessageId) -> Result<Round, StoreError> {
    loop {
        let stored = ctx.store.stored_after(conversation_id, pushed, PAGE).await?;
        let full = stored.len() == PAGE;
        let mut next = pushed + 1;
        let mut batch = Vec::new();
        let mut rest = stored.into_iter().peekable();
        while let Some((id, message)) = rest.next_if(|(id, _)| *id == next) {
            batch.extend(message);
            next = id + 1;
        }
        let beyond: Vec<Message> = rest.filter_map(|(_, m)| m).collect();
        let oldest_beyond = beyond.iter().map(|m| m.sent_at).min();
        if oldest_beyond.is_some_and(|sent_at| ctx.now_ms() - sent_at > GAP_MS) {
            tracing::warn!(%conversation_id, id = next.get(), "filling an id its send never stored");
            persist("fill a message id", || ctx.store.put_void(conversation_id, next)).await?;
            continue;
        }
        let gap = !beyond.is_empty();
        return Ok(Round { batch, through: next - 1, complete: !full, clean: !full && !gap });
    }
}

/// Gives the turn up after a failure, keeping what was pushed, so the next signal takes over at
/// once instead of after the lease; returns the failure.
async fn hand_off(
    ctx: &Ctx,
    conversation_id: &ConversationId,
    holder: &str,
    pushed: MessageId,
    error: StoreError,
) -> StoreError {
    tracing::warn!(%conversation_id, pushed = pushed.get(), error = %crate::error::Chain(&error), "push round failed; handing the turn on");
    let release = PushRelease { pushed_id: pushed, mode: ReleaseMode::Keep, lease_until: 0 };
    if let Err(e) = release_turn(ctx, conversation_id, holder, release).await {
        tracing::warn!(%conversation_id, error = %crate::error::Chain(&e), "could not hand the push turn on; its lease will run out");
    }
    error
}

/// Releases (or keeps) the turn: what was pushed must be recorded before the lease runs out, or
/// the next holder pushes it again.
async fn release_turn(
    ctx: &Ctx,
    conversation_id: &ConversationId,
    holder: &str,
    release: PushRelease,
) -> Result<Released, StoreError> {
    persist("release the push turn", || ctx.store.release_push_turn(conversation_id, holder, release)).await
}

/// Pushes `batch` (in order) to the conversation's live connections, each one frame after another,
/// `FANOUT_CONCURRENCY` connections at a time; a message skips the connection it came from. A
/// connection that asked for batch frames gets the round's messages for it in one
/// `send_message_batch` frame when there are several. A gone connection is forgotten; one that
/// keeps failing is closed, so its client reconnects and catches up with `after` instead of
/// missing a message silently.
async fn deliver(ctx: &With<impl Pushes>, conversation_id: &ConversationId, targets: Vec<Target>, batch: &[Message]) {
    let frames: Vec<(Option<&ConnectionId>, Arc<[u8]>)> =
        batch.iter().map(|m| (m.origin.as_ref(), Arc::from(event("send_message", m)))).collect();
    let frames = &frames;
    stream::iter(targets)
        .for_each_concurrent(FANOUT_CONCURRENCY, |target| async move {
            let found_under = target.found_under(Some(conversation_id));
            let Target { user, connection, batch: batches, .. } = target;
            let mine: Vec<usize> = (0..frames.len()).filter(|&i| frames[i].0 != Some(&connection)).collect();
            let combined: Vec<Arc<[u8]>> = if batches && mine.len() > 1 {
                let messages: Vec<&Message> = mine.iter().map(|&i| &batch[i]).collect();
                let data = serde_json::json!({ "conversation_id": conversation_id, "messages": messages });
                vec![Arc::from(event("send_message_batch", &data))]
            } else {
                mine.iter().map(|&i| frames[i].1.clone()).collect()
            };
            for frame in &combined {
                match post_with_retry(ctx, &connection, frame).await {
                    Ok(()) => {}
                    Err(PushError::Gone) => {
                        forget(ctx, found_under, &user, &connection).await;
                        return;
                    }
                    Err(PushError::Failed(e)) => {
                        tracing::warn!(error = %e, %connection, "push failed twice; closing the connection");
                        let _ = ctx.pusher().close(&connection).await;
                        forget(ctx, found_under, &user, &connection).await;
                        return;
                    }
                }
            }
        })
        .await;
}

async fn post_with_retry(ctx: &With<impl Pushes>, connection: &ConnectionId, frame: &[u8]) -> Result<(), PushError> {
    match ctx.pusher().post(connection, frame).await {
        Err(PushError::Failed(_)) => {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            ctx.pusher().post(connection, frame).await
        }
        other => other,
    }
}
