//! The live view across nodes: a browser connected to node A watches a swarm that runs
//! on node B, through Redis pub/sub.
//!
//! Redis pub/sub, because every node already speaks to that Redis and a message reaches
//! a subscriber in a millisecond; the event log stays the source of truth, so a message
//! lost on the way costs latency, never an event.
//!
//! - A node with viewers of a tenant subscribes to the tenant's two channels
//!   (`live:events:<id>`, `live:activity:<id>`) and tells the others, on `live:watch`,
//!   which tenants it watches, at once and then every [`ANNOUNCE_EVERY`].
//! - Every node forwards the events *it* persists for tenants watched elsewhere (any node
//!   may write a tenant's events: its swarm's node, or the one that took an owner's
//!   request), and the node that runs a watched swarm forwards its live activity. A
//!   watch lapses [`WATCH_LAPSES_AFTER`] after its last announcement.
//! - Relayed events go to this node's event log subscribers ([`EventLog::relay`]), which
//!   skip what they have and read any gap from the database, so resuming with
//!   `Last-Event-ID` is unchanged. Relayed activity goes to the tenant's viewers here.
//! - Each message starts with its sender's node name and a line break; a node drops its
//!   own messages, since its viewers had those straight from its own log and swarms.
//! - Without Redis (down, or never configured on this node) live events across nodes
//!   fall back to the log: while the relay is disconnected it reads the watched tenants'
//!   new events from the database every [`POLL_EVERY`]; connected, after each
//!   (re)subscription (for what was published while it was not listening) and once
//!   more an [`ANNOUNCE_EVERY`] after a tenant's viewing began (for what a node wrote
//!   before it heard of the watch). Redis delivers to a connected subscriber in order
//!   and drops a too-slow one's connection rather than messages, so the relay misses
//!   nothing else: a dropped connection is a reconnection, and a read of the log.

use std::sync::Arc;
use std::time::Duration;

use boardroom_memory::{EventLog, LoggedEvent, RedisLink, SharedStore, SwarmEvent, TenantId};
use boardroom_supervisor::SwarmRoot;
use bytes::Bytes;
use dashmap::DashMap;
use futures::StreamExt;
use tokio::sync::{broadcast, mpsc};
use tokio::time::Instant;

/// How often a node repeats which tenants it watches.
const ANNOUNCE_EVERY: Duration = Duration::from_secs(5);
/// How long a watch holds after its last announcement.
const WATCH_LAPSES_AFTER: Duration = Duration::from_secs(15);
/// How often the watched tenants' logs are read while Redis is unreachable.
const POLL_EVERY: Duration = Duration::from_secs(1);
/// Relayed activity buffered per tenant before a slow viewer misses some.
const ACTIVITY_BUFFER: usize = 256;
/// Most events read from the database per tenant per poll.
const POLL_PAGE: i64 = 500;

/// This node's end of the relay. Cheap to clone.
#[derive(Clone)]
pub struct LiveRelay {
    inner: Arc<Inner>,
}

struct Inner {
    node: String,
    redis: Arc<RedisLink>,
    store: SharedStore,
    events: EventLog,
    swarms: SwarmRoot,
    /// Tenants viewed here: how many viewers, and the last sequence number relayed (or
    /// that the viewers already had), from which a poll reads on.
    viewed: DashMap<TenantId, Viewed>,
    /// Tenants other nodes watch, until when.
    watched_elsewhere: DashMap<TenantId, Instant>,
    /// Activity relayed to this node's viewers, per tenant: frames' JSON.
    remote_activity: DashMap<TenantId, broadcast::Sender<Bytes>>,
    /// Tenants whose live activity this node forwards now.
    forwarding: DashMap<TenantId, ()>,
    /// Tells the listener a tenant's viewing started or ended.
    changes: mpsc::UnboundedSender<TenantId>,
    changed: std::sync::Mutex<Option<mpsc::UnboundedReceiver<TenantId>>>,
}

struct Viewed {
    viewers: usize,
    relayed_up_to: i64,
    /// When to read the log once more after subscribing: by then every node has heard
    /// of the watch, so what one wrote before it heard is in the log.
    settle_at: Option<Instant>,
}

/// Keeps a tenant watched across nodes while a viewer's stream lives.
pub(crate) struct Watching {
    relay: LiveRelay,
    tenant: TenantId,
}

impl Drop for Watching {
    fn drop(&mut self) {
        let inner = &self.relay.inner;
        let last = inner.viewed.remove_if_mut(&self.tenant, |_, viewed| {
            viewed.viewers -= 1;
            viewed.viewers == 0
        });
        if last.is_some() {
            inner.remote_activity.remove_if(&self.tenant, |_, sender| sender.receiver_count() == 0);
            let _ = inner.changes.send(self.tenant);
        }
    }
}

impl LiveRelay {
    /// The relay of the node named `node`; [`LiveRelay::run`] does its work.
    pub fn new(node: String, redis: Arc<RedisLink>, store: SharedStore, events: EventLog, swarms: SwarmRoot) -> Self {
        let (changes, changed) = mpsc::unbounded_channel();
        Self {
            inner: Arc::new(Inner {
                node,
                redis,
                store,
                events,
                swarms,
                viewed: DashMap::new(),
                watched_elsewhere: DashMap::new(),
                remote_activity: DashMap::new(),
                forwarding: DashMap::new(),
                changes,
                changed: std::sync::Mutex::new(Some(changed)),
            }),
        }
    }

    /// Watches `tenant` across nodes for a viewer that has its events up to `after`,
    /// until the guard drops; and the activity other nodes relay for it.
    pub(crate) fn watch(&self, tenant: TenantId, after: i64) -> (Watching, broadcast::Receiver<Bytes>) {
        let activity = self
            .inner
            .remote_activity
            .entry(tenant)
            .or_insert_with(|| broadcast::channel(ACTIVITY_BUFFER).0)
            .subscribe();
        let mut first = false;
        self.inner
            .viewed
            .entry(tenant)
            .and_modify(|viewed| {
                viewed.viewers += 1;
                viewed.relayed_up_to = viewed.relayed_up_to.min(after);
            })
            .or_insert_with(|| {
                first = true;
                Viewed { viewers: 1, relayed_up_to: after, settle_at: Some(Instant::now() + ANNOUNCE_EVERY) }
            });
        if first {
            let _ = self.inner.changes.send(tenant);
        }
        (Watching { relay: self.clone(), tenant }, activity)
    }

    /// Runs the relay until the process stops: listens (reconnecting to Redis as
    /// needed) and forwards. Runs once; a second call returns at once.
    pub async fn run(self) {
        let Some(changed) = self.inner.changed.lock().ok().and_then(|mut slot| slot.take()) else { return };
        let forwarder = tokio::spawn(self.clone().forward_events());
        self.listen(changed).await;
        forwarder.abort();
    }

    fn channel(&self, kind: &str, tenant: TenantId) -> String {
        self.inner.redis.key(format!("live:{kind}:{}", tenant.0))
    }

    fn watch_channel(&self) -> String {
        self.inner.redis.key("live:watch")
    }

    /// Subscribes to the watch announcements and the viewed tenants' channels, serves
    /// them until the connection fails, then polls the log until it is back.
    async fn listen(&self, mut changed: mpsc::UnboundedReceiver<TenantId>) {
        let mut retry = Duration::from_millis(250);
        loop {
            match self.connect().await {
                Ok((sink, messages)) => {
                    retry = Duration::from_millis(250);
                    tracing::info!(node = %self.inner.node, "live relay connected to Redis");
                    self.serve(sink, messages, &mut changed).await;
                    tracing::warn!(
                        "live relay lost Redis; live events across nodes come from the log until it is back"
                    );
                }
                Err(error) => tracing::debug!(%error, "live relay cannot reach Redis"),
            }
            let until = Instant::now() + retry;
            while Instant::now() < until {
                while changed.try_recv().is_ok() {}
                self.poll_viewed().await;
                tokio::time::sleep(POLL_EVERY.min(until.saturating_duration_since(Instant::now()))).await;
            }
            retry = (retry * 2).min(Duration::from_secs(5));
        }
    }

    async fn connect(&self) -> Result<(redis::aio::PubSubSink, redis::aio::PubSubStream), String> {
        let pubsub = tokio::time::timeout(Duration::from_secs(2), self.inner.redis.client().get_async_pubsub())
            .await
            .map_err(|_| "timed out connecting".to_owned())?
            .map_err(|error| error.to_string())?;
        let (mut sink, messages) = pubsub.split();
        let mut channels = vec![self.watch_channel()];
        for tenant in self.viewed_tenants() {
            channels.push(self.channel("events", tenant));
            channels.push(self.channel("activity", tenant));
        }
        tokio::time::timeout(Duration::from_secs(2), sink.subscribe(channels))
            .await
            .map_err(|_| "timed out subscribing".to_owned())?
            .map_err(|error| error.to_string())?;
        // What was published while nobody here listened.
        self.poll_viewed().await;
        self.announce().await;
        Ok((sink, messages))
    }

    fn viewed_tenants(&self) -> Vec<TenantId> {
        self.inner.viewed.iter().map(|entry| *entry.key()).collect()
    }

    async fn serve(
        &self,
        mut sink: redis::aio::PubSubSink,
        mut messages: redis::aio::PubSubStream,
        changed: &mut mpsc::UnboundedReceiver<TenantId>,
    ) {
        let mut announce = tokio::time::interval_at(Instant::now() + ANNOUNCE_EVERY, ANNOUNCE_EVERY);
        loop {
            tokio::select! {
                message = messages.next() => match message {
                    Some(message) => self.received(message.get_channel_name(), message.get_payload_bytes()),
                    None => return,
                },
                Some(tenant) = changed.recv() => {
                    if self.resubscribe(&mut sink, tenant).await.is_err() {
                        return;
                    }
                }
                _ = announce.tick() => {
                    self.announce().await;
                    self.settle().await;
                    let now = Instant::now();
                    self.inner.watched_elsewhere.retain(|_, until| *until > now);
                }
            }
        }
    }

    /// Follows a change of `tenant`'s viewing: subscribes to its channels (then reads
    /// what its log has that the viewers may not) or unsubscribes.
    async fn resubscribe(&self, sink: &mut redis::aio::PubSubSink, tenant: TenantId) -> Result<(), String> {
        let channels = vec![self.channel("events", tenant), self.channel("activity", tenant)];
        let viewed = self.inner.viewed.contains_key(&tenant);
        let done = if viewed { sink.subscribe(channels).await } else { sink.unsubscribe(channels).await };
        done.map_err(|error| error.to_string())?;
        if viewed {
            self.announce().await;
            self.poll(tenant).await;
        }
        Ok(())
    }

    /// Tells the other nodes which tenants are viewed here.
    async fn announce(&self) {
        let tenants: Vec<i64> = self.viewed_tenants().into_iter().map(|tenant| tenant.0).collect();
        if tenants.is_empty() {
            return;
        }
        let payload = framed(&self.inner.node, &serde_json::to_vec(&tenants).unwrap_or_default());
        let publish = redis::cmd("PUBLISH").arg(self.watch_channel()).arg(payload.as_ref()).clone();
        if let Err(error) = self.inner.redis.run::<i64>(&publish).await {
            tracing::debug!(%error, "live relay could not announce its viewers");
        }
    }

    /// Handles one message from Redis.
    fn received(&self, channel: &str, payload: &[u8]) {
        let Some((from, body)) = unframed(payload) else { return };
        if from == self.inner.node {
            return;
        }
        if channel == self.watch_channel() {
            let Ok(tenants) = serde_json::from_slice::<Vec<i64>>(body) else { return };
            let until = Instant::now() + WATCH_LAPSES_AFTER;
            for tenant in tenants.into_iter().map(TenantId) {
                self.inner.watched_elsewhere.insert(tenant, until);
                self.forward_activity_of(tenant);
            }
            return;
        }
        let Some(rest) = channel.strip_prefix(&self.inner.redis.key("live:")) else { return };
        let Some((kind, tenant)) = rest.split_once(':') else { return };
        let Ok(tenant) = tenant.parse::<i64>().map(TenantId) else { return };
        match kind {
            "events" => {
                let Ok(events) = serde_json::from_slice::<Vec<SwarmEvent>>(body) else { return };
                let last = events.iter().map(|event| event.seq).max().unwrap_or(0);
                self.inner.events.relay(events.into_iter().filter(|event| event.tenant_id == tenant));
                if let Some(mut viewed) = self.inner.viewed.get_mut(&tenant) {
                    viewed.relayed_up_to = viewed.relayed_up_to.max(last);
                }
            }
            "activity" => {
                if let Some(sender) = self.inner.remote_activity.get(&tenant) {
                    let _ = sender.send(Bytes::copy_from_slice(body));
                }
            }
            _ => {}
        }
    }

    /// Reads the log once more for the tenants whose viewing began an announcement
    /// ago: an event a node wrote before it heard of the watch arrives this way.
    async fn settle(&self) {
        let now = Instant::now();
        let due: Vec<TenantId> = self
            .inner
            .viewed
            .iter_mut()
            .filter_map(|mut entry| {
                let due = entry.settle_at.is_some_and(|at| at <= now);
                if due {
                    entry.settle_at = None;
                }
                due.then_some(*entry.key())
            })
            .collect();
        for tenant in due {
            self.poll(tenant).await;
        }
    }

    /// Reads every viewed tenant's new events from the log and relays them.
    async fn poll_viewed(&self) {
        for tenant in self.viewed_tenants() {
            self.poll(tenant).await;
        }
    }

    async fn poll(&self, tenant: TenantId) {
        let Some(after) = self.inner.viewed.get(&tenant).map(|viewed| viewed.relayed_up_to) else { return };
        match self.inner.store.events_after(tenant, after, POLL_PAGE).await {
            Ok(events) if !events.is_empty() => {
                let last = events.last().map_or(after, |event| event.seq);
                self.inner.events.relay(events);
                if let Some(mut viewed) = self.inner.viewed.get_mut(&tenant) {
                    viewed.relayed_up_to = viewed.relayed_up_to.max(last);
                }
            }
            Ok(_) => {}
            Err(error) => tracing::debug!(%error, tenant = %tenant, "live relay could not read the log"),
        }
    }

    fn is_watched_elsewhere(&self, tenant: TenantId) -> bool {
        let now = Instant::now();
        match self.inner.watched_elsewhere.get(&tenant).map(|until| *until) {
            Some(until) if until > now => true,
            Some(_) => {
                self.inner.watched_elsewhere.remove_if(&tenant, |_, until| *until <= now);
                false
            }
            None => false,
        }
    }

    /// Forwards the events this node persists for the tenants other nodes watch, a
    /// message per tenant for whatever has accumulated since the last one.
    async fn forward_events(self) {
        let mut persisted = self.inner.events.subscribe_all();
        loop {
            let mut batch: Vec<Arc<LoggedEvent>> = Vec::new();
            match persisted.recv().await {
                Ok(event) => batch.push(event),
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    // The watchers read the gap from the log when the next event comes.
                    tracing::debug!(missed, "live relay fell behind the log");
                    continue;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            }
            while let Ok(event) = persisted.try_recv() {
                batch.push(event);
            }
            let mut by_tenant: std::collections::BTreeMap<TenantId, Vec<&SwarmEvent>> = Default::default();
            for event in &batch {
                if self.is_watched_elsewhere(event.tenant_id) {
                    by_tenant.entry(event.tenant_id).or_default().push(event.event());
                }
            }
            if by_tenant.is_empty() {
                continue;
            }
            let mut pipeline = redis::pipe();
            for (tenant, events) in by_tenant {
                let body = serde_json::to_vec(&events).unwrap_or_default();
                pipeline
                    .cmd("PUBLISH")
                    .arg(self.channel("events", tenant))
                    .arg(framed(&self.inner.node, &body).as_ref());
            }
            if let Err(error) = self.inner.redis.run_pipeline::<Vec<i64>>(&pipeline).await {
                tracing::debug!(%error, "live relay could not forward events; watchers read them from the log");
            }
        }
    }

    /// Starts forwarding `tenant`'s live activity if its swarm runs here and nobody
    /// forwards it yet. The forwarder pins the swarm, as a viewer here would.
    fn forward_activity_of(&self, tenant: TenantId) {
        let Some(swarm) = self.inner.swarms.get(tenant) else { return };
        if self.inner.forwarding.insert(tenant, ()).is_some() {
            return;
        }
        let relay = self.clone();
        tokio::spawn(async move {
            let _pin = swarm.pin();
            drop(swarm);
            let mut activity = relay.inner.swarms.watch_activity(tenant);
            let channel = relay.channel("activity", tenant);
            let mut check = tokio::time::interval(ANNOUNCE_EVERY);
            loop {
                tokio::select! {
                    signal = activity.recv() => match signal {
                        Ok(signal) => {
                            let mut pipeline = redis::pipe();
                            let mut add = |signal: &boardroom_supervisor::Activity| {
                                let body = serde_json::to_vec(signal).unwrap_or_default();
                                pipeline.cmd("PUBLISH").arg(&channel).arg(framed(&relay.inner.node, &body).as_ref());
                            };
                            add(&signal);
                            while let Ok(signal) = activity.try_recv() {
                                add(&signal);
                            }
                            if let Err(error) = relay.inner.redis.run_pipeline::<Vec<i64>>(&pipeline).await {
                                tracing::debug!(%error, "live relay could not forward activity");
                            }
                        }
                        Err(broadcast::error::RecvError::Lagged(_)) => {}
                        Err(broadcast::error::RecvError::Closed) => break,
                    },
                    _ = check.tick() => {
                        if !relay.is_watched_elsewhere(tenant) || relay.inner.swarms.get(tenant).is_none() {
                            break;
                        }
                    }
                }
            }
            relay.inner.forwarding.remove(&tenant);
        });
    }
}

/// A message: the sender's node name, a line break, the body.
fn framed(node: &str, body: &[u8]) -> Bytes {
    let mut message = Vec::with_capacity(node.len() + 1 + body.len());
    message.extend_from_slice(node.as_bytes());
    message.push(b'\n');
    message.extend_from_slice(body);
    Bytes::from(message)
}

/// The sender and the body of a message.
fn unframed(message: &[u8]) -> Option<(&str, &[u8])> {
    let split = message.iter().position(|byte| *byte == b'\n')?;
    Some((std::str::from_utf8(&message[..split]).ok()?, &message[split + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_names_its_sender_and_keeps_its_body_whole() {
        let message = framed("node-a", b"[1,2]\n3");
        assert_eq!(unframed(&message), Some(("node-a", &b"[1,2]\n3"[..])));
        assert_eq!(unframed(b"no line break"), None);
    }
}
