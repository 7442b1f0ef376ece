//! A swarm starts with its CEO only: each specialist is spawned by its first message,
//! supervised exactly like an eager agent (a panic restarts it, too many restarts
//! escalate the swarm), put to sleep after an idle spell while its swarm stays active,
//! and woken by its next message as it was (its state is in the store). Senders racing
//! the sleep never lose a message. Starting a swarm reads nothing it may not need: the
//! tenant's saved market world is read when the swarm first trades. Each story runs on
//! SQLite and on PostgreSQL.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use boardroom_adapters::{Marketplace, Platform, SandboxMarket};
use boardroom_agents::brain::OfflineBrain;
use boardroom_agents::{Agent, AgentContext, AgentError, AgentRegistry, Task};
use boardroom_memory::testing::{create_tenant, fresh_postgres, fresh_sqlite};
use boardroom_memory::{EventLog, EventLogConfig, SharedStore, TenantId};
use boardroom_supervisor::{
    AgentState, Backoff, RestartIntensity, SupervisorConfig, SwarmRoot, SwarmServices, SwarmStatus, TenantHandle,
};
use serde_json::{Value, json};

/// Answers `echo`, and `slow` after 2 ms; panics on `crash`.
struct Fragile;

#[async_trait]
impl Agent for Fragile {
    async fn handle(&mut self, _context: &AgentContext, task: Task) -> Result<Value, AgentError> {
        match task.action.as_str() {
            "echo" => Ok(json!("pong")),
            "slow" => {
                tokio::time::sleep(Duration::from_millis(2)).await;
                Ok(json!("pong"))
            }
            "crash" => panic!("fragile was asked to crash"),
            other => Err(AgentError::UnknownAction { agent: "fragile".into(), action: other.into() }),
        }
    }
}

struct World {
    store: SharedStore,
    events: EventLog,
    root: SwarmRoot,
}

/// Agents sleep after `agent_idle` without a message; the root looks every 10 ms.
async fn world(store: SharedStore, agent_idle: Duration) -> World {
    let events = EventLog::start(store.clone(), EventLogConfig::default());
    let config = SupervisorConfig {
        restart_intensity: RestartIntensity { max_restarts: 2, within: Duration::from_secs(30) },
        backoff: Backoff { initial: Duration::from_millis(200), max: Duration::from_secs(2), jitter: 0.0 },
        passivation_interval: Duration::from_millis(10),
        agent_idle_timeout: agent_idle,
        call_timeout: Duration::from_secs(5),
        ..SupervisorConfig::default()
    };
    let registry = AgentRegistry::standard().with("fragile", || Box::new(Fragile));
    let root = SwarmRoot::start(store.clone(), events.clone(), registry, config).await.expect("root starts");
    World { store, events, root }
}

impl World {
    async fn tenant(&self) -> TenantId {
        create_tenant(self.store.as_ref(), "acme", "coachty").await
    }

    async fn kinds(&self, tenant: TenantId) -> Vec<String> {
        self.events.flush().await.expect("flush");
        self.store.events_after(tenant, 0, 10_000).await.expect("events").into_iter().map(|e| e.kind).collect()
    }
}

fn state_of(swarm: &TenantHandle, agent: &str) -> AgentState {
    swarm.agent_states().into_iter().find(|(name, _)| *name == agent).map(|(_, state)| state).expect("an agent")
}

/// Waits (at most 5 s) until `agent` is in `state`.
async fn until_state(swarm: &TenantHandle, agent: &str, state: AgentState) {
    let waited = tokio::time::timeout(Duration::from_secs(5), async {
        while state_of(swarm, agent) != state {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    waited.await.unwrap_or_else(|_| panic!("{agent} not {state:?} within 5 s: {:?}", swarm.agent_states()));
}

async fn a_new_swarm_runs_its_ceo_only_and_a_specialist_wakes_on_its_first_message(store: SharedStore) {
    let world = world(store, Duration::from_secs(600)).await;
    let tenant = world.tenant().await;
    let swarm = world.root.activate(tenant).await.expect("activates");

    let states = swarm.agent_states();
    assert_eq!(states[0], ("ceo", AgentState::Idle), "the CEO is up at once");
    assert!(states[1..].iter().all(|(_, state)| *state == AgentState::Asleep), "{states:?}");

    // A message wakes the one agent it is for, and is answered.
    let pong = swarm.call("seo", Task::bare("ping")).await.expect("seo answers");
    assert_eq!(pong["pong"], json!(true));
    assert_eq!(state_of(&swarm, "seo"), AgentState::Idle);
    let awake: Vec<_> = swarm.agent_states().into_iter().filter(|(_, s)| *s == AgentState::Idle).collect();
    assert_eq!(awake.len(), 2, "the CEO and seo only: {awake:?}");
    world.root.shutdown().await;
}

async fn a_lazily_spawned_agent_is_restarted_like_an_eager_one_and_its_restarts_escalate(store: SharedStore) {
    let world = world(store, Duration::from_secs(600)).await;
    let tenant = world.tenant().await;
    let swarm = world.root.activate(tenant).await.expect("activates");
    assert_eq!(state_of(&swarm, "fragile"), AgentState::Asleep);

    // Woken by a message that makes it panic: the caller is told, the agent restarted.
    let crashed = swarm.call("fragile", Task::bare("crash")).await;
    assert!(matches!(crashed, Err(AgentError::Unavailable(_))), "{crashed:?}");
    assert_eq!(swarm.call("fragile", Task::bare("echo")).await, Ok(json!("pong")), "the restarted agent answers");
    let kinds = world.kinds(tenant).await;
    assert!(kinds.contains(&"agent.failed".to_owned()) && kinds.contains(&"agent.restarted".to_owned()), "{kinds:?}");

    // Past the restart intensity (2 in 30 s) the swarm escalates, as with any agent.
    for _ in 0..2 {
        let _ = swarm.call("fragile", Task::bare("crash")).await;
    }
    let status = tokio::time::timeout(
        Duration::from_secs(5),
        swarm.wait_for_status(|status| matches!(status, SwarmStatus::Restarting | SwarmStatus::Degraded)),
    )
    .await
    .expect("escalates in time");
    assert!(matches!(status, SwarmStatus::Restarting | SwarmStatus::Degraded), "{status:?}");
    assert!(world.kinds(tenant).await.contains(&"swarm.escalated".to_owned()));

    // The restarted swarm starts as a new one: its CEO up, its specialists asleep.
    let again = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match world.root.activate(tenant).await {
                Ok(swarm) => return swarm,
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    })
    .await
    .expect("the root restarts the swarm");
    assert_eq!(state_of(&again, "ceo"), AgentState::Idle);
    assert_eq!(state_of(&again, "fragile"), AgentState::Asleep);
    assert_eq!(again.call("fragile", Task::bare("echo")).await, Ok(json!("pong")));
    world.root.shutdown().await;
}

async fn an_idle_agent_sleeps_while_its_swarm_stays_and_wakes_as_it_was(store: SharedStore) {
    let world = world(store, Duration::from_millis(50)).await;
    let tenant = world.tenant().await;
    let swarm = world.root.activate(tenant).await.expect("activates");
    let _kept_active = swarm.pin();

    let recorded = json!({ "key": "lesson-1", "action_type": "launch_product", "niche": "templates",
                           "success": true, "revenue": "120.00", "lessons": "templates sell in spring" });
    swarm.call("memory", Task::new("record", recorded)).await.expect("recorded");
    until_state(&swarm, "memory", AgentState::Asleep).await;
    assert_eq!(swarm.status(), SwarmStatus::Running, "the swarm stays active");
    assert_eq!(state_of(&swarm, "ceo"), AgentState::Idle, "the CEO does not sleep");

    let recalled = swarm
        .call("memory", Task::new("recall", json!({ "action_type": "launch_product", "niche": "templates" })))
        .await
        .expect("recalled");
    let experiences = recalled["experiences"].as_array().expect("experiences");
    assert_eq!(experiences.len(), 1, "{recalled}");
    assert_eq!(experiences[0]["lessons"], json!("templates sell in spring"), "it came back as it was");
    world.root.shutdown().await;
}

async fn messages_racing_an_agents_sleep_are_all_answered(store: SharedStore) {
    // Agents sleep 1 ms after their last message was sent and the root looks every
    // 10 ms; each message takes 2 ms, so the sweep often finds messages still queued
    // for an agent it could otherwise put to sleep, and callers meet it asleep or waking.
    let world = world(store, Duration::from_millis(1)).await;
    let tenant = world.tenant().await;
    let swarm = world.root.activate(tenant).await.expect("activates");
    let _kept_active = swarm.pin();

    let callers = (0..8_u64).map(|caller| {
        let swarm = swarm.clone();
        tokio::spawn(async move {
            for round in 0..40_u64 {
                let answer = swarm.call("fragile", Task::bare("slow")).await;
                assert_eq!(answer, Ok(json!("pong")), "caller {caller}, round {round}");
                tokio::time::sleep(Duration::from_millis((caller * 7 + round * 3) % 13)).await;
            }
        })
    });
    for caller in futures::future::join_all(callers).await {
        caller.expect("every call answered");
    }
    let kinds = world.kinds(tenant).await;
    assert!(!kinds.contains(&"agent.failed".to_owned()), "a sleeping agent is not a failed one: {kinds:?}");
    world.root.shutdown().await;
}

async fn a_saved_market_world_is_read_when_the_swarm_first_trades_not_when_it_starts(store: SharedStore) {
    // The world the tenant's last run saved: three simulated days on.
    let tenant = create_tenant(store.as_ref(), "acme", "coachty").await;
    let earlier_run = SandboxMarket::new(7);
    earlier_run.advance(tenant, 3).await.expect("days pass");
    let saved = earlier_run.export(tenant).expect("the tenant has a world");
    store.save_adapter_state(tenant, Platform::Sandbox.as_str(), &saved).await.expect("the world is saved");

    let market = Arc::new(SandboxMarket::new(7));
    let events = EventLog::start(store.clone(), EventLogConfig::default());
    let services = SwarmServices {
        store: store.clone(),
        events: events.clone(),
        brain: Arc::new(OfflineBrain),
        market: market.clone(),
        redis: None,
        markets: None,
        media: None,
    };
    let root =
        SwarmRoot::start_with(services, AgentRegistry::standard(), SupervisorConfig::default()).await.expect("root");
    let swarm = root.activate(tenant).await.expect("the swarm starts");
    assert_eq!(market.export(tenant), None, "starting the swarm handed the market no world");

    let snapshot = swarm.market_for_api().market_snapshot(tenant).await.expect("the market answers");
    assert_eq!(snapshot.today, 3, "the first trade finds the saved world's day");
    assert_eq!(market.export(tenant), Some(saved.clone()), "the saved world, restored as it was");
    // Once per activation: a second trade does not read the store again over what moved.
    market.advance(tenant, 1).await.expect("a day passes");
    let snapshot = swarm.market_for_api().market_snapshot(tenant).await.expect("the market answers");
    assert_eq!(snapshot.today, 4, "the world goes on from where it was");
    root.shutdown().await;
    events.close().await;
}

macro_rules! on_both_backends {
    ($($story:ident),* $(,)?) => {
        mod sqlite {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $story() {
                    let database = fresh_sqlite().await;
                    super::$story(Arc::new(database.store.clone())).await;
                }
            )*
        }
        mod postgres {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $story() {
                    let database = fresh_postgres().await;
                    super::$story(Arc::new(database.store.clone())).await;
                }
            )*
        }
    };
}

on_both_backends! {
    a_new_swarm_runs_its_ceo_only_and_a_specialist_wakes_on_its_first_message,
    a_lazily_spawned_agent_is_restarted_like_an_eager_one_and_its_restarts_escalate,
    an_idle_agent_sleeps_while_its_swarm_stays_and_wakes_as_it_was,
    messages_racing_an_agents_sleep_are_all_answered,
    a_saved_market_world_is_read_when_the_swarm_first_trades_not_when_it_starts,
}
