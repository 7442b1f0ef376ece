//! The root of the tree: activates tenant swarms on demand, restarts escalated ones
//! with back-off, passivates idle ones, and stops them all on shutdown.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use boardroom_adapters::{Marketplace, SandboxMarket};
use boardroom_agents::brain::{Brain, OfflineBrain};
use boardroom_agents::{AgentRegistry, SwarmMedia};
use boardroom_memory::{EventLog, MemoryError, NewEvent, RedisLink, SharedStore, Tenant, TenantId};
use boardroom_personalities::{Personality, PersonalityError};
use dashmap::DashMap;
use futures::StreamExt;
use ractor::{Actor, ActorId, ActorProcessingErr, ActorRef, SupervisionEvent};
use serde_json::json;
use thiserror::Error;
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::activity::{Activity, ActivityFeed};
use crate::adapter_actor::SwarmMarket;
use crate::config::SupervisorConfig;
use crate::leases::{self, Leases};
use crate::restored_market::RestoredMarket;
use crate::tenant::{SlotState, SwarmBrief, SwarmStatus, SwarmWitnesses, TenantHandle, TenantShared};
use crate::tenant_swarm::{SwarmMessage, TenantSwarm, TenantSwarmArgs};
use crate::throttle::ThrottleGate;

/// Why a tenant's swarm could not be had.
#[derive(Debug, Error)]
pub enum SwarmError {
    /// No tenant with that id.
    #[error("tenant {0} does not exist")]
    TenantNotFound(TenantId),
    /// The tenant exists but is disabled.
    #[error("tenant {0} is disabled")]
    TenantDisabled(TenantId),
    /// The tenant's personality is unknown or its custom profile invalid.
    #[error("tenant {tenant}'s personality: {error}")]
    Personality {
        /// The tenant.
        tenant: TenantId,
        /// What is wrong.
        error: PersonalityError,
    },
    /// The swarm escalated and is waiting out its back-off.
    #[error("tenant {tenant}'s swarm is degraded and restarts in {retry_after:?}")]
    Restarting {
        /// The tenant.
        tenant: TenantId,
        /// Time left before the restart.
        retry_after: Duration,
    },
    /// The process is shutting down.
    #[error("the swarm is shutting down")]
    ShuttingDown,
    /// This node is draining: it starts no swarm it does not run already.
    #[error("this node is draining and starts no new swarms; another node will take tenant {0}")]
    Draining(TenantId),
    /// Another node of the cluster runs the tenant's swarm (holds its lease).
    #[error("tenant {tenant}'s swarm runs on node {node}")]
    HeldElsewhere {
        /// The tenant.
        tenant: TenantId,
        /// The node that holds its lease.
        node: String,
    },
    /// An actor could not be spawned.
    #[error("could not start the swarm: {0}")]
    Spawn(String),
    /// The tenant could not be looked up.
    #[error(transparent)]
    Store(#[from] MemoryError),
}

/// What the root's own actor is asked to do; everything else happens on the callers'
/// tasks so activations of different tenants run in parallel.
pub(crate) enum RootMessage {
    Restart(TenantId),
    ClearDegraded(TenantId, u64),
    PassivateIdle,
}

enum Lifecycle {
    Inactive,
    Running {
        swarm: ActorRef<SwarmMessage>,
        generation: u64,
    },
    BackingOff {
        until: Instant,
    },
    /// This entry is finished (passivated or shut down); a new one replaces it.
    Retired,
}

struct TenantEntry {
    shared: Arc<TenantShared>,
    lifecycle: Mutex<Lifecycle>,
    /// Escalations since the swarm was last stable, for the back-off.
    escalations: AtomicU64,
    /// The epoch of this node's lease on the tenant, 0 while it holds none (or runs
    /// without leases).
    lease: AtomicI64,
}

/// What every swarm works with: storage, the event log, the brain and the market.
#[derive(Clone)]
pub struct SwarmServices {
    /// The database.
    pub store: SharedStore,
    /// The event log.
    pub events: EventLog,
    /// The LLM layer (offline by default).
    pub brain: Arc<dyn Brain>,
    /// Where tenants do business (the sandbox market by default).
    pub market: Arc<dyn Marketplace>,
    /// Redis, when configured: the throttles' message rates live there, shared by
    /// every process on it.
    pub redis: Option<Arc<RedisLink>>,
    /// Where a tenant that does not act on `market` acts instead (its connected
    /// platforms, or a rehearsal of them), asked each time its swarm starts; `None`:
    /// every tenant acts on `market`.
    pub markets: Option<Arc<dyn TenantMarkets>>,
    /// What the agents make media with and where they keep it (a listing's cover);
    /// `None`: they make none.
    pub media: Option<SwarmMedia>,
}

/// Chooses each tenant's market when its swarm starts: the shared one (the sandbox),
/// or the platforms the tenant connected.
#[async_trait::async_trait]
pub trait TenantMarkets: Send + Sync + 'static {
    /// The market `tenant`'s swarm acts on (the row as its activation just read it),
    /// given the `shared` one: `shared` itself unless the tenant chose otherwise (a
    /// rehearsal over it, or its own account, which gets an adapter actor).
    async fn market_for(&self, tenant: &Tenant, shared: &Arc<dyn Marketplace>) -> SwarmMarket;
}

/// Seed of the default sandbox world.
pub const DEFAULT_SANDBOX_SEED: u64 = 42;

impl SwarmServices {
    /// The embedded defaults: the offline brain and a sandbox market.
    pub fn embedded(store: SharedStore, events: EventLog) -> Self {
        Self {
            store,
            events,
            brain: Arc::new(OfflineBrain),
            market: Arc::new(SandboxMarket::new(DEFAULT_SANDBOX_SEED)),
            redis: None,
            markets: None,
            media: None,
        }
    }
}

pub(crate) struct RootShared {
    services: SwarmServices,
    /// This node's leases, in a cluster (`SupervisorConfig::leases`).
    leases: Option<Arc<Leases>>,
    registry: Arc<AgentRegistry>,
    config: Arc<SupervisorConfig>,
    tenants: DashMap<TenantId, Arc<TenantEntry>>,
    /// Each tenant's live activity feed, kept apart from its swarm so that a viewer
    /// keeps the same feed across restarts, passivation and reactivation. An entry is
    /// created by a viewer or an activation and dropped when neither needs it.
    activity: DashMap<TenantId, ActivityFeed>,
    swarms: DashMap<ActorId, TenantId>,
    generation: AtomicU64,
    shutting_down: AtomicBool,
    /// Set while an operator drains this node (see [`SwarmRoot::set_draining`]).
    draining: AtomicBool,
    epoch: std::time::Instant,
}

impl RootShared {
    pub(crate) fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Acquire)
    }

    /// The tenants whose lease this node holds for a swarm in memory, with its epoch.
    pub(crate) fn leased_tenants(&self) -> Vec<(TenantId, i64)> {
        self.tenants
            .iter()
            .filter_map(|entry| match entry.lease.load(Ordering::Acquire) {
                0 => None,
                epoch => Some((*entry.key(), epoch)),
            })
            .collect()
    }

    /// Drops the activity feeds nobody watches and no swarm publishes to, so the map
    /// stays as large as the set of watched or active tenants.
    ///
    /// It looks at the feeds alone. Asking `tenants` from inside `activity.retain` would
    /// take the two maps' locks in the opposite order from an activation (which creates
    /// the feed under the `tenants` entry's lock), and the two would deadlock the worker
    /// threads: the 10,000-tenant chaos drill froze that way.
    fn forget_unwatched_feeds(&self) {
        self.activity.retain(|_, feed| feed.is_watched() || feed.is_held_elsewhere());
    }

    async fn emit(&self, event: NewEvent) {
        if let Err(error) = self.services.events.append(event).await {
            tracing::warn!(%error, "lifecycle event not recorded");
        }
    }

    /// Spawns a tenant's swarm under the root. The caller holds the entry's lock.
    async fn spawn_swarm(
        &self,
        root: &ActorRef<RootMessage>,
        entry: &TenantEntry,
    ) -> Result<(ActorRef<SwarmMessage>, u64), SwarmError> {
        let args = TenantSwarmArgs {
            shared: entry.shared.clone(),
            registry: self.registry.clone(),
            services: self.services.clone(),
        };
        let (swarm, _) = Actor::spawn_linked(None, TenantSwarm, args, root.get_cell())
            .await
            .map_err(|error| SwarmError::Spawn(error.to_string()))?;
        self.swarms.insert(swarm.get_id(), entry.shared.tenant);
        Ok((swarm, self.generation.fetch_add(1, Ordering::Relaxed)))
    }
}

/// Handle to the root of the actor tree (drawn in the crate documentation). Cheap to
/// clone.
#[derive(Clone)]
pub struct SwarmRoot {
    shared: Arc<RootShared>,
    actor: ActorRef<RootMessage>,
}

impl SwarmRoot {
    /// Starts the root actor with the embedded defaults (offline brain, sandbox market).
    /// Tenants are activated later, on demand.
    pub async fn start(
        store: SharedStore,
        events: EventLog,
        registry: AgentRegistry,
        config: SupervisorConfig,
    ) -> Result<Self, SwarmError> {
        Self::start_with(SwarmServices::embedded(store, events), registry, config).await
    }

    /// Starts the root actor with chosen services.
    pub async fn start_with(
        services: SwarmServices,
        registry: AgentRegistry,
        config: SupervisorConfig,
    ) -> Result<Self, SwarmError> {
        let leases = config
            .leases
            .clone()
            .map(|lease_config| Arc::new(Leases::new(services.store.clone(), services.events.clone(), lease_config)));
        let shared = Arc::new(RootShared {
            leases: leases.clone(),
            services,
            registry: Arc::new(registry),
            config: Arc::new(config),
            tenants: DashMap::new(),
            activity: DashMap::new(),
            swarms: DashMap::new(),
            generation: AtomicU64::new(1),
            shutting_down: AtomicBool::new(false),
            draining: AtomicBool::new(false),
            epoch: std::time::Instant::now(),
        });
        let (actor, _) = Actor::spawn(None, RootActor, shared.clone())
            .await
            .map_err(|error| SwarmError::Spawn(error.to_string()))?;
        if let Some(leases) = leases {
            tokio::spawn(leases::keep(shared.clone(), leases));
        }
        Ok(Self { shared, actor })
    }

    /// The tenant's swarm, activating it if it is not running. Looks the tenant up in
    /// the store first: unknown and disabled tenants get no swarm.
    pub async fn activate(&self, tenant: TenantId) -> Result<TenantHandle, SwarmError> {
        self.activate_from(tenant, None).await
    }

    /// [`SwarmRoot::activate`] for a caller that has just read the tenant's row (an API
    /// request checking its owner, say): the row is used as it is, sparing activation
    /// its one database read. A disabled tenant still gets no swarm.
    pub async fn activate_row(&self, row: &Tenant) -> Result<TenantHandle, SwarmError> {
        self.activate_from(row.id, Some(row)).await
    }

    async fn activate_from(&self, tenant: TenantId, given: Option<&Tenant>) -> Result<TenantHandle, SwarmError> {
        loop {
            if self.shared.shutting_down.load(Ordering::Acquire) {
                return Err(SwarmError::ShuttingDown);
            }
            // Fast path: already running, no lock, no query.
            if let Some(entry) = self.shared.tenants.get(&tenant)
                && matches!(*entry.shared.status.borrow(), SwarmStatus::Running | SwarmStatus::Degraded)
            {
                entry.shared.touch();
                return Ok(TenantHandle { shared: entry.shared.clone() });
            }
            let row = match given {
                Some(row) => std::borrow::Cow::Borrowed(row),
                None => std::borrow::Cow::Owned(
                    self.shared.services.store.tenant(tenant).await?.ok_or(SwarmError::TenantNotFound(tenant))?,
                ),
            };
            if !row.is_active {
                return Err(SwarmError::TenantDisabled(tenant));
            }
            let personality = personality_of(&row).map_err(|error| SwarmError::Personality { tenant, error })?;
            // The feed is had before the entry's lock is taken: no map's lock is ever
            // held while another map's is taken (see `forget_unwatched_feeds`).
            let feed = self.activity_feed(tenant);
            let entry = self
                .shared
                .tenants
                .entry(tenant)
                .or_insert_with(|| Arc::new(self.new_entry(tenant, personality, feed)))
                .clone();
            let mut lifecycle = entry.lifecycle.lock().await;
            match &*lifecycle {
                Lifecycle::Running { .. } => {
                    entry.shared.touch();
                    return Ok(TenantHandle { shared: entry.shared.clone() });
                }
                Lifecycle::BackingOff { until } => {
                    return Err(SwarmError::Restarting {
                        tenant,
                        retry_after: until.saturating_duration_since(Instant::now()),
                    });
                }
                // Passivated between our lookup and the lock: start over with a new entry.
                Lifecycle::Retired => continue,
                Lifecycle::Inactive => {}
            }
            if let Some(leases) = &self.shared.leases {
                let claimed = if self.shared.draining.load(Ordering::Acquire) {
                    Err(SwarmError::Draining(tenant))
                } else {
                    leases.claim(tenant).await
                };
                match claimed {
                    Ok(epoch) => entry.lease.store(epoch, Ordering::Release),
                    Err(error) => {
                        // Held elsewhere (or not to be had): this node keeps no entry for it.
                        *lifecycle = Lifecycle::Retired;
                        self.shared.tenants.remove_if(&tenant, |_, current| Arc::ptr_eq(current, &entry));
                        return Err(error);
                    }
                }
            }
            let market = match &self.shared.services.markets {
                Some(markets) => markets.market_for(&row, &self.shared.services.market).await,
                None => SwarmMarket::Shared(self.shared.services.market.clone()),
            };
            // A shared market is handed the tenant's saved world when the swarm first
            // uses it; an account's adapter restores its own when it starts.
            let market = match market {
                SwarmMarket::Shared(shared) => SwarmMarket::Shared(Arc::new(RestoredMarket::new(
                    shared,
                    tenant,
                    self.shared.services.store.clone(),
                ))),
                account => account,
            };
            entry.shared.choose_market(market, &self.shared.services.store);
            let (swarm, generation) = match self.shared.spawn_swarm(&self.actor, &entry).await {
                Ok(spawned) => spawned,
                Err(error) => {
                    *lifecycle = Lifecycle::Retired;
                    self.shared.tenants.remove_if(&tenant, |_, current| Arc::ptr_eq(current, &entry));
                    hand_back_lease(&self.shared, &entry, LeaseEnd::HandBack).await;
                    return Err(error);
                }
            };
            *lifecycle = Lifecycle::Running { swarm, generation };
            entry.shared.status.send_replace(SwarmStatus::Running);
            self.shared
                .emit(
                    NewEvent::now(
                        tenant,
                        "swarm",
                        "swarm.started",
                        format!(
                            "swarm started with {} agents (the CEO awake, the others when first asked)",
                            self.shared.registry.len()
                        ),
                    )
                    .with_data(json!({ "agents": self.shared.registry.names(), "generation": generation })),
                )
                .await;
            return Ok(TenantHandle { shared: entry.shared.clone() });
        }
    }

    fn new_entry(&self, tenant: TenantId, personality: Personality, activity: ActivityFeed) -> TenantEntry {
        let config = self.shared.config.clone();
        let services = &self.shared.services;
        let gate =
            Arc::new(ThrottleGate::new(tenant, config.default_limits, services.events.clone(), services.redis.clone()));
        let names = self.shared.registry.names();
        let shared = TenantShared::new(
            tenant,
            &names,
            gate,
            config,
            self.shared.epoch,
            SwarmBrief { personality: Arc::new(personality), market: services.market.clone() },
            SwarmWitnesses { events: self.shared.services.events.clone(), activity },
        );
        TenantEntry {
            shared: Arc::new(shared),
            lifecycle: Mutex::new(Lifecycle::Inactive),
            escalations: AtomicU64::new(0),
            lease: AtomicI64::new(0),
        }
    }

    /// Watches the tenant's live activity: the same feed whether or not its swarm runs,
    /// and across its restarts. Watching does not activate the swarm.
    /// An autopilot with a faster cadence while watched is woken to take it up.
    pub fn watch_activity(&self, tenant: TenantId) -> tokio::sync::broadcast::Receiver<Activity> {
        // Subscribed under the map's entry lock, so the feed cannot be forgotten as
        // unwatched between being found and being watched.
        let viewer = self.shared.activity.entry(tenant).or_default().subscribe();
        // Looked up after the feed's lock is released: no map lock inside another's.
        if let Some(swarm) = self.get(tenant) {
            swarm.rearm_autopilot();
        }
        viewer
    }

    /// The agents every swarm has, CEO first (also when the tenant's is not running).
    pub fn agent_names(&self) -> Vec<&'static str> {
        self.shared.registry.names()
    }

    fn activity_feed(&self, tenant: TenantId) -> ActivityFeed {
        self.shared.activity.entry(tenant).or_default().clone()
    }

    /// How many tenants' live activity feeds are kept: those watched or published to.
    pub fn activity_feeds(&self) -> usize {
        self.shared.activity.len()
    }

    /// The handle of an active tenant, without activating it.
    pub fn get(&self, tenant: TenantId) -> Option<TenantHandle> {
        self.shared.tenants.get(&tenant).map(|entry| TenantHandle { shared: entry.shared.clone() })
    }

    /// The tenant's swarm status, `None` when it is not active.
    pub fn status(&self, tenant: TenantId) -> Option<SwarmStatus> {
        self.shared.tenants.get(&tenant).map(|entry| *entry.shared.status.borrow())
    }

    /// The tenants with a swarm in memory.
    pub fn active_tenant_ids(&self) -> Vec<TenantId> {
        self.shared.tenants.iter().map(|entry| *entry.key()).collect()
    }

    /// Drains this node (or stops draining it): while draining, it starts no swarm it
    /// does not run already; the caller passivates those it runs, handing their leases
    /// to other nodes.
    pub fn set_draining(&self, draining: bool) {
        self.shared.draining.store(draining, Ordering::Release);
    }

    /// Whether this node is draining.
    pub fn is_draining(&self) -> bool {
        self.shared.draining.load(Ordering::Acquire)
    }

    /// How many tenants have a swarm in memory (running, degraded or restarting).
    pub fn active_tenants(&self) -> usize {
        self.shared.tenants.len()
    }

    /// Stops an active swarm and forgets it; its next use activates it afresh.
    /// Returns whether there was a swarm to passivate.
    pub async fn passivate(&self, tenant: TenantId) -> bool {
        let retired = retire(
            &self.shared,
            tenant,
            SwarmStatus::Passivated,
            ("swarm.passivated", "idle"),
            STOP_WAIT,
            LeaseEnd::HandBack,
        )
        .await;
        self.shared.forget_unwatched_feeds();
        retired
    }

    /// Passivates every swarm idle for longer than the configured time-out now, rather
    /// than at the next periodic sweep. Returns how many were passivated.
    pub async fn passivate_idle(&self) -> usize {
        passivate_idle(&self.shared).await
    }

    /// Stops every swarm (each agent finishes its current message), then the root.
    /// Lifecycle events are queued to the event log; close the log afterwards to
    /// persist them.
    pub async fn shutdown(&self) {
        self.shutdown_within(STOP_WAIT).await;
    }

    /// Like [`SwarmRoot::shutdown`], but a swarm whose agents have not finished their
    /// messages within `grace` (one waiting on a database that is down, say) is killed:
    /// its `swarm.stopped` event says `"forced": true`, and its checkpoint resumes the
    /// interrupted work at the next start.
    pub async fn shutdown_within(&self, grace: Duration) {
        if self.shared.shutting_down.swap(true, Ordering::AcqRel) {
            return;
        }
        let tenants: Vec<TenantId> = self.shared.tenants.iter().map(|entry| *entry.key()).collect();
        let stops = tenants.into_iter().map(|tenant| {
            // Handed back all at once when the process leaves the cluster, after the
            // event log has written the swarms' last events.
            retire(&self.shared, tenant, SwarmStatus::Stopped, ("swarm.stopped", "shutdown"), grace, LeaseEnd::Keep)
        });
        futures::future::join_all(stops).await;
        self.actor.stop(Some("shutdown".into()));
    }
}

/// The tenant's personality: a custom profile in its settings (`personality_profile`),
/// else the built-in one it names.
fn personality_of(tenant: &Tenant) -> Result<Personality, PersonalityError> {
    boardroom_personalities::of_business(&tenant.personality, &tenant.settings)
}

/// How long a swarm's agents may take to finish their messages when it is stopped.
const STOP_WAIT: Duration = Duration::from_secs(15);

/// What becomes of a retired swarm's lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LeaseEnd {
    /// Handed back once its last events are written: another node may take it at once.
    HandBack,
    /// It was lost: nothing to hand back.
    Lost,
    /// Kept: the process hands all its leases back when it leaves the cluster.
    Keep,
}

async fn hand_back_lease(shared: &RootShared, entry: &TenantEntry, end: LeaseEnd) {
    let Some(leases) = &shared.leases else { return };
    let epoch = entry.lease.swap(0, Ordering::AcqRel);
    if epoch == 0 {
        return;
    }
    match end {
        LeaseEnd::HandBack => leases.release(entry.shared.tenant, epoch).await,
        LeaseEnd::Lost => leases.forget(entry.shared.tenant, epoch),
        LeaseEnd::Keep => {}
    }
}

/// Stops the swarms of tenants whose lease this node lost: their writes would be
/// refused, and another node runs (or is about to run) them.
pub(crate) async fn let_go(shared: &Arc<RootShared>, tenants: Vec<TenantId>) {
    futures::stream::iter(tenants)
        .map(|tenant| {
            retire(
                shared,
                tenant,
                SwarmStatus::Passivated,
                ("swarm.passivated", "lease lost"),
                STOP_WAIT,
                LeaseEnd::Lost,
            )
        })
        .buffer_unordered(PASSIVATED_AT_ONCE)
        .for_each(|_| std::future::ready(()))
        .await;
    shared.forget_unwatched_feeds();
}

/// Stops a tenant's swarm on purpose and removes its entry; past `stop_within` its
/// agents are killed mid-message. `(kind, reason)` name its last event.
async fn retire(
    shared: &Arc<RootShared>,
    tenant: TenantId,
    status: SwarmStatus,
    (kind, reason): (&'static str, &'static str),
    stop_within: Duration,
    lease: LeaseEnd,
) -> bool {
    let Some(entry) = shared.tenants.get(&tenant).map(|entry| entry.clone()) else {
        return false;
    };
    let mut lifecycle = entry.lifecycle.lock().await;
    let previous = std::mem::replace(&mut *lifecycle, Lifecycle::Retired);
    shared.tenants.remove_if(&tenant, |_, current| Arc::ptr_eq(current, &entry));
    let Lifecycle::Running { swarm, .. } = previous else {
        entry.shared.set_all_slots(SlotState::Closed("swarm stopped"));
        entry.shared.status.send_replace(status);
        hand_back_lease(shared, &entry, lease).await;
        return !matches!(previous, Lifecycle::Retired);
    };
    // Forget the actor first so its termination is not mistaken for a failure.
    shared.swarms.remove(&swarm.get_id());
    entry.shared.status.send_replace(status);
    let forced = match swarm.stop_and_wait(Some(reason.into()), Some(stop_within)).await {
        Ok(()) => false,
        Err(error) => {
            tracing::warn!(%error, %tenant, "swarm did not stop in time; killing it");
            swarm.kill();
            true
        }
    };
    entry.shared.set_all_slots(SlotState::Closed("swarm stopped"));
    shared
        .emit(
            NewEvent::now(tenant, "swarm", kind, format!("swarm stopped: {reason}"))
                .with_data(json!({ "reason": reason, "forced": forced })),
        )
        .await;
    hand_back_lease(shared, &entry, lease).await;
    true
}

async fn passivate_idle(shared: &Arc<RootShared>) -> usize {
    let mut idle = Vec::new();
    for entry in shared.tenants.iter() {
        if !matches!(*entry.shared.status.borrow(), SwarmStatus::Running | SwarmStatus::Degraded) {
            continue;
        }
        if entry.shared.is_idle() {
            idle.push(*entry.key());
        } else {
            // An active swarm's idle agents sleep while it stays up.
            entry.shared.sleep_idle_agents();
        }
    }
    // Several at once: a swarm stopping waits on its agents, and a sweep over a quarter
    // of a million idle swarms one by one would take minutes (one stuck swarm its
    // STOP_WAIT) before the rest are freed.
    let passivated = futures::stream::iter(idle)
        .map(|tenant| {
            retire(shared, tenant, SwarmStatus::Passivated, ("swarm.passivated", "idle"), STOP_WAIT, LeaseEnd::HandBack)
        })
        .buffer_unordered(PASSIVATED_AT_ONCE)
        .filter(|retired| std::future::ready(*retired))
        .count()
        .await;
    shared.forget_unwatched_feeds();
    passivated
}

/// Idle swarms a sweep stops at once.
const PASSIVATED_AT_ONCE: usize = 64;

struct RootActor;

impl Actor for RootActor {
    type Msg = RootMessage;
    type State = Arc<RootShared>;
    type Arguments = Arc<RootShared>;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        shared: Arc<RootShared>,
    ) -> Result<Self::State, ActorProcessingErr> {
        myself.send_interval(shared.config.passivation_interval, || RootMessage::PassivateIdle);
        Ok(shared)
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        shared: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        if shared.shutting_down.load(Ordering::Acquire) {
            return Ok(());
        }
        match message {
            RootMessage::Restart(tenant) => restart_swarm(&myself, shared, tenant).await,
            RootMessage::ClearDegraded(tenant, generation) => {
                let Some(entry) = shared.tenants.get(&tenant).map(|e| e.clone()) else {
                    return Ok(());
                };
                let lifecycle = entry.lifecycle.lock().await;
                if matches!(&*lifecycle, Lifecycle::Running { generation: current, .. } if *current == generation)
                    && *entry.shared.status.borrow() == SwarmStatus::Degraded
                {
                    entry.escalations.store(0, Ordering::Relaxed);
                    entry.shared.status.send_replace(SwarmStatus::Running);
                    shared
                        .emit(NewEvent::now(
                            tenant,
                            "swarm",
                            "swarm.recovered",
                            "swarm stable again; no longer degraded",
                        ))
                        .await;
                }
            }
            RootMessage::PassivateIdle => {
                // On its own task: stopping swarms waits for them, and the root must keep
                // handling restarts and supervision events meanwhile.
                let shared = shared.clone();
                tokio::spawn(async move { passivate_idle(&shared).await });
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<Self::Msg>,
        event: SupervisionEvent,
        shared: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let Some((child, reason)) = crate::exited_child(event) else { return Ok(()) };
        // Swarms stopped on purpose were removed from `swarms` before stopping.
        let Some((_, tenant)) = shared.swarms.remove(&child) else {
            return Ok(());
        };
        let Some(entry) = shared.tenants.get(&tenant).map(|e| e.clone()) else {
            return Ok(());
        };
        let mut lifecycle = entry.lifecycle.lock().await;
        let attempt = entry.escalations.fetch_add(1, Ordering::Relaxed) + 1;
        let delay = shared.config.backoff.delay(attempt as u32);
        *lifecycle = Lifecycle::BackingOff { until: Instant::now() + delay };
        entry.shared.set_all_slots(SlotState::Closed("swarm degraded; restarting after back-off"));
        entry.shared.status.send_replace(SwarmStatus::Restarting);
        drop(lifecycle);
        shared
            .emit(
                NewEvent::now(
                    tenant,
                    "swarm",
                    "swarm.degraded",
                    format!("swarm failed; restarting in {} ms", delay.as_millis()),
                )
                .with_data(json!({ "reason": reason, "attempt": attempt, "retry_in_ms": delay.as_millis() as u64 })),
            )
            .await;
        myself.send_after(delay, move || RootMessage::Restart(tenant));
        Ok(())
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<Self::Msg>,
        shared: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        shared.shutting_down.store(true, Ordering::Release);
        Ok(())
    }
}

async fn restart_swarm(myself: &ActorRef<RootMessage>, shared: &Arc<RootShared>, tenant: TenantId) {
    let Some(entry) = shared.tenants.get(&tenant).map(|e| e.clone()) else {
        return;
    };
    let mut lifecycle = entry.lifecycle.lock().await;
    if !matches!(&*lifecycle, Lifecycle::BackingOff { .. }) {
        return;
    }
    let attempt = entry.escalations.load(Ordering::Relaxed);
    match shared.spawn_swarm(myself, &entry).await {
        Ok((swarm, generation)) => {
            *lifecycle = Lifecycle::Running { swarm, generation };
            entry.shared.status.send_replace(SwarmStatus::Degraded);
            drop(lifecycle);
            shared
                .emit(
                    NewEvent::now(
                        tenant,
                        "swarm",
                        "swarm.restarted",
                        format!("swarm restarted (attempt {attempt}); degraded until stable"),
                    )
                    .with_data(json!({ "attempt": attempt, "generation": generation })),
                )
                .await;
            myself
                .send_after(shared.config.degraded_clear_after, move || RootMessage::ClearDegraded(tenant, generation));
        }
        Err(error) => {
            let attempt = entry.escalations.fetch_add(1, Ordering::Relaxed) + 1;
            let delay = shared.config.backoff.delay(attempt as u32);
            *lifecycle = Lifecycle::BackingOff { until: Instant::now() + delay };
            drop(lifecycle);
            shared
                .emit(
                    NewEvent::now(tenant, "swarm", "swarm.degraded", format!("swarm restart failed; retrying in {} ms", delay.as_millis()))
                        .with_data(json!({ "reason": error.to_string(), "attempt": attempt, "retry_in_ms": delay.as_millis() as u64 })),
                )
                .await;
            myself.send_after(delay, move || RootMessage::Restart(tenant));
        }
    }
}
