//! # boardroom-supervisor
//!
//! Owns the supervised actor tree that runs every tenant's swarm: activation on
//! demand, passivation when idle, one-for-one restarts with a restart intensity,
//! escalation with exponential back-off, the per-tenant throttle, bounded mailboxes,
//! and the lifecycle events that make all of it visible.
//!
//! ```text
//!                         SwarmRoot                    (one per process)
//!        restarts escalated swarms after back-off + jitter; passivates idle ones
//!                             │
//!         ┌───────────────────┼─────────────────────┐
//!   TenantSwarm(t1)     TenantSwarm(t2)   …   TenantSwarm(tN)   (one per *active* tenant)
//!   one-for-one restarts; > N restarts in T ⇒ escalate (fail) to the root
//!         │
//!   ┌─────┬──────────┬─────┬─────────┬─────────┬──────────┬────────────┬────────┬────────────┐
//!  Ceo  strategist  seo  pricing  content  flipping  accountant  memory  reflection
//!  (always up)  └──────── each spawned on its first message, asleep when idle ────────┘
//!   ▲
//!   └─ every message passes the tenant's ThrottleGate, then takes one of the
//!      agent's in-flight permits, released when the agent has handled it
//!
//!   … and, for a business live on a connected account, one adapter actor beside the
//!   agents (`market:shopify`), its calls admitted by the same gate
//! ```
//!
//! A swarm starts with its supervisor and its CEO only. Each specialist is spawned by
//! its first message (the sender waits as for a restart), supervised like the CEO from
//! then on, and put to sleep again after `agent_idle_timeout` without a message while
//! its swarm stays active; agents keep their state in the store, so a woken agent is
//! the one that slept. An agent is only put to sleep with all its in-flight permits in
//! hand, so no message is ever left in a stopping mailbox.
//!
//! Callers never see actors: [`SwarmRoot::activate`] gives a [`TenantHandle`], whose
//! [`AgentHandle`]s `call` and `cast` with time-outs. Handles stay valid across agent
//! restarts (a sender waits for the replacement) and fail fast with a clear reason
//! while a swarm is degraded or after it was passivated.
//!
//! ## Layout
//! - `activity`: [`ActivityFeed`], the live, unpersisted signal of who calls whom
//!   and what each agent is doing, for the live view's graph.
//! - `config`: restart intensity, back-off, time-outs, default throttle limits.
//! - `chaos`: [`ChaosConfig`], agents panicking on purpose at a seeded rate, for drills.
//! - `throttle`: [`ThrottleGate`], the per-tenant rate limit, changeable live.
//! - `tenant`: [`TenantHandle`], [`AgentHandle`], slots and permits.
//! - `agent_actor`: the actor hosting one agent.
//! - `adapter_actor`: the actor hosting one connected account (tenant × platform),
//!   started when first needed, and the swarm's market that sends every call to it.
//! - `tenant_swarm`: the per-tenant supervisor.
//! - `root`: [`SwarmRoot`], activation, back-off, passivation, shutdown.
//! - `leases`: in a cluster, this node's leases on tenants' swarms: claimed at
//!   activation, renewed, handed back, and the swarms whose lease was lost let go.
//! - `restored_market`: a swarm's share of a shared simulated market, its saved world
//!   restored on first use.
//! - `autopilot`: the per-tenant driver of the CEO's cycle: interval, pause, resume,
//!   run now.
//!
//! ## Lifecycle events
//! `swarm.started`, `agent.failed`, `agent.restarted`, `adapter.started`,
//! `adapter.failed`, `adapter.restarted`, `swarm.escalated`,
//! `swarm.degraded`, `swarm.restarted`, `swarm.recovered`, `swarm.passivated` (its
//! `reason` is `idle`, or `lease lost` in a cluster),
//! `swarm.stopped`, and the throttle's `throttle.waited`, `throttle.refused`,
//! `throttle.changed`, and the autopilot's `autopilot.restarted` (its driver panicked
//! and is started again after back-off).

mod activity;
mod adapter_actor;
mod agent_actor;
mod autopilot;
mod chaos;
mod config;
mod leases;
mod restored_market;
mod root;
mod tenant;
mod tenant_swarm;
mod throttle;

/// The child a supervision event says has exited, and why; `None` for events that are
/// not exits (starts, group changes).
fn exited_child(event: ractor::SupervisionEvent) -> Option<(ractor::ActorId, String)> {
    match event {
        ractor::SupervisionEvent::ActorFailed(cell, error) => Some((cell.get_id(), error.to_string())),
        ractor::SupervisionEvent::ActorTerminated(cell, _, reason) => {
            Some((cell.get_id(), reason.unwrap_or_else(|| "stopped unexpectedly".into())))
        }
        _ => None,
    }
}

pub use activity::{Activity, ActivityFeed, AgentState, MessagePhase, adapter_node};
pub use adapter_actor::{AccountOpener, AdapterState, SwarmMarket};
pub use autopilot::AutopilotState;
pub use chaos::{CHAOS_PANIC_PREFIX, ChaosConfig, ChaosTenants};
pub use config::{Backoff, LeaseConfig, RestartIntensity, SupervisorConfig, ThrottleLimits};
pub use root::{DEFAULT_SANDBOX_SEED, SwarmError, SwarmRoot, SwarmServices, TenantMarkets};
pub use tenant::{AdapterView, AgentHandle, PinGuard, SwarmStatus, TenantHandle};
pub use throttle::{Refusal, ThrottleGate, limits_json};
