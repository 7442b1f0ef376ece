//! The event log: every swarm action, persisted in batches and fanned out live.
//!
//! Many actors append at once; one writer task drains the queue and writes whatever has
//! accumulated in a single transaction (group commit), so throughput grows with load
//! instead of paying one transaction per event. Sequence numbers are handed out by the
//! store inside that transaction, which keeps them gap-free even with several processes.
//!
//! Live subscribers get events only *after* they are persisted, so a subscriber that
//! reconnects with "everything after N" can always be served from the database, and
//! the live stream never shows an event the log could lose. A subscriber too slow for
//! the bounded broadcast buffer falls back to reading the database from its last
//! sequence number: it catches up without gaps and without growing server memory.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use tokio::sync::{Mutex, broadcast, mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::MemoryError;
use crate::model::{NewEvent, SwarmEvent, TenantId};
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
}

impl Default for EventLogConfig {
    fn default() -> Self {
        Self { queue_capacity: 65_536, max_batch: 4_096, subscriber_buffer: 1_024 }
    }
}

enum Command {
    Append(NewEvent, Option<oneshot::Sender<MemoryResult<SwarmEvent>>>),
    Flush(oneshot::Sender<()>),
    Close(oneshot::Sender<()>),
}

struct Shared {
    store: SharedStore,
    config: EventLogConfig,
    tenants: DashMap<TenantId, broadcast::Sender<Arc<SwarmEvent>>>,
    all: broadcast::Sender<Arc<SwarmEvent>>,
}

/// Handle to the event log; cheap to clone, shared by every actor of the process.
#[derive(Clone)]
pub struct EventLog {
    queue: mpsc::Sender<Command>,
    shared: Arc<Shared>,
    writer: Arc<Mutex<Option<JoinHandle<()>>>>,
}

impl EventLog {
    /// Starts the writer task on the current tokio runtime.
    pub fn start(store: SharedStore, config: EventLogConfig) -> Self {
        let (queue, receiver) = mpsc::channel(config.queue_capacity);
        let (all, _) = broadcast::channel(config.subscriber_buffer);
        let shared = Arc::new(Shared { store, config, tenants: DashMap::new(), all });
        let writer = tokio::spawn(write_loop(receiver, shared.clone()));
        Self { queue, shared, writer: Arc::new(Mutex::new(Some(writer))) }
    }

    /// The store the log writes to.
    pub fn store(&self) -> &SharedStore {
        &self.shared.store
    }

    /// Queues an event. Returns once the log has accepted it; an accepted event is
    /// persisted before [`EventLog::close`] returns. Waits while the queue is full.
    pub async fn append(&self, event: NewEvent) -> MemoryResult<()> {
        self.queue.send(Command::Append(event, None)).await.map_err(|_| MemoryError::EventLogClosed)
    }

    /// Queues an event without waiting; fails when the queue is full or closed. For
    /// callers that cannot await (drop handlers, synchronous hooks).
    pub fn try_append(&self, event: NewEvent) -> MemoryResult<()> {
        self.queue.try_send(Command::Append(event, None)).map_err(|_| MemoryError::EventLogClosed)
    }

    /// Appends an event and waits until it is persisted, returning it with its number.
    pub async fn append_and_wait(&self, event: NewEvent) -> MemoryResult<SwarmEvent> {
        let (reply, persisted) = oneshot::channel();
        self.queue.send(Command::Append(event, Some(reply))).await.map_err(|_| MemoryError::EventLogClosed)?;
        persisted.await.map_err(|_| MemoryError::EventLogClosed)?
    }

    /// Waits until every event accepted before this call is persisted.
    pub async fn flush(&self) -> MemoryResult<()> {
        let (reply, flushed) = oneshot::channel();
        self.queue.send(Command::Flush(reply)).await.map_err(|_| MemoryError::EventLogClosed)?;
        flushed.await.map_err(|_| MemoryError::EventLogClosed)
    }

    /// Persists everything accepted so far and stops the writer. Later appends fail
    /// with [`MemoryError::EventLogClosed`]. Idempotent.
    pub async fn close(&self) {
        let Some(writer) = self.writer.lock().await.take() else {
            return;
        };
        let (reply, closed) = oneshot::channel();
        if self.queue.send(Command::Close(reply)).await.is_ok() {
            let _ = closed.await;
        }
        if let Err(error) = writer.await {
            tracing::error!(%error, "event log writer ended abnormally");
        }
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
    pub fn subscribe_all(&self) -> broadcast::Receiver<Arc<SwarmEvent>> {
        self.shared.all.subscribe()
    }
}

async fn write_loop(mut receiver: mpsc::Receiver<Command>, shared: Arc<Shared>) {
    let mut commands = Vec::with_capacity(shared.config.max_batch);
    let mut close_replies = Vec::new();
    while receiver.recv_many(&mut commands, shared.config.max_batch).await > 0 {
        // On close, refuse new appends but keep draining what was already accepted:
        // `recv_many` returns 0 only once the closed queue is empty.
        for command in std::mem::take(&mut commands) {
            match command {
                Command::Close(reply) => {
                    receiver.close();
                    close_replies.push(reply);
                }
                other => commands.push(other),
            }
        }
        write_batch(&shared, &mut commands).await;
    }
    for reply in close_replies {
        let _ = reply.send(());
    }
}

/// Writes the queued appends in one transaction and then answers flushes, so a flush
/// reply means everything before it is stored.
async fn write_batch(shared: &Shared, commands: &mut Vec<Command>) {
    let mut events = Vec::with_capacity(commands.len());
    let mut waiters = Vec::new();
    let mut flushes = Vec::new();
    for command in commands.drain(..) {
        match command {
            Command::Append(event, waiter) => {
                if let Some(waiter) = waiter {
                    waiters.push((events.len(), waiter));
                }
                events.push(event);
            }
            Command::Flush(reply) => flushes.push(reply),
            Command::Close(reply) => flushes.push(reply),
        }
    }
    if !events.is_empty() {
        let stored = persist_with_retry(shared, events).await;
        for (index, waiter) in waiters {
            if let Some(result) = stored.get(index) {
                let _ = waiter.send(clone_result(result));
            }
        }
        for event in stored.into_iter().flatten() {
            publish(shared, Arc::new(event));
        }
    }
    for reply in flushes {
        let _ = reply.send(());
    }
}

fn clone_result(result: &MemoryResult<SwarmEvent>) -> MemoryResult<SwarmEvent> {
    match result {
        Ok(event) => Ok(event.clone()),
        Err(error) => Err(MemoryError::Corrupt(format!("event was not stored: {error}"))),
    }
}

fn publish(shared: &Shared, event: Arc<SwarmEvent>) {
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

/// Stores a batch. Transient failures (connection lost, pool exhausted) are retried with
/// back-off for as long as it takes — accepted events are not dropped, and the bounded
/// queue pushes back on the actors meanwhile. A batch the database refuses outright is
/// retried one event at a time so one bad row cannot sink its neighbours.
async fn persist_with_retry(shared: &Shared, events: Vec<NewEvent>) -> Vec<MemoryResult<SwarmEvent>> {
    let mut delay = Duration::from_millis(50);
    loop {
        match shared.store.append_events(&events).await {
            Ok(stored) => return stored.into_iter().map(Ok).collect(),
            Err(error) if is_transient(&error) => {
                tracing::warn!(%error, retry_in_ms = delay.as_millis() as u64, "event log write failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
            Err(error) => {
                tracing::error!(%error, events = events.len(), "event batch refused; storing events one by one");
                let mut results = Vec::with_capacity(events.len());
                for event in &events {
                    let result =
                        shared.store.append_events(std::slice::from_ref(event)).await.and_then(|mut stored| {
                            stored.pop().ok_or_else(|| MemoryError::Corrupt("empty append".into()))
                        });
                    if let Err(error) = &result {
                        tracing::error!(%error, tenant = %event.tenant_id, kind = %event.kind, "event dropped");
                    }
                    results.push(result);
                }
                return results;
            }
        }
    }
}

fn is_transient(error: &MemoryError) -> bool {
    matches!(
        error,
        MemoryError::Database(
            sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Tls(_)
        )
    ) || matches!(error, MemoryError::Database(sqlx::Error::Database(e)) if e.code().as_deref() == Some("5") /* SQLITE_BUSY */)
}

/// One tenant's events in order: first those already stored after the starting point,
/// then live ones. See [`EventLog::subscribe`].
pub struct EventSubscription {
    tenant: TenantId,
    last_seq: i64,
    store: SharedStore,
    live: broadcast::Receiver<Arc<SwarmEvent>>,
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
    pub async fn next(&mut self) -> Option<MemoryResult<Arc<SwarmEvent>>> {
        const PAGE: i64 = 500;
        loop {
            if let Some(event) = self.backlog.pop_front() {
                self.last_seq = event.seq;
                return Some(Ok(Arc::new(event)));
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
