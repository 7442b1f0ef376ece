use std::num::NonZeroU32;
use std::time::Duration;

use rand::Rng;

use crate::chaos::ChaosConfig;

/// How the tree reacts to failures and idleness.
#[derive(Debug, Clone)]
pub struct SupervisorConfig {
    /// Agent restarts allowed per tenant swarm before it escalates.
    pub restart_intensity: RestartIntensity,
    /// Delay before the root restarts an escalated swarm.
    pub backoff: Backoff,
    /// A restarted swarm stays marked degraded until it has run this long without
    /// escalating again; then its back-off resets.
    pub degraded_clear_after: Duration,
    /// A swarm nobody used for this long (and that no one pinned) is passivated.
    pub idle_timeout: Duration,
    /// How often the root looks for idle swarms (and idle agents in active ones).
    pub passivation_interval: Duration,
    /// An agent (other than the CEO) that had no message for this long is put to sleep
    /// while its swarm stays active; its next message wakes it.
    pub agent_idle_timeout: Duration,
    /// Messages in flight per agent; further senders wait for a permit.
    pub mailbox_permits: usize,
    /// Time a `call` may take in all: throttle, permit, delivery and answer.
    pub call_timeout: Duration,
    /// Throttle every newly activated swarm starts with.
    pub default_limits: ThrottleLimits,
    /// Fault injection for drills (agents panicking on purpose); `None`, the default,
    /// injects nothing.
    pub chaos: Option<ChaosConfig>,
    /// This node's name and lease time-to-live in a cluster: a swarm then runs only
    /// while this node holds its tenant's lease (see `leases.rs`). `None`, the default:
    /// no leases, every tenant's swarm may run here.
    pub leases: Option<LeaseConfig>,
}

/// How this node holds tenants' leases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseConfig {
    /// The node's name, unique in the cluster.
    pub node: String,
    /// How long a lease lives without renewal; renewed every third of it. A node that
    /// dies frees its tenants after this long.
    pub ttl: Duration,
}

impl Default for SupervisorConfig {
    fn default() -> Self {
        Self {
            restart_intensity: RestartIntensity { max_restarts: 3, within: Duration::from_secs(5) },
            backoff: Backoff::default(),
            degraded_clear_after: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(600),
            passivation_interval: Duration::from_secs(30),
            agent_idle_timeout: Duration::from_secs(120),
            mailbox_permits: 64,
            call_timeout: Duration::from_secs(10),
            default_limits: ThrottleLimits::default(),
            chaos: None,
            leases: None,
        }
    }
}

/// Erlang/OTP's restart intensity: more than `max_restarts` agent restarts within
/// `within` and the swarm gives up and escalates to the root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestartIntensity {
    /// Restarts tolerated inside the window.
    pub max_restarts: u32,
    /// The sliding window.
    pub within: Duration,
}

/// Exponential back-off with jitter for restarting escalated swarms.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// Delay after the first escalation.
    pub initial: Duration,
    /// Upper bound of the delay.
    pub max: Duration,
    /// Fraction of the delay added or removed at random (0.2 = ±20 %), so swarms that
    /// failed together do not all come back in the same instant.
    pub jitter: f64,
}

impl Default for Backoff {
    fn default() -> Self {
        Self { initial: Duration::from_secs(1), max: Duration::from_secs(60), jitter: 0.2 }
    }
}

impl Backoff {
    /// Delay before restart number `attempt` (from 1): `initial · 2^(attempt-1)`, capped,
    /// then jittered.
    pub fn delay(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(30);
        let base = self.initial.saturating_mul(1u32 << exponent).min(self.max);
        let jitter = self.jitter.clamp(0.0, 1.0);
        if jitter == 0.0 {
            return base;
        }
        let factor = rand::rng().random_range((1.0 - jitter)..=(1.0 + jitter));
        base.mul_f64(factor)
    }
}

/// Limits a tenant's throttle enforces on every message to its agents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleLimits {
    /// Agent messages per minute for the whole swarm; `None` is unlimited.
    pub messages_per_minute: Option<NonZeroU32>,
    /// Messages that may pass at once before the rate applies (defaults to a second's
    /// worth of the rate).
    pub burst: Option<NonZeroU32>,
    /// Longest a sender waits for the throttle (a message's turn, or a free LLM or
    /// adapter slot) before it is refused.
    pub max_wait: Duration,
    /// LLM tokens the tenant may spend per UTC day; `None` is unlimited. Counted from
    /// the stored LLM calls, so the budget holds across restarts and across processes
    /// sharing the database.
    pub llm_tokens_per_day: Option<u64>,
    /// LLM calls the tenant may have in flight at once; `None` is unlimited.
    pub concurrent_llm_calls: Option<NonZeroU32>,
    /// Platform (adapter) calls the tenant may have in flight at once; `None` is
    /// unlimited.
    pub concurrent_adapter_calls: Option<NonZeroU32>,
}

impl Default for ThrottleLimits {
    fn default() -> Self {
        Self {
            messages_per_minute: None,
            burst: None,
            max_wait: Duration::from_secs(5),
            llm_tokens_per_day: None,
            concurrent_llm_calls: None,
            concurrent_adapter_calls: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap_without_jitter() {
        let backoff = Backoff { initial: Duration::from_millis(100), max: Duration::from_secs(1), jitter: 0.0 };
        let delays: Vec<u128> = (1..=6).map(|attempt| backoff.delay(attempt).as_millis()).collect();
        assert_eq!(delays, [100, 200, 400, 800, 1000, 1000]);
    }

    #[test]
    fn jitter_stays_within_its_band_and_varies() {
        let backoff = Backoff { initial: Duration::from_secs(1), max: Duration::from_secs(60), jitter: 0.2 };
        let delays: Vec<Duration> = (0..50).map(|_| backoff.delay(1)).collect();
        assert!(delays.iter().all(|d| *d >= Duration::from_millis(800) && *d <= Duration::from_millis(1200)));
        assert!(delays.iter().any(|d| *d != delays[0]), "jitter should spread restarts");
    }
}
