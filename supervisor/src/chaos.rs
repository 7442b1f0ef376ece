//! Fault injection for drills: agents that panic at a chosen rate while handling a
//! message (`CHAOS_AGENT_PANIC_RATE`), so restarts, escalation and crash recovery can be
//! exercised on a running system. Off unless configured.
//!
//! Each agent draws from its own RNG, seeded from the drill's seed, the tenant and the
//! agent's name, and kept in the agent's slot across restarts: the same run (same seed,
//! same messages in the same order) panics at the same messages.

use std::sync::Mutex;

use boardroom_memory::TenantId;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The panic that chaos injects starts with this, so a drill can tell it from a real
/// one (and keep it out of its output).
pub const CHAOS_PANIC_PREFIX: &str = "chaos: injected panic";

/// A fault-injection drill: agents of the chosen tenants panic at `panic_rate` per
/// message handled.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChaosConfig {
    /// Probability (0 ≤ rate ≤ 1) that an agent panics on a message it is given.
    pub panic_rate: f64,
    /// Seed of the agents' RNGs.
    pub seed: u64,
    /// Which tenants' agents panic; the others run untouched, as witnesses.
    pub tenants: ChaosTenants,
}

/// Which tenants a drill makes panic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChaosTenants {
    /// Every tenant.
    All,
    /// Tenants with an even id only, so the odd ones show any cross-tenant impact.
    EvenIds,
}

impl ChaosConfig {
    /// Whether this drill makes `tenant`'s agents panic.
    pub fn targets(&self, tenant: TenantId) -> bool {
        match self.tenants {
            ChaosTenants::All => true,
            ChaosTenants::EvenIds => tenant.0 % 2 == 0,
        }
    }

    /// The dice one agent of one tenant rolls before each message; `None` when the
    /// drill spares the tenant.
    pub(crate) fn dice(&self, tenant: TenantId, agent: &str) -> Option<ChaosDice> {
        if !self.targets(tenant) || self.panic_rate <= 0.0 {
            return None;
        }
        // FNV-1a over the agent's name, mixed with the seed and the tenant: a stable,
        // distinct stream per agent.
        let name = agent
            .bytes()
            .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3));
        let seed = self.seed ^ name ^ (tenant.0 as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        Some(ChaosDice { rate: self.panic_rate.clamp(0.0, 1.0), rng: Mutex::new(ChaCha8Rng::seed_from_u64(seed)) })
    }
}

/// One agent's seeded RNG for a drill.
#[derive(Debug)]
pub(crate) struct ChaosDice {
    rate: f64,
    rng: Mutex<ChaCha8Rng>,
}

impl ChaosDice {
    /// Whether the next message should make the agent panic.
    pub(crate) fn strikes(&self) -> bool {
        // Held for one draw only; a poisoned lock (a panic while drawing) cannot
        // happen, but would only mean the draw goes on from the same state.
        let mut rng = self.rng.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        rng.random_bool(self.rate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draws(config: &ChaosConfig, tenant: i64, agent: &str) -> Vec<bool> {
        let dice = config.dice(TenantId(tenant), agent).expect("targeted");
        (0..200).map(|_| dice.strikes()).collect()
    }

    #[test]
    fn the_same_seed_panics_at_the_same_messages_and_each_agent_has_its_own_stream() {
        let config = ChaosConfig { panic_rate: 0.1, seed: 9, tenants: ChaosTenants::All };
        assert_eq!(draws(&config, 2, "seo"), draws(&config, 2, "seo"));
        assert_ne!(draws(&config, 2, "seo"), draws(&config, 2, "pricing"));
        assert_ne!(draws(&config, 2, "seo"), draws(&config, 4, "seo"));
        let strikes = draws(&config, 2, "seo").into_iter().filter(|strike| *strike).count();
        assert!((5..=40).contains(&strikes), "about 10 % of 200: {strikes}");
    }

    #[test]
    fn a_drill_on_even_tenants_spares_the_odd_ones() {
        let config = ChaosConfig { panic_rate: 1.0, seed: 1, tenants: ChaosTenants::EvenIds };
        assert!(config.dice(TenantId(3), "ceo").is_none());
        assert!(config.dice(TenantId(4), "ceo").expect("targeted").strikes());
    }
}
