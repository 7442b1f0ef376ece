//! A personality's swarm as a policy: a fresh database, one tenant, one autopilot cycle
//! per simulated day, the sandbox market and the offline brain; with learning on, or off
//! as the control (its reflection draws lessons but keeps the strategy as it was).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use boardroom_adapters::SandboxMarket;
use boardroom_agents::{AgentRegistry, CEO, Reflector, Task};
use boardroom_memory::{EventLog, EventLogConfig, NewTenant, NewUser, Role, SharedStore, Tier};
use boardroom_supervisor::{SupervisorConfig, SwarmRoot, SwarmServices};
use serde_json::json;

use super::{Outcome, TENANT};
use crate::bench::ScratchSqlite;

/// Plays `personality` for `days` days on `seed`'s world and reports it as `policy`.
pub(super) async fn play(
    policy: &str,
    personality: &str,
    learning: bool,
    days: u32,
    seed: u64,
) -> anyhow::Result<Outcome> {
    let scratch = ScratchSqlite::new();
    let store: SharedStore = boardroom_memory::connect(&scratch.url).await?;
    let events = EventLog::start(store.clone(), EventLogConfig::default());
    let market = Arc::new(SandboxMarket::new(seed));
    let services = SwarmServices {
        store: store.clone(),
        events: events.clone(),
        brain: Arc::new(boardroom_agents::brain::OfflineBrain),
        market: market.clone(),
        redis: None,
        markets: None,
        media: None,
    };
    let mut agents = AgentRegistry::standard();
    if !learning {
        agents = agents.with("reflection", || Box::new(Reflector::without_learning()));
    }
    let root = SwarmRoot::start_with(services, agents, SupervisorConfig::default()).await?;
    let owner = store
        .create_user(NewUser {
            email: "sim@localhost".into(),
            password_hash: "!".into(),
            role: Role::User,
            tier: Tier::Free,
        })
        .await?;
    let tenant = store
        .create_tenant(NewTenant {
            user_id: owner.id,
            name: format!("{personality} simulation"),
            domain: None,
            personality: personality.to_lowercase(),
            settings: json!({}),
        })
        .await?;
    anyhow::ensure!(tenant.id == TENANT, "the simulation's tenant must be the first of its database");
    let swarm = root.activate(tenant.id).await?;
    for day in 1..=days {
        swarm
            .call_with_timeout(CEO, Task::bare("run_cycle"), Duration::from_secs(120))
            .await
            .with_context(|| format!("{policy}: cycle {day} failed"))?;
    }
    let outcome = Outcome::measure(policy, &market, days).await;
    root.shutdown().await;
    events.close().await;
    store.close().await;
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_bold_swarm_launches_each_product_into_a_niche_it_does_not_sell_in_yet() {
        // HustleBot launches every 9 cycles: on days 1, 10 and 19. Before, the top niche
        // came back after the first launch and was declined, so it sold one product.
        let outcome = play("HustleBot", "HustleBot", true, 22, 275_413).await.expect("the swarm plays 22 days");
        assert_eq!(outcome.products, 3, "{outcome:?}");
        assert_eq!(outcome.niches, outcome.products, "each product in a niche of its own: {outcome:?}");
        assert!(outcome.profit.is_finite());
    }
}
