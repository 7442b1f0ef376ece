//! The event log: every swarm action, persisted in batches and fanned out live.
//!
//! Many actors append at once; one writer task drains the queue and writes whatever has
//! accumulated in a single transaction (group commit), so throughput grows with load
//! instead of paying one transaction per event. Sequence numbers are handed out by the
//! store inside that transaction, which keeps them gap-free even with several processes.
//!
//! An autopilot step's checkpoint travels with the events that report it
//! ([`EventLog::commit`]) and is written in the same transaction, so a crash can never
//! leave a finished step without its event or an event without its step.
//!
//! Nothing accepted is dropped. Transient database failures (connection lost, pool
//! closed or timed out, the server shutting down, serialization conflicts, SQLite busy)
//! are retried with back-off; a batch the database refuses outright is retried unit by
//! unit so one bad row cannot sink its neighbours. Whatever still cannot be written —
//! the database is down when the process must stop ([`EventLog::close_within`]), or a
//! row is refused — is appended to a local journal (JSON lines, under the data folder)
//! and written by [`EventLog::replay_journal`] at the next start, gap-free, since
//! numbers are handed out when rows are inserted. The writer task is supervised: a
//! panic in it is caught, counted ([`EventLog::writer_restarts`]) and the writer
//! restarted on the same queue.
//!
//! In a cluster, the events of a tenant whose swarm runs here carry its lease epoch
//! ([`EventLog::fence`]), and the store refuses them once the lease has moved on. Those
//! are the one exception to "nothing is dropped": they are answered with
//! [`MemoryError::Fenced`] and not journaled, since the tenant's new holder writes its
//! own.
//!
//! Live subscribers get events only *after* they are persisted, so a subscriber that
//! reconnects with "everything after N" can always be served from the database, and
//! the live stream never shows an event the log could lose. A subscriber too slow for
//! the bounded broadcast buffer falls back to reading the database from its last
//! sequence number: it catches up without gaps and without growing server memory.

use std::collections::VecDeque;
use std::io::Write as _;
use std::ops::Deref;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use dashmap::DashMap;
use futures::FutureExt;
use serde::{Deserialize, Serialize};
use tokio::sync::{Mutex, broadcast, mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::MemoryError;
use crate::model::{Checkpoint, NewEvent, SwarmEvent, TenantId};
use crate::store::{MemoryResult, SharedStore};

/// Tuning of the event log.
#[derive(Debug, Clone)]
pub struct EventLogConfig {
    /// Appends queued at most before `append` waits: the log's back-pressure.
    pub queue_capacity: usize,
    /// Most events written in one transaction.
    pub max_batch: usize,
    /// Live events buffered per tenant before a slow subscriber falls back to the database.
    pub subscriber_buffer: usize,
    /// Where events that could not be written are kept for the next start (see the
    /// module docs); `None` keeps no journal, and such events are only logged.
    pub journal: Option<PathBuf>,
    /// For drills and tests: called with each batch right before the store writes it,
    /// inside the same guard, so a panic here is handled as a panic of the store's would
    /// be. `None` outside drills.
    pub write_probe: Option<WriteProbe>,
}

impl Default for EventLogConfig {
    fn default() -> Self {
        Self { queue_capacity: 65_536, max_batch: 4_096, subscriber_buffer: 1_024, journal: None, write_probe: None }
    }
}

/// What a [`WriteProbe`] calls with each batch.
pub type ProbeFn = dyn Fn(&[NewEvent]) + Send + Sync;

/// See [`EventLogConfig::write_probe`].
#[derive(Clone)]
pub struct WriteProbe(pub Arc<ProbeFn>);

impl std::fmt::Debug for WriteProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WriteProbe")
    }
}

/// The journal's file name inside a data folder.
pub const JOURNAL_FILE: &str = "event-journal.jsonl";

type CommitReply = oneshot::Sender<MemoryResult<Vec<SwarmEvent>>>;

enum Command {
    Append(NewEvent, Option<oneshot::Sender<MemoryResult<SwarmEvent>>>),
    Commit(Vec<NewEvent>, Checkpoint, CommitReply),
    Flush(oneshot::Sender<()>),
    Close(oneshot::Sender<()>),
}

struct Shared {
    store: SharedStore,
    config: EventLogConfig,
    tenants: DashMap<TenantId, broadcast::Sender<Arc<LoggedEvent>>>,
    all: broadcast::Sender<Arc<LoggedEvent>>,
    /// Set by `close_within`: past this instant the writer stops retrying and journals.
    give_up_at: watch::Sender<Option<Instant>>,
    /// Set once the database failed past the close deadline: the rest goes to the journal.
    gave_up: AtomicBool,
    /// Events written to the journal instead of the database since start.
    journaled: AtomicU64,
    /// Times the writer task was restarted after a panic.
    writer_restarts: AtomicU64,
    /// The lease epoch of each tenant whose swarm this process runs (see
    /// [`EventLog::fence`]).
    fences: DashMap<TenantId, i64>,
}

/// Handle to the event log; cheap to clone, shared by every actor of the process.
#[derive(Clone)]
pub struct EventLog {
    queue: mpsc::Sender<Command>,
    shared: Arc<Shared>,
    writer: Arc<Mutex<Option<JoinHandle<()>>>>,
}

/// What [`EventLog::close_within`] achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CloseReport {
    /// Events written to the journal, since start, instead of the database.
    pub journaled: u64,
}

impl EventLog {
    /// Starts the writer task on the current tokio runtime.
    pub fn start(store: SharedStore, config: EventLogConfig) -> Self {
        let (queue, receiver) = mpsc::channel(config.queue_capacity);
        let (all, _) = broadcast::channel(config.subscriber_buffer);
        let shared = Arc::new(Shared {
            store,
            config,
            tenants: DashMap::new(),
            all,
            give_up_at: watch::channel(None).0,
            gave_up: AtomicBool::new(false),
            journaled: AtomicU64::new(0),
            writer_restarts: AtomicU64::new(0),
            fences: DashMap::new(),
        });
        let writer = tokio::spawn(supervise_writer(receiver, shared.clone()));
        Self { queue, shared, writer: Arc::new(Mutex::new(Some(writer))) }
    }

    /// The store the log writes to.
    pub fn store(&self) -> &SharedStore {
        &self.shared.store
    }

    /// From now on, events of `tenant` appended through this log carry `epoch` (unless
    /// they carry one already), and the store refuses them once the tenant's lease has
    /// moved past it: the swarm that holds the lease at `epoch` runs here.
    pub fn fence(&self, tenant: TenantId, epoch: i64) {
        self.shared.fences.insert(tenant, epoch);
    }

    /// Stops stamping `tenant`'s events with `epoch` (its swarm here has stopped).
    /// Another epoch set since is left alone.
    pub fn unfence(&self, tenant: TenantId, epoch: i64) {
        self.shared.fences.remove_if(&tenant, |_, current| *current == epoch);
    }

    /// The epoch `tenant`'s events are stamped with here, if any.
    pub fn fence_of(&self, tenant: TenantId) -> Option<i64> {
        self.shared.fences.get(&tenant).map(|epoch| *epoch)
    }

    fn stamped(&self, mut event: NewEvent) -> NewEvent {
        if event.fence.is_none() && !self.shared.fences.is_empty() {
            event.fence = self.fence_of(event.tenant_id);
        }
        event
    }

    /// Queues an event. Returns once the log has accepted it; an accepted event is
    /// persisted (or journaled, see the module docs) before [`EventLog::close`]
    /// returns. Waits while the queue is full.
    pub async fn append(&self, event: NewEvent) -> MemoryResult<()> {
        self.queue.send(Command::Append(self.stamped(event), None)).await.map_err(|_| MemoryError::EventLogClosed)
    }

    /// Queues an event without waiting; fails when the queue is full or closed. For
    /// callers that cannot await (drop handlers, synchronous hooks).
    pub fn try_append(&self, event: NewEvent) -> MemoryResult<()> {
        self.queue.try_send(Command::Append(self.stamped(event), None)).map_err(|_| MemoryError::EventLogClosed)
    }

    /// Appends an event and waits until it is persisted, returning it with its number.
    pub async fn append_and_wait(&self, event: NewEvent) -> MemoryResult<SwarmEvent> {
        let (reply, persisted) = oneshot::channel();
        self.queue
            .send(Command::Append(self.stamped(event), Some(reply)))
            .await
            .map_err(|_| MemoryError::EventLogClosed)?;
        persisted.await.map_err(|_| MemoryError::EventLogClosed)?
    }

    /// Writes `events` and `checkpoint` in one transaction and waits for it: both are
    /// stored or neither is. Answers the stored events in order. When the database
    /// cannot be reached before the log must close, both go to the journal and this
    /// answers an error: the step is not done in this process, and the next start
    /// writes them.
    pub async fn commit(&self, events: Vec<NewEvent>, checkpoint: Checkpoint) -> MemoryResult<Vec<SwarmEvent>> {
        let (reply, persisted) = oneshot::channel();
        let events = events.into_iter().map(|event| self.stamped(event)).collect();
        self.queue.send(Command::Commit(events, checkpoint, reply)).await.map_err(|_| MemoryError::EventLogClosed)?;
        persisted.await.map_err(|_| MemoryError::EventLogClosed)?
    }

    /// Waits until every event accepted before this call is persisted.
    pub async fn flush(&self) -> MemoryResult<()> {
        let (reply, flushed) = oneshot::channel();
        self.queue.send(Command::Flush(reply)).await.map_err(|_| MemoryError::EventLogClosed)?;
        flushed.await.map_err(|_| MemoryError::EventLogClosed)
    }

    /// Persists everything accepted so far and stops the writer, however long the
    /// database takes. Later appends fail with [`MemoryError::EventLogClosed`].
    /// Idempotent.
    pub async fn close(&self) {
        self.close_until(None).await;
    }

    /// Like [`EventLog::close`], but gives up on the database at `deadline`: what is
    /// not written by then goes to the journal (when one is configured), so a process
    /// told to stop while its database is down still exits in time and loses nothing.
    pub async fn close_within(&self, deadline: Instant) -> CloseReport {
        self.close_until(Some(deadline)).await;
        CloseReport { journaled: self.shared.journaled.load(Ordering::Relaxed) }
    }

    async fn close_until(&self, deadline: Option<Instant>) {
        let Some(writer) = self.writer.lock().await.take() else {
            return;
        };
        if deadline.is_some() {
            self.shared.give_up_at.send_replace(deadline);
        }
        let (reply, closed) = oneshot::channel();
        if self.queue.send(Command::Close(reply)).await.is_ok() {
            let _ = closed.await;
        }
        if let Err(error) = writer.await {
            tracing::error!(%error, "event log writer ended abnormally");
        }
    }

    /// Times the writer task panicked and was restarted since start.
    pub fn writer_restarts(&self) -> u64 {
        self.shared.writer_restarts.load(Ordering::Relaxed)
    }

    /// Events written to the journal instead of the database since start.
    pub fn journaled(&self) -> u64 {
        self.shared.journaled.load(Ordering::Relaxed)
    }

    /// Writes what an earlier process left in the journal at `path` (see the module
    /// docs), then removes the file; answers how many events were written. Call it at
    /// start-up, before swarms run. All entries go in one transaction, so a crash
    /// during replay leaves the journal whole for the next try; entries the database
    /// refuses even one by one (their tenant was deleted meanwhile) are moved to a
    /// `.rejected` file beside it and logged, never silently dropped.
    pub async fn replay_journal(store: &SharedStore, path: &Path) -> MemoryResult<usize> {
        let text = match tokio::fs::read_to_string(path).await {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(error) => return Err(MemoryError::Journal(format!("cannot read {}: {error}", path.display()))),
        };
        // A line cut short by a crash mid-write is the only kind that fails to parse;
        // everything before it was written whole.
        let entries: Vec<JournalEntry> = text.lines().filter_map(|line| serde_json::from_str(line).ok()).collect();
        let (events, checkpoints) = flatten(&entries);
        let written = match store.append_events_and_checkpoints(&events, &checkpoints).await {
            Ok(stored) => stored.len(),
            Err(error) if is_transient(&error) => return Err(error),
            Err(error) => {
                tracing::error!(%error, "journal refused as a whole; replaying it entry by entry");
                let mut written = 0;
                let mut rejected = Vec::new();
                for entry in entries {
                    let checkpoints: Vec<Checkpoint> = entry.checkpoint.iter().cloned().collect();
                    match store.append_events_and_checkpoints(&entry.events, &checkpoints).await {
                        Ok(stored) => written += stored.len(),
                        Err(error) if is_transient(&error) => return Err(error),
                        Err(error) => {
                            tracing::error!(%error, events = entry.events.len(), "journal entry refused; kept aside");
                            rejected.push(entry);
                        }
                    }
                }
                let mut aside = path.as_os_str().to_owned();
                aside.push(".rejected");
                append_to_journal(Path::new(&aside), &rejected)
                    .map_err(|error| MemoryError::Journal(format!("cannot keep refused entries aside: {error}")))?;
                written
            }
        };
        tokio::fs::remove_file(path)
            .await
            .map_err(|error| MemoryError::Journal(format!("cannot remove {}: {error}", path.display())))?;
        tracing::info!(events = written, journal = %path.display(), "journaled events written");
        Ok(written)
    }

    /// Live events of one tenant, starting after `after_seq` (0 for everything). Events
    /// already persisted are read from the database first, then live ones follow, with
    /// no gap and no duplicate.
    pub fn subscribe(&self, tenant: TenantId, after_seq: i64) -> EventSubscription {
        let live = self
            .shared
            .tenants
            .entry(tenant)
            .or_insert_with(|| broadcast::channel(self.shared.config.subscriber_buffer).0)
            .subscribe();
        EventSubscription {
            tenant,
            last_seq: after_seq,
            store: self.shared.store.clone(),
            live,
            backlog: VecDeque::new(),
            catching_up: true,
        }
    }

    /// Every tenant's events as they are persisted, for process-wide readers (metrics,
    /// cross-node relays). Lagging readers miss events and are told how many.
    pub fn subscribe_all(&self) -> broadcast::Receiver<Arc<LoggedEvent>> {
        self.shared.all.subscribe()
    }

    /// Hands events another process persisted to this process's subscribers of their
    /// tenants (not to [`EventLog::subscribe_all`], which is this process's writes only,
    /// so a relay never sends back what it relayed). They are persisted already, so the
    /// live-after-persisted rule holds; a subscription skips what it has seen and reads
    /// any gap from the database, so events relayed twice or out of order are harmless.
    pub fn relay(&self, events: impl IntoIterator<Item = SwarmEvent>) {
        for event in events {
            let Some(sender) = self.shared.tenants.get(&event.tenant_id) else { continue };
            let _ = sender.send(Arc::new(LoggedEvent::new(event)));
        }
    }

    /// Whether anyone in this process subscribes to the tenant's events.
    pub fn is_subscribed(&self, tenant: TenantId) -> bool {
        self.shared.tenants.get(&tenant).is_some_and(|sender| sender.receiver_count() > 0)
    }
}

/// One line of the journal: what one unit of work wanted written together.
#[derive(Debug, Serialize, Deserialize)]
struct JournalEntry {
    events: Vec<NewEvent>,
    #[serde(default)]
    checkpoint: Option<Checkpoint>,
}

fn flatten(entries: &[JournalEntry]) -> (Vec<NewEvent>, Vec<Checkpoint>) {
    let events = entries.iter().flat_map(|entry| entry.events.iter().cloned()).collect();
    let checkpoints = entries.iter().filter_map(|entry| entry.checkpoint.clone()).collect();
    (events, checkpoints)
}

fn append_to_journal(path: &Path, entries: &[JournalEntry]) -> std::io::Result<()> {
    if entries.is_empty() {
        return Ok(());
    }
    if let Some(folder) = path.parent().filter(|folder| !folder.as_os_str().is_empty()) {
        std::fs::create_dir_all(folder)?;
    }
    let mut lines = Vec::new();
    for entry in entries {
        serde_json::to_writer(&mut lines, entry)?;
        lines.push(b'\n');
    }
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
    file.write_all(&lines)?;
    file.sync_all()
}

/// Runs the writer and restarts it, on the same queue, when it panics: an append must
/// never wait forever on a writer that died.
async fn supervise_writer(receiver: mpsc::Receiver<Command>, shared: Arc<Shared>) {
    let receiver = Arc::new(Mutex::new(receiver));
    loop {
        let writer = tokio::spawn(write_loop(receiver.clone(), shared.clone()));
        match writer.await {
            Ok(()) => return,
            Err(error) => {
                let restarts = shared.writer_restarts.fetch_add(1, Ordering::Relaxed) + 1;
                tracing::error!(%error, restarts, "event log writer failed; restarting it");
                tokio::time::sleep(Duration::from_millis(10 * restarts.min(100))).await;
            }
        }
    }
}

/// A unit of work from the queue: events to store together (one append, or a commit's
/// events with its checkpoint) and who waits for the answer.
struct Unit {
    events: Vec<NewEvent>,
    checkpoint: Option<Checkpoint>,
    reply: Reply,
}

enum Reply {
    None,
    One(oneshot::Sender<MemoryResult<SwarmEvent>>),
    All(CommitReply),
}

async fn write_loop(receiver: Arc<Mutex<mpsc::Receiver<Command>>>, shared: Arc<Shared>) {
    let mut receiver = receiver.lock().await;
    let mut commands = Vec::with_capacity(shared.config.max_batch);
    let mut close_replies = Vec::new();
    while receiver.recv_many(&mut commands, shared.config.max_batch).await > 0 {
        // On close, refuse new appends but keep draining what was already accepted:
        // `recv_many` returns 0 only once the closed queue is empty.
        let mut units = Vec::with_capacity(commands.len());
        let mut flushes = Vec::new();
        for command in commands.drain(..) {
            match command {
                Command::Append(event, waiter) => units.push(Unit {
                    events: vec![event],
                    checkpoint: None,
                    reply: waiter.map_or(Reply::None, Reply::One),
                }),
                Command::Commit(events, checkpoint, reply) => {
                    units.push(Unit { events, checkpoint: Some(checkpoint), reply: Reply::All(reply) });
                }
                Command::Flush(reply) => flushes.push(reply),
                Command::Close(reply) => {
                    receiver.close();
                    close_replies.push(reply);
                }
            }
        }
        write_batch(&shared, units).await;
        for reply in flushes {
            let _ = reply.send(());
        }
    }
    for reply in close_replies {
        let _ = reply.send(());
    }
}

/// Writes the units in one transaction, answers their waiters and publishes what was
/// stored; what could not be stored goes to the journal. Units of a swarm whose lease
/// moved on are answered [`MemoryError::Fenced`] and left out, and the rest are written
/// together again: one stale swarm must not cost its neighbours a transaction each.
async fn write_batch(shared: &Shared, mut units: Vec<Unit>) {
    loop {
        if units.is_empty() {
            return;
        }
        let events: Vec<NewEvent> = units.iter().flat_map(|unit| unit.events.iter().cloned()).collect();
        let checkpoints: Vec<Checkpoint> = units.iter().filter_map(|unit| unit.checkpoint.clone()).collect();
        match persist(shared, &events, &checkpoints).await {
            Outcome::Stored(stored) => {
                let mut stored = stored.into_iter();
                for unit in units {
                    let mine: Vec<SwarmEvent> = stored.by_ref().take(unit.events.len()).collect();
                    finish(shared, unit.reply, Ok(mine));
                }
                return;
            }
            Outcome::GaveUp(error) => return journal(shared, units, &error),
            // Written by a swarm whose lease moved on: the tenant's new holder writes its
            // own; keeping these for later would only have them refused again.
            Outcome::Refused(MemoryError::Fenced { tenant, epoch }) => {
                let (stale, rest): (Vec<Unit>, Vec<Unit>) = units.into_iter().partition(|unit| {
                    unit.events.iter().any(|event| event.tenant_id == tenant && event.fence == Some(epoch))
                });
                let dropped: usize = stale.iter().map(|unit| unit.events.len()).sum();
                tracing::warn!(%tenant, epoch, events = dropped, "events of a swarm that lost its lease dropped");
                for unit in stale {
                    finish(shared, unit.reply, Err(MemoryError::Fenced { tenant, epoch }));
                }
                units = rest;
            }
            Outcome::Refused(error) => {
                tracing::error!(%error, units = units.len(), "event batch refused; storing its units one by one");
                for unit in units {
                    let checkpoints: Vec<Checkpoint> = unit.checkpoint.iter().cloned().collect();
                    match persist(shared, &unit.events, &checkpoints).await {
                        Outcome::Stored(stored) => finish(shared, unit.reply, Ok(stored)),
                        Outcome::Refused(error @ MemoryError::Fenced { .. }) => finish(shared, unit.reply, Err(error)),
                        Outcome::GaveUp(error) | Outcome::Refused(error) => journal(shared, vec![unit], &error),
                    }
                }
                return;
            }
        }
    }
}

/// Answers a unit's waiter and publishes its stored events.
fn finish(shared: &Shared, reply: Reply, result: MemoryResult<Vec<SwarmEvent>>) {
    if let Ok(stored) = &result {
        for event in stored {
            publish(shared, Arc::new(LoggedEvent::new(event.clone())));
        }
    }
    match reply {
        Reply::None => {}
        Reply::One(waiter) => {
            let _ = waiter.send(result.and_then(|mut stored| {
                stored.pop().ok_or_else(|| MemoryError::Corrupt("an appended event was not stored".into()))
            }));
        }
        Reply::All(waiter) => {
            let _ = waiter.send(result);
        }
    }
}

/// Keeps units the database did not take in the journal and tells their waiters.
fn journal(shared: &Shared, units: Vec<Unit>, error: &MemoryError) {
    let count: usize = units.iter().map(|unit| unit.events.len()).sum();
    let mut entries = Vec::with_capacity(units.len());
    let mut replies = Vec::with_capacity(units.len());
    for unit in units {
        entries.push(JournalEntry { events: unit.events, checkpoint: unit.checkpoint });
        replies.push(unit.reply);
    }
    let kept = match &shared.config.journal {
        Some(path) => match append_to_journal(path, &entries) {
            Ok(()) => {
                shared.journaled.fetch_add(count as u64, Ordering::Relaxed);
                tracing::warn!(%error, events = count, journal = %path.display(), "events kept in the journal for the next start");
                true
            }
            Err(io) => {
                tracing::error!(%error, %io, events = count, journal = %path.display(), "events LOST: neither the database nor the journal took them");
                false
            }
        },
        None => {
            tracing::error!(%error, events = count, ?entries, "events LOST: not written and no journal configured");
            false
        }
    };
    let why = if kept { format!("{error}; kept in the journal for the next start") } else { error.to_string() };
    for reply in replies {
        finish(shared, reply, Err(MemoryError::Unwritten(why.clone())));
    }
}

fn publish(shared: &Shared, event: Arc<LoggedEvent>) {
    if let Some(sender) = shared.tenants.get(&event.tenant_id)
        && sender.send(event.clone()).is_err()
    {
        // Nobody listens any more; forget the channel unless someone subscribed between
        // the failed send and now.
        drop(sender);
        shared.tenants.remove_if(&event.tenant_id, |_, s| s.receiver_count() == 0);
    }
    let _ = shared.all.send(event);
}

/// How a write ended.
enum Outcome {
    Stored(Vec<SwarmEvent>),
    /// The database refused the rows themselves: retrying the same rows cannot help.
    Refused(MemoryError),
    /// The database stayed unreachable until the log had to close.
    GaveUp(MemoryError),
}

/// Stores events and checkpoints in one transaction, retrying transient failures with
/// back-off until they succeed or the close deadline passes. A panic inside the store
/// is caught and treated as a refusal, so the rows are journaled, not lost with the
/// writer.
async fn persist(shared: &Shared, events: &[NewEvent], checkpoints: &[Checkpoint]) -> Outcome {
    let mut delay = Duration::from_millis(50);
    let mut give_up_at = shared.give_up_at.subscribe();
    let mut failed: Option<MemoryError> = None;
    loop {
        // Once the database has failed past the close deadline, later batches go to the
        // journal without trying again, and so does this one if it failed before and the
        // deadline came while it waited to retry. An attempt under way is never cut
        // short (its commit might have landed, and journaling it too would write it
        // twice): the pool's acquire time-out bounds it.
        if shared.gave_up.load(Ordering::Acquire) {
            return Outcome::GaveUp(MemoryError::Unwritten("the database did not answer before the log closed".into()));
        }
        let past_deadline = give_up_at.borrow_and_update().is_some_and(|deadline| Instant::now() >= deadline);
        if past_deadline && let Some(error) = failed.take() {
            shared.gave_up.store(true, Ordering::Release);
            return Outcome::GaveUp(error);
        }
        let attempt = AssertUnwindSafe(async {
            if let Some(probe) = &shared.config.write_probe {
                (probe.0)(events);
            }
            shared.store.append_events_and_checkpoints(events, checkpoints).await
        })
        .catch_unwind();
        let error = match attempt.await {
            Ok(Ok(stored)) => return Outcome::Stored(stored),
            Ok(Err(error)) if is_transient(&error) => error,
            Ok(Err(error)) => return Outcome::Refused(error),
            Err(panic) => {
                return Outcome::Refused(MemoryError::Corrupt(format!(
                    "the store panicked: {}",
                    panic_message(&panic)
                )));
            }
        };
        let deadline = *give_up_at.borrow_and_update();
        if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
            shared.gave_up.store(true, Ordering::Release);
            return Outcome::GaveUp(error);
        }
        tracing::warn!(%error, retry_in_ms = delay.as_millis() as u64, "event log write failed; retrying");
        failed = Some(error);
        let sleep_until = Instant::now() + delay;
        let wake_at = deadline.map_or(sleep_until, |deadline| deadline.min(sleep_until));
        tokio::select! {
            () = tokio::time::sleep_until(wake_at) => {}
            // A close with a deadline arrived while we waited: look at it now.
            _ = give_up_at.changed() => {}
        }
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|text| (*text).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

/// Whether retrying the same write later may succeed: the database is unavailable
/// (see [`crate::pool::is_unavailable`]: connection lost, pool closed or timed out, the
/// server shutting down, SQLite locked), the connection broke mid-protocol, or the
/// database asked for a retry (serialization failure, deadlock, insufficient
/// resources) — as opposed to the rows themselves being refused (a constraint, a type).
pub(crate) fn is_transient(error: &MemoryError) -> bool {
    let MemoryError::Database(error) = error else {
        return false;
    };
    crate::pool::is_unavailable(error)
        || matches!(error, sqlx::Error::Tls(_) | sqlx::Error::Protocol(_))
        || matches!(error, sqlx::Error::Database(database)
            if database.code().is_some_and(|code| matches!(code.as_ref(), "40001" | "40P01") || code.starts_with("53")))
}

/// How a reader of the log puts an event on the wire: see [`LoggedEvent::encoded`].
pub type WireEncoder = fn(&SwarmEvent) -> Bytes;

/// A stored event as the log hands it to its readers: one allocation shared by every
/// subscriber of its tenant and every process-wide reader, which carries the bytes they
/// send it as, encoded by the first of them to ask (see [`LoggedEvent::encoded`]).
/// Dereferences to the event.
pub struct LoggedEvent {
    event: SwarmEvent,
    wire: OnceLock<(WireEncoder, Bytes)>,
}

impl LoggedEvent {
    /// An event nobody has encoded yet.
    pub fn new(event: SwarmEvent) -> Self {
        Self { event, wire: OnceLock::new() }
    }

    /// The event as `encode` writes it. The first caller's encoding is kept and shared
    /// (a reference count, no copy) with every later caller passing the same function,
    /// so ten thousand viewers of one tenant encode each event once. A caller with
    /// another function gets its own encoding, made afresh: the slot holds one form,
    /// the live view's, which is the only reader that encodes in bulk.
    pub fn encoded(&self, encode: WireEncoder) -> Bytes {
        let (first, bytes) = self.wire.get_or_init(|| (encode, encode(&self.event)));
        // The same function may have two addresses (one per codegen unit): then it is
        // only encoded again, never wrongly shared.
        if std::ptr::fn_addr_eq(*first, encode) { bytes.clone() } else { encode(&self.event) }
    }

    /// The event itself.
    pub fn event(&self) -> &SwarmEvent {
        &self.event
    }
}

impl Deref for LoggedEvent {
    type Target = SwarmEvent;

    fn deref(&self) -> &SwarmEvent {
        &self.event
    }
}

impl std::fmt::Debug for LoggedEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.event.fmt(f)
    }
}

/// One tenant's events in order: first those already stored after the starting point,
/// then live ones. See [`EventLog::subscribe`].
pub struct EventSubscription {
    tenant: TenantId,
    last_seq: i64,
    store: SharedStore,
    live: broadcast::Receiver<Arc<LoggedEvent>>,
    backlog: VecDeque<SwarmEvent>,
    catching_up: bool,
}

impl EventSubscription {
    /// Sequence number of the last event handed out.
    pub fn last_seq(&self) -> i64 {
        self.last_seq
    }

    /// The next event. Errors only when the database cannot be read while catching up;
    /// returns `None` when the log has shut down.
    pub async fn next(&mut self) -> Option<MemoryResult<Arc<LoggedEvent>>> {
        const PAGE: i64 = 500;
        loop {
            if let Some(event) = self.backlog.pop_front() {
                self.last_seq = event.seq;
                return Some(Ok(Arc::new(LoggedEvent::new(event))));
            }
            if self.catching_up {
                match self.store.events_after(self.tenant, self.last_seq, PAGE).await {
                    Ok(page) => {
                        // A short page means we reached the end of what is stored; live
                        // events from here on are in the broadcast buffer, because we
                        // subscribed to it before reading.
                        self.catching_up = page.len() as i64 == PAGE;
                        self.backlog.extend(page);
                        continue;
                    }
                    Err(error) => return Some(Err(error)),
                }
            }
            match self.live.recv().await {
                Ok(event) if event.seq <= self.last_seq => continue,
                Ok(event) if event.seq == self.last_seq + 1 => {
                    self.last_seq = event.seq;
                    return Some(Ok(event));
                }
                // A gap means the buffer moved past us (or the event came from the
                // database path): read the missing ones from the store.
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => self.catching_up = true,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(seq: i64) -> SwarmEvent {
        SwarmEvent {
            tenant_id: TenantId(1),
            seq,
            occurred_at: chrono::Utc::now(),
            actor: "ceo".into(),
            kind: "cycle.started".into(),
            summary: "day 1".into(),
            data: serde_json::json!({}),
            revenue_impact: None,
        }
    }

    #[test]
    fn an_event_is_encoded_once_for_every_reader_of_one_form_and_afresh_for_another() {
        static ENCODINGS: AtomicU64 = AtomicU64::new(0);
        fn wire(event: &SwarmEvent) -> Bytes {
            ENCODINGS.fetch_add(1, Ordering::Relaxed);
            Bytes::from(format!("seq {}", event.seq))
        }
        fn other(event: &SwarmEvent) -> Bytes {
            Bytes::from(format!("other {}", event.seq))
        }
        let logged = LoggedEvent::new(event(7));
        let first = logged.encoded(wire);
        let second = logged.encoded(wire);
        assert_eq!(first, "seq 7");
        assert_eq!(first.as_ptr(), second.as_ptr(), "the second reader shares the first's bytes");
        assert_eq!(ENCODINGS.load(Ordering::Relaxed), 1);
        assert_eq!(logged.encoded(other), "other 7", "another form is not served the first one's bytes");
        assert_eq!(logged.seq, 7, "the event is read through it");
    }

    #[test]
    fn a_lost_connection_a_closed_pool_and_a_server_shutdown_are_retried_not_refused() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset");
        for transient in
            [sqlx::Error::Io(io), sqlx::Error::PoolTimedOut, sqlx::Error::PoolClosed, sqlx::Error::WorkerCrashed]
        {
            assert!(is_transient(&MemoryError::Database(transient)));
        }
        assert!(!is_transient(&MemoryError::NotFound("tenant".into())));
        assert!(!is_transient(&MemoryError::Database(sqlx::Error::RowNotFound)));
    }
}
