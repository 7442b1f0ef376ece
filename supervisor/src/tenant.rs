//! Handles to an active tenant's swarm and its agents: what the rest of the system sees.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use async_trait::async_trait;
use boardroom_adapters::{ChannelMarket, Marketplace};
use boardroom_agents::{AgentError, Peers, Task};
use boardroom_memory::{EventLog, SharedStore, TenantId};
use boardroom_personalities::Personality;
use ractor::{ActorRef, MessagingErr};
use serde::Serialize;
use serde_json::Value;
use tokio::sync::{Semaphore, oneshot, watch};
use tokio::time::{Instant, timeout_at};

use crate::activity::{Activity, ActivityFeed, AgentState as AgentLifecycle, FROM_API, MessagePhase};
use crate::adapter_actor::{AccountOpener, ActorMarket, AdapterServices, AdapterSlot, AdapterState, SwarmMarket};
use crate::agent_actor::AgentMessage;
use crate::autopilot::AutopilotControl;
use crate::chaos::ChaosDice;
use crate::config::SupervisorConfig;
use crate::tenant_swarm::SwarmMessage;
use crate::throttle::{GuardedMarket, ThrottleGate};

/// Where a tenant's swarm stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SwarmStatus {
    /// Being spawned.
    Starting,
    /// All agents up.
    Running,
    /// Running again after escalating, not yet stable for long enough.
    Degraded,
    /// Escalated and waiting out its back-off before the root restarts it.
    Restarting,
    /// Stopped on purpose (shutdown).
    Stopped,
    /// Stopped for idleness; the next use activates it again.
    Passivated,
}

/// Where one agent stands, as its handles see it.
#[derive(Clone)]
pub(crate) enum SlotState {
    /// Not spawned, and nobody asked for it yet (or it slept after an idle spell): the
    /// first sender wakes it (asks the swarm to spawn it) and waits like the others.
    Asleep,
    /// Being spawned (woken, or restarted after a failure): senders wait.
    Waiting,
    /// Up: messages go to this actor.
    Running(ActorRef<AgentMessage>),
    /// Gone for good (swarm escalated, passivated or stopped): senders fail at once.
    Closed(&'static str),
}

/// The part of an agent that outlives its actor: handles keep pointing here across
/// restarts, and the in-flight permits bound its mailbox.
pub(crate) struct AgentSlot {
    pub(crate) name: &'static str,
    /// Its place in the registry (the swarm spawns it by this).
    pub(crate) index: usize,
    /// When a message was last admitted for it, in ms since the root's epoch: the
    /// swarm puts it to sleep after an idle spell.
    last_used_ms: AtomicU64,
    pub(crate) state: watch::Sender<SlotState>,
    pub(crate) permits: Arc<Semaphore>,
    /// A drill's dice for this agent (`None` outside drills); here rather than in the
    /// actor so the sequence goes on across restarts instead of starting over.
    pub(crate) chaos: Option<ChaosDice>,
}

/// Everything about one active tenant that handles share.
pub(crate) struct TenantShared {
    pub(crate) tenant: TenantId,
    pub(crate) slots: Vec<Arc<AgentSlot>>,
    pub(crate) gate: Arc<ThrottleGate>,
    pub(crate) status: watch::Sender<SwarmStatus>,
    pub(crate) config: Arc<SupervisorConfig>,
    pub(crate) personality: Arc<Personality>,
    pub(crate) events: EventLog,
    pub(crate) autopilot: AutopilotControl,
    /// The live view's signal of this tenant (shared with the swarms before and after
    /// this one, so viewers keep watching across restarts).
    pub(crate) activity: ActivityFeed,
    /// The market the swarm acts on, chosen when it starts (see `TenantMarkets`).
    market: std::sync::RwLock<Arc<dyn Marketplace>>,
    /// The adapters of the connected accounts the market is made of, when it is one:
    /// the selling account's first, then each marketing channel's.
    adapters: std::sync::RwLock<Vec<Arc<AdapterSlot>>>,
    /// The swarm's supervisor while it runs: where a sleeping agent's first sender asks
    /// for it to be woken.
    swarm: std::sync::RwLock<Option<ActorRef<SwarmMessage>>>,
    last_used_ms: AtomicU64,
    pins: AtomicUsize,
    epoch: std::time::Instant,
}

/// Where a swarm's doings are seen: the persisted event log, and the live activity feed.
pub(crate) struct SwarmWitnesses {
    pub(crate) events: EventLog,
    pub(crate) activity: ActivityFeed,
}

/// How a swarm works: the personality it plans under, and the market it acts on (until
/// its next start chooses again).
pub(crate) struct SwarmBrief {
    pub(crate) personality: Arc<Personality>,
    pub(crate) market: Arc<dyn Marketplace>,
}

impl TenantShared {
    pub(crate) fn new(
        tenant: TenantId,
        names: &[&'static str],
        gate: Arc<ThrottleGate>,
        config: Arc<SupervisorConfig>,
        epoch: std::time::Instant,
        brief: SwarmBrief,
        witnesses: SwarmWitnesses,
    ) -> Self {
        let SwarmWitnesses { events, activity } = witnesses;
        let SwarmBrief { personality, market } = brief;
        let slots = names
            .iter()
            .enumerate()
            .map(|(index, &name)| {
                Arc::new(AgentSlot {
                    name,
                    index,
                    last_used_ms: AtomicU64::new(0),
                    state: watch::Sender::new(SlotState::Waiting),
                    permits: Arc::new(Semaphore::new(config.mailbox_permits)),
                    chaos: config.chaos.as_ref().and_then(|chaos| chaos.dice(tenant, name)),
                })
            })
            .collect();
        let shared = Self {
            tenant,
            slots,
            gate,
            status: watch::Sender::new(SwarmStatus::Starting),
            config,
            personality,
            events,
            autopilot: AutopilotControl::default(),
            activity,
            market: std::sync::RwLock::new(market),
            adapters: std::sync::RwLock::new(Vec::new()),
            swarm: std::sync::RwLock::new(None),
            last_used_ms: AtomicU64::new(0),
            pins: AtomicUsize::new(0),
            epoch,
        };
        shared.touch();
        shared
    }

    /// The market the swarm acts on.
    pub(crate) fn market(&self) -> Arc<dyn Marketplace> {
        self.market.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// The adapter of the connected account the swarm sells through, if it acts on one.
    pub(crate) fn adapter(&self) -> Option<Arc<AdapterSlot>> {
        self.adapters().into_iter().next()
    }

    /// Every adapter of the swarm: the selling account's, then its channels'.
    pub(crate) fn adapters(&self) -> Vec<Arc<AdapterSlot>> {
        self.adapters.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// Chooses the market the swarm acts on from its next start on: a shared one, or
    /// the tenant's account behind an adapter actor, with each of its marketing channels
    /// behind one of its own (each started when first needed).
    pub(crate) fn choose_market(&self, choice: SwarmMarket, store: &SharedStore) {
        let (market, adapters): (Arc<dyn Marketplace>, _) = match choice {
            SwarmMarket::Shared(market) => (market, Vec::new()),
            SwarmMarket::Account(opener) => {
                let slot_of = |opener: Arc<dyn AccountOpener>| {
                    let services = AdapterServices {
                        store: store.clone(),
                        events: self.events.clone(),
                        activity: self.activity.clone(),
                    };
                    Arc::new(AdapterSlot::new(self.tenant, opener, services))
                };
                let channels: Vec<Arc<AdapterSlot>> = opener.channels().into_iter().map(slot_of).collect();
                let selling = slot_of(opener);
                let mut market: Arc<dyn Marketplace> = Arc::new(ActorMarket::new(selling.clone()));
                if !channels.is_empty() {
                    let fronts = channels
                        .iter()
                        .map(|slot| Arc::new(ActorMarket::new(slot.clone())) as Arc<dyn Marketplace>)
                        .collect();
                    market = Arc::new(ChannelMarket::new(market, fronts));
                }
                (market, std::iter::once(selling).chain(channels).collect())
            }
        };
        *self.market.write().unwrap_or_else(std::sync::PoisonError::into_inner) = market;
        *self.adapters.write().unwrap_or_else(std::sync::PoisonError::into_inner) = adapters;
    }

    pub(crate) fn touch(&self) {
        self.last_used_ms.store(self.now_ms(), Ordering::Relaxed);
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// Where the swarm's supervisor is (or `None` once it stopped).
    pub(crate) fn set_swarm(&self, swarm: Option<ActorRef<SwarmMessage>>) {
        *self.swarm.write().unwrap_or_else(std::sync::PoisonError::into_inner) = swarm;
    }

    /// Wakes a sleeping agent: the first sender to find it asleep marks it as waiting
    /// and asks the swarm to spawn it; every sender then waits for it like for a restart.
    fn wake(&self, slot: &AgentSlot) {
        let woken = slot.state.send_if_modified(|state| match state {
            SlotState::Asleep => {
                *state = SlotState::Waiting;
                true
            }
            _ => false,
        });
        if !woken {
            return;
        }
        self.activity.publish(|| Activity::Agent { agent: slot.name, state: AgentLifecycle::Waking });
        let swarm = self.swarm.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        if swarm.is_none_or(|swarm| swarm.send_message(SwarmMessage::Wake(slot.index)).is_err()) {
            // The swarm stopped meanwhile: its agents are gone for good.
            slot.state.send_if_modified(|state| match state {
                SlotState::Waiting => {
                    *state = SlotState::Closed("swarm stopped");
                    true
                }
                _ => false,
            });
        }
    }

    /// The agents (never the CEO, which the swarm keeps awake) that have had no message
    /// for `idle` and are up: the ones the swarm may put to sleep now.
    pub(crate) fn drowsy_agents(&self, idle: std::time::Duration) -> Vec<usize> {
        let now = self.now_ms();
        let idle_ms = idle.as_millis() as u64;
        self.slots
            .iter()
            .skip(1)
            .filter(|slot| now.saturating_sub(slot.last_used_ms.load(Ordering::Relaxed)) >= idle_ms)
            .filter(|slot| matches!(*slot.state.borrow(), SlotState::Running(_)))
            .map(|slot| slot.index)
            .collect()
    }

    /// Asks the swarm to put its agents idle for the configured time to sleep, when it
    /// has any (so a sweep over many swarms sends few messages).
    pub(crate) fn sleep_idle_agents(&self) {
        if self.drowsy_agents(self.config.agent_idle_timeout).is_empty() {
            return;
        }
        if let Some(swarm) = &*self.swarm.read().unwrap_or_else(std::sync::PoisonError::into_inner) {
            let _ = swarm.send_message(SwarmMessage::SleepIdleAgents);
        }
    }

    /// Whether nobody pinned the swarm and nobody used it for the idle time-out.
    pub(crate) fn is_idle(&self) -> bool {
        let idle_ms =
            (self.epoch.elapsed().as_millis() as u64).saturating_sub(self.last_used_ms.load(Ordering::Relaxed));
        self.pins.load(Ordering::Relaxed) == 0 && idle_ms >= self.config.idle_timeout.as_millis() as u64
    }

    pub(crate) fn set_all_slots(&self, state: SlotState) {
        for slot in &self.slots {
            slot.state.send_replace(state.clone());
        }
    }
}

/// A connected account's adapter as the live view shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AdapterView {
    /// Its node on the swarm graph (`market:shopify`).
    pub node: String,
    /// The platform.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub platform: boardroom_adapters::Platform,
    /// What it is doing.
    pub state: AdapterState,
}

/// A handle to an active tenant's swarm. Cheap to clone; stays valid across agent and
/// swarm restarts. Once the swarm is passivated or stopped its calls fail with
/// [`AgentError::Unavailable`]; ask the root to activate the tenant again.
#[derive(Clone)]
pub struct TenantHandle {
    pub(crate) shared: Arc<TenantShared>,
}

impl TenantHandle {
    /// The tenant.
    pub fn tenant(&self) -> TenantId {
        self.shared.tenant
    }

    /// Where the swarm stands now.
    pub fn status(&self) -> SwarmStatus {
        *self.shared.status.borrow()
    }

    /// Waits until the swarm's status satisfies `condition`, for tests and the live
    /// view.
    pub async fn wait_for_status(&self, condition: impl FnMut(&SwarmStatus) -> bool) -> SwarmStatus {
        let mut receiver = self.shared.status.subscribe();
        match receiver.wait_for(condition).await {
            Ok(status) => *status,
            Err(_) => self.status(),
        }
    }

    /// The agents of this swarm, CEO first.
    pub fn agent_names(&self) -> Vec<&'static str> {
        self.shared.slots.iter().map(|slot| slot.name).collect()
    }

    /// The personality the swarm plans under.
    pub fn personality(&self) -> &Personality {
        &self.shared.personality
    }

    /// The tenant's throttle, to read or change its limits live.
    pub fn throttle(&self) -> &ThrottleGate {
        &self.shared.gate
    }

    /// The tenant's market as its API requests reach it: behind the tenant's throttle
    /// (its platform calls in flight) like its agents' own calls, and shown on the live
    /// view as calls from `api`.
    pub fn market_for_api(&self) -> Arc<dyn Marketplace> {
        Arc::new(GuardedMarket::new(
            self.shared.market(),
            self.shared.gate.clone(),
            FROM_API,
            self.shared.activity.clone(),
        ))
    }

    /// The adapter of the connected account the swarm acts on, as the live view shows
    /// it; `None` while it acts on a shared market (the sandbox).
    pub fn adapter(&self) -> Option<AdapterView> {
        self.shared.adapter().map(|slot| AdapterView {
            node: slot.node().to_string(),
            platform: slot.platform(),
            state: slot.state(),
        })
    }

    /// Each agent's lifecycle state, CEO first: `asleep` until its first message (and
    /// after an idle spell), `waking` while it is spawned, `idle` once up (what it is
    /// working on shows in the activity feed), `restarting` after a failure, `stopped`
    /// once the swarm is.
    pub fn agent_states(&self) -> Vec<(&'static str, AgentLifecycle)> {
        self.shared
            .slots
            .iter()
            .map(|slot| {
                let state = match &*slot.state.borrow() {
                    SlotState::Asleep => AgentLifecycle::Asleep,
                    SlotState::Waiting => AgentLifecycle::Waking,
                    SlotState::Running(_) => AgentLifecycle::Idle,
                    SlotState::Closed(_) => AgentLifecycle::Stopped,
                };
                (slot.name, state)
            })
            .collect()
    }

    /// A handle to one agent.
    pub fn agent(&self, name: &str) -> Result<AgentHandle, AgentError> {
        self.shared
            .slots
            .iter()
            .find(|slot| slot.name == name)
            .map(|slot| AgentHandle { tenant: self.shared.clone(), slot: slot.clone() })
            .ok_or_else(|| AgentError::NoSuchAgent(name.to_owned()))
    }

    /// Sends `task` to `agent` and waits for the answer.
    pub async fn call(&self, agent: &str, task: Task) -> Result<Value, AgentError> {
        self.agent(agent)?.call(task).await
    }

    /// Like [`TenantHandle::call`] with a time-out of its own, for long tasks such as
    /// a whole autopilot cycle.
    pub async fn call_with_timeout(
        &self,
        agent: &str,
        task: Task,
        timeout: std::time::Duration,
    ) -> Result<Value, AgentError> {
        self.agent(agent)?.call_until(task, Instant::now() + timeout).await
    }

    /// Sends `task` to `agent` without waiting for the answer.
    pub async fn cast(&self, agent: &str, task: Task) -> Result<(), AgentError> {
        self.agent(agent)?.cast(task).await
    }

    /// The swarm's live activity (messages, agent states), for the live view.
    pub fn activity(&self) -> &ActivityFeed {
        &self.shared.activity
    }

    /// Keeps the swarm from being passivated while the guard lives (autopilot on, a
    /// live viewer connected).
    pub fn pin(&self) -> PinGuard {
        self.shared.pins.fetch_add(1, Ordering::Relaxed);
        PinGuard { shared: self.shared.clone() }
    }
}

/// Keeps a swarm active; see [`TenantHandle::pin`].
pub struct PinGuard {
    shared: Arc<TenantShared>,
}

impl Drop for PinGuard {
    fn drop(&mut self) {
        self.shared.pins.fetch_sub(1, Ordering::Relaxed);
        self.shared.touch();
    }
}

/// A handle to one agent of one tenant.
#[derive(Clone)]
pub struct AgentHandle {
    tenant: Arc<TenantShared>,
    slot: Arc<AgentSlot>,
}

impl AgentHandle {
    /// The agent's name.
    pub fn name(&self) -> &'static str {
        self.slot.name
    }

    /// Messages that may still be sent to this agent before senders wait.
    pub fn free_permits(&self) -> usize {
        self.slot.permits.available_permits()
    }

    /// Sends a task and waits for the answer, all within the call time-out: the
    /// tenant's throttle, then an in-flight permit, then delivery (waiting out a
    /// restart of the agent), then the answer.
    pub async fn call(&self, task: Task) -> Result<Value, AgentError> {
        self.call_until(task, Instant::now() + self.tenant.config.call_timeout).await
    }

    /// [`AgentHandle::call`] with an explicit deadline.
    pub async fn call_until(&self, task: Task, deadline: Instant) -> Result<Value, AgentError> {
        self.call_from(FROM_API, task, deadline).await
    }

    /// [`AgentHandle::call_until`] on behalf of `from` (an agent, or the autopilot),
    /// which is who the live view shows as the sender.
    pub(crate) async fn call_from(
        &self,
        from: &'static str,
        task: Task,
        deadline: Instant,
    ) -> Result<Value, AgentError> {
        let (reply, answer) = oneshot::channel();
        let permit = self.admit(from, &task, deadline).await?;
        self.deliver(AgentMessage::Call { from, task, deadline, reply, _permit: permit }, deadline).await?;
        match timeout_at(deadline, answer).await {
            Ok(Ok(result)) => result,
            // The reply port was dropped unanswered: the agent died handling the task, or
            // died with the task still in its mailbox.
            Ok(Err(_)) => Err(AgentError::Unavailable(format!("{} stopped before answering", self.slot.name))),
            Err(_) => Err(AgentError::Unavailable(format!("{} did not answer in time", self.slot.name))),
        }
    }

    /// Sends a task without waiting for its answer. Still passes the throttle and
    /// waits for an in-flight permit, so a flood of casts waits instead of queueing
    /// without bound.
    pub async fn cast(&self, task: Task) -> Result<(), AgentError> {
        let deadline = Instant::now() + self.tenant.config.call_timeout;
        let permit = self.admit(FROM_API, &task, deadline).await?;
        self.deliver(AgentMessage::Cast { from: FROM_API, task, _permit: permit }, deadline).await
    }

    async fn admit(
        &self,
        from: &'static str,
        task: &Task,
        deadline: Instant,
    ) -> Result<tokio::sync::OwnedSemaphorePermit, AgentError> {
        self.tenant.touch();
        self.slot.last_used_ms.store(self.tenant.now_ms(), Ordering::Relaxed);
        let feed = &self.tenant.activity;
        let signal =
            |phase| Activity::Message { from, to: Arc::from(self.slot.name), action: task.action.clone(), phase };
        feed.publish(|| signal(MessagePhase::Sent));
        let on_hold = || feed.publish(|| signal(MessagePhase::Throttled));
        if let Err(refusal) = self.tenant.gate.admit(self.slot.name, deadline, on_hold).await {
            feed.publish(|| signal(MessagePhase::Refused));
            return Err(refusal);
        }
        let permits = self.slot.permits.clone();
        // Fast path without a timer: most of the time a permit is free.
        if let Ok(permit) = permits.clone().try_acquire_owned() {
            return Ok(permit);
        }
        match timeout_at(deadline, permits.acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            Ok(Err(_)) => Err(AgentError::Unavailable(format!("{} is shut down", self.slot.name))),
            Err(_) => Err(AgentError::Unavailable(format!(
                "{} is saturated: no free in-flight permit in time",
                self.slot.name
            ))),
        }
    }

    async fn deliver(&self, mut message: AgentMessage, deadline: Instant) -> Result<(), AgentError> {
        // Fast path: the agent is up; no watch receiver, no clone of its reference.
        if let SlotState::Running(actor) = &*self.slot.state.borrow() {
            match actor.send_message(message) {
                Ok(()) => return Ok(()),
                Err(MessagingErr::SendErr(returned)) => message = returned,
                Err(error) => {
                    return Err(AgentError::Unavailable(format!("{}: {error}", self.slot.name)));
                }
            }
        }
        let mut state = self.slot.state.subscribe();
        loop {
            let current = state.borrow_and_update().clone();
            match current {
                SlotState::Running(actor) => match actor.send_message(message) {
                    Ok(()) => return Ok(()),
                    // The actor died after we looked: wait for its supervisor to
                    // replace it, then try again with the same message.
                    Err(MessagingErr::SendErr(returned)) => message = returned,
                    Err(error) => {
                        return Err(AgentError::Unavailable(format!("{}: {error}", self.slot.name)));
                    }
                },
                SlotState::Closed(reason) => {
                    return Err(AgentError::Unavailable(format!("{}: {reason}", self.slot.name)));
                }
                SlotState::Asleep => self.tenant.wake(&self.slot),
                SlotState::Waiting => {}
            }
            match timeout_at(deadline, state.changed()).await {
                Ok(Ok(())) => continue,
                Ok(Err(_)) => {
                    return Err(AgentError::Unavailable(format!("{} is gone", self.slot.name)));
                }
                Err(_) => {
                    return Err(AgentError::Unavailable(format!("{} was not back in time", self.slot.name)));
                }
            }
        }
    }
}

/// Lets agents call their peers through the same throttled path as everyone else.
pub(crate) struct SwarmPeers {
    pub(crate) tenant: std::sync::Weak<TenantShared>,
    /// The agent these peers are for: the sender the live view shows.
    pub(crate) caller: &'static str,
}

#[async_trait]
impl Peers for SwarmPeers {
    async fn call(&self, agent: &str, task: Task) -> Result<Value, AgentError> {
        // Weak: the agents' contexts must not keep a passivated tenant alive.
        let shared = self.tenant.upgrade().ok_or_else(|| AgentError::Unavailable("swarm stopped".into()))?;
        let deadline = Instant::now() + shared.config.call_timeout;
        TenantHandle { shared }.agent(agent)?.call_from(self.caller, task, deadline).await
    }

    fn names(&self) -> Vec<&'static str> {
        self.tenant.upgrade().map(|shared| shared.slots.iter().map(|slot| slot.name).collect()).unwrap_or_default()
    }
}
