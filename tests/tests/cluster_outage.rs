//! Outages under a running cluster: two nodes run autopilot businesses on one PostgreSQL
//! and one Redis, either reached through a proxy that plays the outage.
//!
//! - PostgreSQL restarted: while it is away, longer than the leases last, the nodes
//!   answer 503 `unavailable`; once it is back they sort out by themselves who runs
//!   what, every business ends up on exactly one node and cycles again, and the audit
//!   finds no hole in any log, no cycle started twice and no side effect made twice.
//! - Redis stopped for 30 s: the cluster runs on PostgreSQL alone (leases, placement,
//!   cycles); a browser session cannot be checked once its cached check (`CACHE_SECS`)
//!   is over, so its requests answer 503 `unavailable` (it is not logged out), while API
//!   tokens, kept in PostgreSQL, work.
//!
//! PostgreSQL and Redis only: a cluster is several nodes on one PostgreSQL database.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use boardroom_memory::{NewTenant, NewUser, Role, SharedStore, TenantId, Tier};
use boardroom_runtime::audit_tenant;
use boardroom_tests::proxy::FaultyProxy;
use boardroom_tests::{Backends, TestApp, redis_url, spawn_app_behind_proxy, spawn_app_with};
use serde_json::json;

const BUSINESSES: usize = 6;

async fn autopilot_businesses(store: &SharedStore) -> Vec<TenantId> {
    let owner = store
        .create_user(NewUser {
            email: "owner@example.com".into(),
            password_hash: "!".into(),
            role: Role::User,
            tier: Tier::Enterprise,
        })
        .await
        .expect("owner");
    let mut tenants = Vec::new();
    for index in 0..BUSINESSES {
        let tenant = store
            .create_tenant(NewTenant {
                user_id: owner.id,
                name: format!("Shop {index}"),
                domain: None,
                personality: ["coachty", "hustlebot", "luxuryscaler"][index % 3].into(),
                settings: json!({ "autopilot": true }),
            })
            .await
            .expect("tenant");
        tenants.push(tenant.id);
    }
    tenants
}

/// Waits until `check` holds, polling every 200 ms, for at most `limit`.
async fn within<F: Future<Output = bool>>(limit: Duration, what: &str, mut check: impl FnMut() -> F) -> Duration {
    let started = Instant::now();
    while !check().await {
        assert!(started.elapsed() < limit, "not within {limit:?}: {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    started.elapsed()
}

/// Whether every business is leased to one node that runs it, and the other does not.
async fn each_on_exactly_one_node(nodes: &[&TestApp], tenants: &[TenantId]) -> bool {
    let Ok(leases) = nodes[0].state.store.live_leases().await else { return false };
    tenants.iter().all(|tenant| {
        let Some(lease) = leases.iter().find(|lease| lease.tenant_id == *tenant) else { return false };
        nodes.iter().all(|node| {
            let runs = node.state.swarms.get(*tenant).is_some();
            runs == (node.state.settings.node.name == lease.node)
        })
    })
}

/// Businesses with a `cycle.completed` event after `since`.
async fn cycled_since(store: &SharedStore, tenants: &[TenantId], since: chrono::DateTime<chrono::Utc>) -> usize {
    let mut cycled = 0;
    for &tenant in tenants {
        let Ok(events) = store.events_after(tenant, 0, 100_000).await else { return 0 };
        cycled += usize::from(events.iter().any(|event| event.kind == "cycle.completed" && event.occurred_at > since));
    }
    cycled
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restarted_under_two_nodes_leaves_every_business_on_one_node_with_nothing_lost() {
    let settings = [
        ("DEMO_TENANT", "false"),
        ("LEASE_TTL_SECS", "3"),
        ("SANDBOX_DAY_SECS", "2"),
        ("AUTOPILOT_INTERVAL_SECS", "2"),
        ("SHUTDOWN_GRACE_SECS", "5"),
    ];
    let (first, database) = spawn_app_behind_proxy(&settings).await;
    let second = first.another_process().await;
    let nodes = [&first, &second];
    let store = first.state.store.clone();
    let tenants = autopilot_businesses(&store).await;
    let started = chrono::Utc::now();
    within(Duration::from_secs(90), "every business runs on one node and has cycled", || async {
        each_on_exactly_one_node(&nodes, &tenants).await && cycled_since(&store, &tenants, started).await == BUSINESSES
    })
    .await;
    let spread: HashSet<String> =
        store.live_leases().await.expect("leases").into_iter().map(|lease| lease.node).collect();
    println!("before the outage: businesses on {} node(s)", spread.len());

    // PostgreSQL goes away for three lease times.
    database.take_down();
    for node in nodes {
        let (status, health) = node.get_json("/health").await;
        assert_eq!((status, health["status"].as_str()), (503, Some("unavailable")), "{health}");
    }
    tokio::time::sleep(Duration::from_secs(9)).await;
    database.restore();
    let restored = chrono::Utc::now();

    // The nodes recover by themselves: one node per business, and cycles run again.
    let took = within(Duration::from_secs(90), "every business back on exactly one node, cycling", || async {
        each_on_exactly_one_node(&nodes, &tenants).await && cycled_since(&store, &tenants, restored).await == BUSINESSES
    })
    .await;
    println!("after the outage: every business on one node and cycling again within {} ms", took.as_millis());
    for node in nodes {
        assert_eq!(node.get_json("/health").await.0, 200, "{} serves again", node.state.settings.node.name);
    }

    // The audit reads a log and a checkpoint that must hold still: stop the nodes first,
    // as SIGTERM would (each writes its swarms' last events and hands its leases back).
    let (mut first, mut second) = (first, second);
    first.stop().await;
    second.stop().await;
    let database_url = &first.postgres.as_ref().expect("a PostgreSQL database").url;
    let store = boardroom_memory::connect(database_url).await.expect("the database, directly");
    let mut problems = Vec::new();
    for &tenant in &tenants {
        let audit = audit_tenant(&store, tenant).await.expect("audit");
        assert!(audit.cycles_completed > 0, "tenant {tenant}: no cycle completed");
        problems.extend(audit.problems());
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_stopped_for_thirty_seconds_leaves_the_cluster_running_on_postgres_alone() {
    let upstream = redis_url();
    let upstream = upstream.trim_start_matches("redis://").split('/').next().unwrap_or("127.0.0.1:6379").to_owned();
    let redis = FaultyProxy::start(&upstream);
    let redis_url = format!("redis://127.0.0.1:{}", redis.port());
    let settings = [
        ("DEMO_TENANT", "false"),
        ("LEASE_TTL_SECS", "3"),
        ("SANDBOX_DAY_SECS", "2"),
        ("AUTOPILOT_INTERVAL_SECS", "2"),
        ("REDIS_URL", redis_url.as_str()),
    ];
    let first = spawn_app_with(Backends::Production, &settings).await;
    let second = first.another_process().await;
    let nodes = [&first, &second];
    let store = first.state.store.clone();
    let tenants = autopilot_businesses(&store).await;
    let started = chrono::Utc::now();
    within(Duration::from_secs(90), "every business runs on one node and has cycled", || async {
        each_on_exactly_one_node(&nodes, &tenants).await && cycled_since(&store, &tenants, started).await == BUSINESSES
    })
    .await;
    let ada = first.new_account("ada@example.com").await;
    let token = ada.post("/api/auth/tokens", &json!({ "name": "ci" })).await;
    assert_eq!(token.status, 201, "{}", token.body);
    let program = ada.with_token(token.body["token"].as_str().expect("the token"));

    redis.take_down();
    let gone = chrono::Utc::now();
    // A session checked in the last `CACHE_SECS` (2) is remembered; then it is asked of
    // Redis, which cannot answer.
    within(Duration::from_secs(10), "a session request answers 503", || async {
        ada.get("/api/business/list").await.status == 503
    })
    .await;
    let browser = ada.get("/api/business/list").await;
    assert_eq!(browser.status, 503, "a session cannot be checked without Redis: {}", browser.body);
    assert_eq!(browser.error_code(), "unavailable");
    assert!(browser.header("retry-after").is_some());
    let listed = program.get("/api/business/list").await;
    assert_eq!(listed.status, 200, "an API token is checked in PostgreSQL: {}", listed.body);
    // Thirty seconds on PostgreSQL alone: every business cycles, on one node each.
    within(Duration::from_secs(60), "every business cycles with Redis away", || async {
        each_on_exactly_one_node(&nodes, &tenants).await && cycled_since(&store, &tenants, gone).await == BUSINESSES
    })
    .await;
    let elapsed = (chrono::Utc::now() - gone).to_std().unwrap_or_default();
    tokio::time::sleep(Duration::from_secs(30).saturating_sub(elapsed)).await;
    assert!(each_on_exactly_one_node(&nodes, &tenants).await, "still one node per business after 30 s");

    redis.restore();
    let back = within(Duration::from_secs(30), "the session works again", || async {
        ada.get("/api/business/list").await.status == 200
    })
    .await;
    println!("Redis back: the session answered again within {} ms", back.as_millis());
    let (mut first, mut second) = (first, second);
    first.stop().await;
    second.stop().await;
    let database_url = &first.postgres.as_ref().expect("a PostgreSQL database").url;
    let store = boardroom_memory::connect(database_url).await.expect("the database, directly");
    let mut problems = Vec::new();
    for &tenant in &tenants {
        problems.extend(audit_tenant(&store, tenant).await.expect("audit").problems());
    }
    assert!(problems.is_empty(), "{problems:#?}");
}
