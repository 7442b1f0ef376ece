//! One tenant's supervisor: spawns the CEO at once and each specialist when it is first
//! asked for, puts idle specialists to sleep, restarts agents one for one, and gives up
//! (escalates to the root) past the restart intensity.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use boardroom_agents::{AgentContext, AgentRegistry};
use boardroom_memory::NewEvent;
use ractor::{Actor, ActorId, ActorProcessingErr, ActorRef, SupervisionEvent};
use serde_json::json;
use tokio::time::Instant;

use crate::activity::{Activity, AgentState as AgentLifecycle};
use crate::agent_actor::{AgentActor, AgentState};
use crate::root::SwarmServices;
use crate::tenant::{SlotState, SwarmPeers, TenantShared};
use crate::throttle::{GuardedBrain, GuardedMarket};

pub(crate) struct TenantSwarm;

/// What a swarm's supervisor is asked to do.
pub(crate) enum SwarmMessage {
    /// Spawn the sleeping agent of this registry index: a sender is waiting for it.
    Wake(usize),
    /// Put the agents idle for the configured time to sleep.
    SleepIdleAgents,
}

pub(crate) struct TenantSwarmArgs {
    pub(crate) shared: Arc<TenantShared>,
    pub(crate) registry: Arc<AgentRegistry>,
    pub(crate) services: SwarmServices,
}

pub(crate) struct TenantSwarmState {
    args: TenantSwarmArgs,
    /// Which slot each live child actor fills.
    children: HashMap<ActorId, usize>,
    /// When recent restarts happened, for the restart intensity.
    restarts: VecDeque<Instant>,
}

impl TenantSwarmState {
    async fn emit(&self, event: NewEvent) {
        if let Err(error) = self.args.services.events.append(event).await {
            tracing::warn!(%error, tenant = %self.args.shared.tenant, "lifecycle event not recorded");
        }
    }
}

/// Why a swarm gave up.
#[derive(Debug, thiserror::Error)]
#[error("{restarts} restarts within {within:?}: restart intensity exceeded (last: {child} {reason})")]
pub(crate) struct Escalation {
    restarts: usize,
    within: Duration,
    child: String,
    reason: String,
}

impl TenantSwarmState {
    /// Counts a child's restart against the restart intensity; past it, escalates: the
    /// swarm fails, handing the decision to the root.
    async fn count_restart(&mut self, child: &str, reason: &str) -> Result<(), ActorProcessingErr> {
        let shared = self.args.shared.clone();
        let intensity = shared.config.restart_intensity;
        let now = Instant::now();
        self.restarts.retain(|at| now.duration_since(*at) < intensity.within);
        self.restarts.push_back(now);
        if self.restarts.len() <= intensity.max_restarts as usize {
            return Ok(());
        }
        let escalation = Escalation {
            restarts: self.restarts.len(),
            within: intensity.within,
            child: child.to_owned(),
            reason: reason.to_owned(),
        };
        self.emit(NewEvent::now(shared.tenant, "swarm", "swarm.escalated", escalation.to_string()).with_data(json!({
            "restarts": escalation.restarts,
            "within_ms": intensity.within.as_millis() as u64,
            "max_restarts": intensity.max_restarts,
            "last_failed": child,
        })))
        .await;
        shared.set_all_slots(SlotState::Closed("swarm escalated; the root is restarting it"));
        Err(Box::new(escalation))
    }
}

impl TenantSwarm {
    async fn spawn_agent(
        myself: &ActorRef<SwarmMessage>,
        state: &mut TenantSwarmState,
        index: usize,
    ) -> Result<(), ActorProcessingErr> {
        let shared = &state.args.shared;
        let (name, factory) = &state.args.registry.entries()[index];
        let context = AgentContext {
            tenant: shared.tenant,
            agent: name,
            events: state.args.services.events.clone(),
            peers: Arc::new(SwarmPeers { tenant: Arc::downgrade(shared), caller: name }),
            store: state.args.services.store.clone(),
            personality: shared.personality.clone(),
            brain: Arc::new(GuardedBrain::new(state.args.services.brain.clone(), shared.gate.clone())),
            // The agent's own view of the market: behind the tenant's throttle, and
            // lighting the adapter's edge in the live view when a call goes through.
            market: Arc::new(GuardedMarket::new(shared.market(), shared.gate.clone(), name, shared.activity.clone())),
            media: state.args.services.media.clone(),
            deadline: None,
        };
        let agent_state = AgentState {
            agent: factory(),
            context,
            slot: shared.slots[index].clone(),
            activity: shared.activity.clone(),
            tasks_handled: 0,
        };
        let (actor, _) = Actor::spawn_linked(None, AgentActor, agent_state, myself.get_cell()).await?;
        state.children.insert(actor.get_id(), index);
        // Told before the first message can start, so a viewer sees it up, then working.
        shared.activity.publish(|| Activity::Agent { agent: name, state: AgentLifecycle::Idle });
        shared.slots[index].state.send_replace(SlotState::Running(actor));
        Ok(())
    }
}

impl TenantSwarm {
    /// Stops the agents idle for the configured time, leaving their slots asleep. An
    /// agent is only put to sleep with all its in-flight permits in hand: no message is
    /// then on its way to it or in its mailbox, and a sender that comes after finds it
    /// asleep and wakes it, so no message is lost to a stopping actor.
    fn sleep_idle_agents(state: &mut TenantSwarmState) {
        let shared = state.args.shared.clone();
        let all_permits = u32::try_from(shared.config.mailbox_permits).unwrap_or(u32::MAX);
        for index in shared.drowsy_agents(shared.config.agent_idle_timeout) {
            let slot = &shared.slots[index];
            let Ok(quiet) = slot.permits.clone().try_acquire_many_owned(all_permits) else { continue };
            let SlotState::Running(actor) = slot.state.borrow().clone() else { continue };
            slot.state.send_replace(SlotState::Asleep);
            // Forgotten first, so its stop is not taken for a failure.
            state.children.remove(&actor.get_id());
            actor.stop(Some("asleep".into()));
            drop(quiet);
            shared.activity.publish(|| Activity::Agent { agent: slot.name, state: AgentLifecycle::Asleep });
            tracing::debug!(tenant = %shared.tenant, agent = slot.name, "agent asleep");
        }
    }
}

impl Actor for TenantSwarm {
    type Msg = SwarmMessage;
    type State = TenantSwarmState;
    type Arguments = TenantSwarmArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        args: TenantSwarmArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        let mut state = TenantSwarmState { args, children: HashMap::new(), restarts: VecDeque::new() };
        for adapter in state.args.shared.adapters() {
            adapter.attach(myself.get_cell());
        }
        // The CEO at once (every cycle starts there); the specialists sleep until their
        // first message, so an active swarm costs one agent until it works.
        for slot in state.args.shared.slots.iter().skip(1) {
            slot.state.send_replace(SlotState::Asleep);
        }
        if !state.args.shared.slots.is_empty() {
            Self::spawn_agent(&myself, &mut state, 0).await?;
        }
        state.args.shared.set_swarm(Some(myself));
        Ok(state)
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            SwarmMessage::Wake(index) => {
                let shared = state.args.shared.clone();
                let Some(slot) = shared.slots.get(index) else { return Ok(()) };
                // Only a slot still waiting for it: a restart may have spawned it already.
                if matches!(*slot.state.borrow(), SlotState::Waiting)
                    && !state.children.values().any(|child| *child == index)
                {
                    Self::spawn_agent(&myself, state, index).await?;
                }
            }
            SwarmMessage::SleepIdleAgents => Self::sleep_idle_agents(state),
        }
        Ok(())
    }

    async fn post_stop(&self, myself: ActorRef<Self::Msg>, state: &mut Self::State) -> Result<(), ActorProcessingErr> {
        // Let every agent finish the message it is on before the swarm is gone.
        state.args.shared.set_swarm(None);
        state.args.shared.set_all_slots(SlotState::Closed("swarm stopped"));
        myself.stop_children_and_wait(Some("swarm stopping".into()), Some(Duration::from_secs(10))).await;
        for adapter in state.args.shared.adapters() {
            adapter.close("swarm stopped");
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<Self::Msg>,
        event: SupervisionEvent,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let Some((child, reason)) = crate::exited_child(event) else { return Ok(()) };
        let shared = state.args.shared.clone();
        let tenant = shared.tenant;
        if let Some(adapter) = shared.adapters().into_iter().find(|adapter| adapter.actor_id() == Some(child)) {
            adapter.failed(&reason).await;
            state.count_restart(adapter.node(), &reason).await?;
            if let Err(error) = adapter.restart().await {
                // Its account could not be opened again: the next call tries, and says why.
                tracing::warn!(%error, %tenant, "adapter not restarted");
            }
            return Ok(());
        }
        let Some(index) = state.children.remove(&child) else {
            return Ok(());
        };
        let agent = shared.slots[index].name;
        // Senders wait for the replacement rather than failing.
        shared.slots[index].state.send_replace(SlotState::Waiting);
        shared.activity.publish(|| Activity::Agent { agent, state: AgentLifecycle::Restarting });
        state
            .emit(
                NewEvent::now(tenant, agent, "agent.failed", format!("{agent} failed: {reason}"))
                    .with_data(json!({ "error": reason })),
            )
            .await;
        state.count_restart(agent, &reason).await?;
        Self::spawn_agent(&myself, state, index).await?;
        state
            .emit(
                NewEvent::now(tenant, agent, "agent.restarted", format!("{agent} restarted"))
                    .with_data(json!({ "restarts_in_window": state.restarts.len() })),
            )
            .await;
        Ok(())
    }
}
