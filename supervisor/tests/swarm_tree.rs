//! Stories of the supervised tree: agents crash and come back, swarms escalate and
//! recover, tenants stay isolated, floods wait, throttles bite, idle swarms go to sleep.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use boardroom_agents::{Agent, AgentContext, AgentError, AgentRegistry, Task};
use boardroom_memory::testing::{TestSqlite, create_tenant, fresh_sqlite};
use boardroom_memory::{EventLog, EventLogConfig, SharedStore, SwarmEvent, TenantId};
use boardroom_supervisor::{
    Backoff, RestartIntensity, SupervisorConfig, SwarmError, SwarmRoot, SwarmStatus, ThrottleLimits,
};
use serde_json::{Value, json};
use tokio::sync::Semaphore;

/// Answers `echo`, panics on `crash`, and on `wait` holds until the test lets it go.
struct Flaky {
    gate: Arc<Semaphore>,
}

#[async_trait]
impl Agent for Flaky {
    async fn handle(&mut self, _context: &AgentContext, task: Task) -> Result<Value, AgentError> {
        match task.action.as_str() {
            "echo" => Ok(json!("pong")),
            "crash" => panic!("flaky was asked to crash"),
            "fatal" => Err(AgentError::Fatal("state is broken".into())),
            "wait" => {
                let permit = self.gate.acquire().await.map_err(|_| AgentError::Failed("gate closed".into()))?;
                permit.forget();
                Ok(json!("released"))
            }
            other => Err(AgentError::UnknownAction { agent: "flaky".into(), action: other.into() }),
        }
    }
}

struct World {
    _database: TestSqlite,
    store: SharedStore,
    events: EventLog,
    root: SwarmRoot,
    gate: Arc<Semaphore>,
}

fn quick_config() -> SupervisorConfig {
    SupervisorConfig {
        restart_intensity: RestartIntensity { max_restarts: 2, within: Duration::from_secs(30) },
        backoff: Backoff { initial: Duration::from_millis(200), max: Duration::from_secs(2), jitter: 0.0 },
        degraded_clear_after: Duration::from_millis(500),
        call_timeout: Duration::from_secs(5),
        ..SupervisorConfig::default()
    }
}

async fn world(config: SupervisorConfig) -> World {
    let database = fresh_sqlite().await;
    let store: SharedStore = Arc::new(database.store.clone());
    let events = EventLog::start(store.clone(), EventLogConfig::default());
    let gate = Arc::new(Semaphore::new(0));
    let flaky_gate = gate.clone();
    let registry = AgentRegistry::standard().with("flaky", move || Box::new(Flaky { gate: flaky_gate.clone() }));
    let root = SwarmRoot::start(store.clone(), events.clone(), registry, config).await.expect("root starts");
    World { _database: database, store, events, root, gate }
}

impl World {
    async fn tenant(&self, name: &str) -> TenantId {
        create_tenant(self.store.as_ref(), name, "coachty").await
    }

    /// Waits (at most 10 s) for the tenant's next event of `kind` after `after_seq`.
    async fn next_event(&self, tenant: TenantId, after_seq: i64, kind: &str) -> SwarmEvent {
        let mut subscription = self.events.subscribe(tenant, after_seq);
        let found = tokio::time::timeout(Duration::from_secs(10), async {
            while let Some(event) = subscription.next().await {
                let event = event.expect("event log readable");
                if event.kind == kind {
                    return event.event().clone();
                }
            }
            panic!("event log closed before a {kind} event");
        });
        found.await.unwrap_or_else(|_| panic!("no {kind} event for tenant {tenant} within 10 s"))
    }

    async fn kinds(&self, tenant: TenantId) -> Vec<String> {
        self.events.flush().await.expect("flush");
        self.store.events_after(tenant, 0, 10_000).await.expect("events").into_iter().map(|e| e.kind).collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_that_panics_is_restarted_and_its_tenant_keeps_working() {
    let world = world(quick_config()).await;
    let tenant = world.tenant("acme").await;
    let swarm = world.root.activate(tenant).await.expect("activates");

    let crashed = swarm.call("flaky", Task::bare("crash")).await;
    assert!(matches!(crashed, Err(AgentError::Unavailable(_))), "the caller learns the agent died: {crashed:?}");

    assert_eq!(swarm.call("flaky", Task::bare("echo")).await, Ok(json!("pong")), "the restarted agent answers");
    assert_eq!(swarm.call("pricing", Task::bare("ping")).await.map(|v| v["pong"].clone()), Ok(json!(true)));
    assert_eq!(swarm.status(), SwarmStatus::Running);
    let failed = world.next_event(tenant, 0, "agent.failed").await;
    assert_eq!(failed.actor, "flaky");
    assert!(failed.data["error"].as_str().unwrap_or_default().contains("asked to crash"), "{:?}", failed.data);
    world.next_event(tenant, failed.seq, "agent.restarted").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fatal_error_is_answered_and_then_the_agent_restarts_fresh() {
    let world = world(quick_config()).await;
    let tenant = world.tenant("acme").await;
    let swarm = world.root.activate(tenant).await.expect("activates");
    for _ in 0..3 {
        swarm.call("seo", Task::bare("ping")).await.expect("ping");
    }
    assert_eq!(swarm.call("seo", Task::bare("status")).await.expect("status")["tasks_handled"], 4);

    let answer = swarm.call("flaky", Task::bare("fatal")).await;
    assert_eq!(answer, Err(AgentError::Fatal("state is broken".into())));
    world.next_event(tenant, 0, "agent.restarted").await;
    assert_eq!(swarm.call("flaky", Task::bare("echo")).await, Ok(json!("pong")));
    assert_eq!(
        swarm.call("seo", Task::bare("status")).await.expect("status")["tasks_handled"],
        5,
        "other agents keep their state"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exceeding_the_restart_intensity_escalates_backs_off_and_marks_the_tenant_degraded_while_others_are_unaffected()
{
    let world = world(quick_config()).await;
    let troubled = world.tenant("troubled").await;
    let bystander = world.tenant("bystander").await;
    let swarm = world.root.activate(troubled).await.expect("activates");
    let neighbour = world.root.activate(bystander).await.expect("activates");

    // The bystander is used throughout; not one of its calls may fail.
    let stop = Arc::new(AtomicBool::new(false));
    let pinger = {
        let neighbour = neighbour.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut answered = 0u32;
            while !stop.load(Ordering::Relaxed) {
                neighbour.call("flaky", Task::bare("echo")).await.expect("the bystander keeps answering");
                answered += 1;
                tokio::task::yield_now().await;
            }
            answered
        })
    };

    // Two restarts are tolerated; the third failure within the window escalates.
    let mut seen = 0;
    for _ in 0..2 {
        let _ = swarm.call("flaky", Task::bare("crash")).await;
        seen = world.next_event(troubled, seen, "agent.restarted").await.seq;
    }
    let _ = swarm.call("flaky", Task::bare("crash")).await;
    let escalated = world.next_event(troubled, seen, "swarm.escalated").await;
    assert_eq!(escalated.data["restarts"], 3);
    let degraded = world.next_event(troubled, escalated.seq, "swarm.degraded").await;
    assert_eq!(degraded.data["attempt"], 1);
    assert_eq!(degraded.data["retry_in_ms"], 200);

    // While it backs off, its agents refuse at once and activation says when to retry.
    assert_eq!(swarm.status(), SwarmStatus::Restarting);
    assert!(matches!(swarm.call("pricing", Task::bare("ping")).await, Err(AgentError::Unavailable(_))));
    assert!(matches!(world.root.activate(troubled).await, Err(SwarmError::Restarting { .. })));

    // After the back-off it is back, still marked degraded until it proves stable.
    world.next_event(troubled, degraded.seq, "swarm.restarted").await;
    assert_eq!(swarm.wait_for_status(|s| *s != SwarmStatus::Restarting).await, SwarmStatus::Degraded);
    assert_eq!(swarm.call("flaky", Task::bare("echo")).await, Ok(json!("pong")), "old handles work again");
    world.next_event(troubled, degraded.seq, "swarm.recovered").await;
    assert_eq!(swarm.status(), SwarmStatus::Running);

    stop.store(true, Ordering::Relaxed);
    let answered = pinger.await.expect("bystander task");
    assert!(answered > 0);
    assert_eq!(neighbour.status(), SwarmStatus::Running);
    let bystander_kinds = world.kinds(bystander).await;
    assert_eq!(bystander_kinds, ["swarm.started"], "nothing happened to the bystander");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_messages_waits_for_in_flight_permits_instead_of_growing_the_mailbox() {
    let world = world(SupervisorConfig { mailbox_permits: 4, ..quick_config() }).await;
    let tenant = world.tenant("flooded").await;
    let flaky = world.root.activate(tenant).await.expect("activates").agent("flaky").expect("flaky");

    // One message is being handled (held at the gate) and three wait in the mailbox.
    for _ in 0..4 {
        flaky.cast(Task::bare("wait")).await.expect("a permit is free");
    }
    assert_eq!(flaky.free_permits(), 0);
    let fifth = tokio::spawn({
        let flaky = flaky.clone();
        async move { flaky.cast(Task::bare("wait")).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!fifth.is_finished(), "the fifth sender must wait for a permit");

    world.gate.add_permits(1);
    fifth.await.expect("task").expect("sent once a permit freed up");
    world.gate.add_permits(4);
    assert_eq!(flaky.call(Task::bare("echo")).await, Ok(json!("pong")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_throttle_refuses_past_its_rate_and_a_live_change_applies_to_the_next_message() {
    let world = world(quick_config()).await;
    let tenant = world.tenant("metered").await;
    let swarm = world.root.activate(tenant).await.expect("activates");
    let strict = ThrottleLimits {
        messages_per_minute: std::num::NonZeroU32::new(1),
        burst: std::num::NonZeroU32::new(1),
        max_wait: Duration::ZERO,
        ..ThrottleLimits::default()
    };
    swarm.throttle().set_limits(strict).await;

    swarm.call("seo", Task::bare("ping")).await.expect("the first message fits the burst");
    let refused = swarm.call("seo", Task::bare("ping")).await;
    assert!(
        matches!(refused, Err(AgentError::Throttled { retry_after_secs, .. }) if retry_after_secs > 50.0),
        "{refused:?}"
    );
    let event = world.next_event(tenant, 0, "throttle.refused").await;
    assert_eq!(event.actor, "seo");

    swarm.throttle().set_limits(ThrottleLimits::default()).await;
    swarm.call("seo", Task::bare("ping")).await.expect("unlimited again on the very next message");
    assert_eq!(swarm.throttle().counters(), (0, 1));
    let changes = world.kinds(tenant).await.into_iter().filter(|k| k == "throttle.changed").count();
    assert_eq!(changes, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_swarms_are_passivated_and_come_back_on_demand_unless_pinned() {
    let world = world(SupervisorConfig { idle_timeout: Duration::from_millis(50), ..quick_config() }).await;
    let idle = world.tenant("idle").await;
    let watched = world.tenant("watched").await;
    let idle_swarm = world.root.activate(idle).await.expect("activates");
    let watched_swarm = world.root.activate(watched).await.expect("activates");
    let _viewer = watched_swarm.pin();

    tokio::time::sleep(Duration::from_millis(120)).await;
    assert_eq!(world.root.passivate_idle().await, 1);
    assert_eq!(world.root.active_tenants(), 1);
    assert_eq!(world.root.status(idle), None);
    assert_eq!(idle_swarm.status(), SwarmStatus::Passivated);
    assert!(matches!(idle_swarm.call("seo", Task::bare("ping")).await, Err(AgentError::Unavailable(_))));
    assert_eq!(watched_swarm.status(), SwarmStatus::Running);

    let again = world.root.activate(idle).await.expect("reactivates");
    assert_eq!(again.call("seo", Task::bare("ping")).await.map(|v| v["pong"].clone()), Ok(json!(true)));
    let kinds = world.kinds(idle).await;
    assert_eq!(kinds, ["swarm.started", "swarm.passivated", "swarm.started"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ceo_reaches_every_specialist_and_unknown_tenants_get_no_swarm() {
    let world = world(quick_config()).await;
    let tenant = world.tenant("acme").await;
    let swarm = world.root.activate(tenant).await.expect("activates");
    assert_eq!(&swarm.agent_names()[..3], ["ceo", "strategist", "seo"]);

    let report = swarm.call("ceo", Task::bare("roll_call")).await.expect("roll call");
    assert_eq!(report["present"].as_array().map(Vec::len), Some(9), "8 specialists + flaky: {report}");
    assert_eq!(report["absent"], json!({}));
    world.next_event(tenant, 0, "ceo.roll_call").await;

    assert!(matches!(world.root.activate(TenantId(987_654)).await, Err(SwarmError::TenantNotFound(_))));
    world.store.set_tenant_active(tenant, false).await.expect("disable");
    world.root.passivate(tenant).await;
    assert!(matches!(world.root.activate(tenant).await, Err(SwarmError::TenantDisabled(_))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_stops_every_swarm_and_persists_every_accepted_event() {
    let world = world(quick_config()).await;
    let tenants = [world.tenant("a").await, world.tenant("b").await, world.tenant("c").await];
    for tenant in tenants {
        world
            .root
            .activate(tenant)
            .await
            .expect("activates")
            .call("ceo", Task::bare("roll_call"))
            .await
            .expect("roll call");
    }
    world.root.shutdown().await;
    world.events.close().await;
    assert!(matches!(world.root.activate(tenants[0]).await, Err(SwarmError::ShuttingDown)));
    for tenant in tenants {
        let events = world.store.events_after(tenant, 0, 100).await.expect("events");
        let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(kinds, ["swarm.started", "ceo.roll_call", "swarm.stopped"]);
        let seqs: Vec<i64> = events.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, [1, 2, 3]);
    }
}

/// Activations and the idle sweep both use the tenants' map and the activity feeds' map.
/// Taking their locks in opposite orders deadlocks the worker threads (the
/// 10,000-tenant chaos drill froze that way), so many rounds of both at once must
/// finish. Afterwards only the watched tenant's feed is kept.
#[test]
fn activations_racing_passivations_never_deadlock_and_unwatched_feeds_are_forgotten() {
    const TENANTS: usize = 48;
    const WORKERS: usize = 8;
    const ROUNDS: usize = 200;
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(4).enable_all().build().expect("runtime");
    let (finished, finish) = std::sync::mpsc::channel();
    // The watchdog is a plain thread: a deadlock blocks the runtime's own timers.
    let story = std::thread::spawn(move || {
        runtime.block_on(async {
            let world = world(quick_config()).await;
            let mut tenants = Vec::new();
            for index in 0..TENANTS {
                tenants.push(world.tenant(&format!("racer {index}")).await);
            }
            let watched = world.root.activate(tenants[0]).await.expect("activates");
            let viewer = world.root.watch_activity(tenants[0]);
            let workers = (0..WORKERS).map(|worker| {
                let root = world.root.clone();
                let mine: Vec<TenantId> = tenants.iter().copied().skip(1 + worker).step_by(WORKERS).collect();
                tokio::spawn(async move {
                    for _ in 0..ROUNDS {
                        for tenant in &mine {
                            root.activate(*tenant).await.expect("activates");
                            root.passivate(*tenant).await;
                        }
                    }
                })
            });
            for worker in futures::future::join_all(workers).await {
                worker.expect("worker finished");
            }
            drop(watched);
            world.root.passivate(tenants[0]).await;
            assert_eq!(feeds_after_sweeps(&world.root, 1).await, 1, "only the watched tenant's feed is kept");
            drop(viewer);
            assert_eq!(feeds_after_sweeps(&world.root, 0).await, 0, "nobody watches or publishes any more");
        });
        let _ = finished.send(());
    });
    if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = finish.recv_timeout(Duration::from_secs(180)) {
        panic!("{WORKERS} activating and passivating tasks made no progress for 180 s: deadlocked");
    }
    if let Err(failure) = story.join() {
        std::panic::resume_unwind(failure);
    }
}

/// The feeds kept once the idle sweeps have had a chance to forget down to `expected`:
/// a stopped swarm's agents let go of their feed as they finish dying, so a feed may
/// outlive its passivation by a sweep or two. Gives up after 10 s of sweeps.
async fn feeds_after_sweeps(root: &SwarmRoot, expected: usize) -> usize {
    for _ in 0..200 {
        root.passivate_idle().await;
        if root.activity_feeds() <= expected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    root.activity_feeds()
}
