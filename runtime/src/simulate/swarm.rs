//! A personality's swarm as a policy: a fresh database, one tenant, one autopilot cycle
//! per simulated day, the sandbox market and the offline brain.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use boardroom_adapters::SandboxMarket;
use boardroom_agents::{AgentRegistry, CEO, Task};
use boardroom_memory::{EventLog, EventLogConfig, NewTenant, NewUser, Role, SharedStore, Tier};
use boardroom_supervisor::{SupervisorConfig, SwarmRoot, SwarmServices};
use serde_json::json;

use super::{Outcome, TENANT};
use crate::bench::ScratchSqlite;

pub(super) async fn play(personality: &str, days: u32, seed: u64) -> anyhow::Result<Outcome> {
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
    let root = SwarmRoot::start_with(services, AgentRegistry::standard(), SupervisorConfig::default()).await?;
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
            .with_context(|| format!("{personality}: cycle {day} failed"))?;
    }
    let outcome = Outcome::measure(personality, &market, days).await;
    root.shutdown().await;
    events.close().await;
    store.close().await;
    outcome
}
