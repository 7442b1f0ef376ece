//! The cluster drills: three `boardroom` nodes, each a process of its own, on one
//! PostgreSQL database, running autopilot businesses that arrive while they run. Every
//! business runs on exactly one node; a node killed with `kill -9` has its businesses
//! re-homed within the lease time-to-live and five seconds; a node frozen with SIGSTOP
//! past its leases finds them gone when it wakes and lets its swarms go; a node stopped
//! with SIGTERM hands its businesses over at once. Afterwards the event log of every
//! business is audited: gap-free, no cycle started twice, no ledger row, campaign or
//! product made twice.
//!
//! `DRILL_TENANTS` sets the number of businesses (24 by default, for a debug build on a
//! small machine); the figures the drill measures are printed (`--nocapture`), and
//! `scripts/cluster-drill` runs it so with 200 on a release build.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use boardroom_memory::testing::fresh_postgres;
use boardroom_memory::{Lease, NewTenant, NewUser, Role, SharedStore, TenantId, Tier};
use serde_json::json;

mod binary;
use binary::{BINARY, Server, fresh_folder, serve_with, sigterm, wait_for_exit};

const LEASE_TTL: Duration = Duration::from_secs(6);
/// Businesses in the drill as the test suite runs it (a debug build on a CI machine of
/// two cores: a first cycle renders a clip and a voice-over, seconds of CPU each in a
/// debug build); `scripts/cluster-drill` runs 200 on a release build.
const DEFAULT_TENANTS: usize = 24;
const SECRET: &str = "a-secret-key-of-at-least-32-characters-0123";

struct Node {
    name: &'static str,
    server: Server,
    _folder: PathBuf,
}

fn start_node(database_url: &str, media: &str, name: &'static str) -> Node {
    let folder = fresh_folder();
    let vars = [
        ("DATABASE_URL", database_url),
        // Every node reaches the same files, as a bucket gives a real cluster.
        ("MEDIA_URL", media),
        ("SECRET_KEY", SECRET),
        ("DEMO_TENANT", "false"),
        ("NODE_NAME", name),
        ("LEASE_TTL_SECS", "6"),
        // A simulated day every 20 s: with 200 businesses, cycles run all the time, so a
        // kill lands mid-cycle.
        ("SANDBOX_DAY_SECS", "20"),
        ("AUTOPILOT_INTERVAL_SECS", "20"),
    ];
    let (server, _address) = serve_with(&folder, &vars);
    Node { name, server, _folder: folder }
}

fn signal(node: &Node, signal: &str) {
    let status = Command::new("kill").args([signal, &node.server.id().to_string()]).status().expect("kill runs");
    assert!(status.success(), "kill {signal} {}", node.name);
}

async fn businesses(store: &SharedStore, count: usize) -> Vec<TenantId> {
    let owner = store
        .create_user(NewUser {
            email: "owner@example.com".into(),
            password_hash: "!".into(),
            role: Role::User,
            tier: Tier::Enterprise,
        })
        .await
        .expect("owner");
    let mut tenants = Vec::with_capacity(count);
    for index in 0..count {
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

/// Live leases by tenant.
async fn holders(store: &SharedStore) -> HashMap<TenantId, Lease> {
    store.live_leases().await.expect("leases").into_iter().map(|lease| (lease.tenant_id, lease)).collect()
}

fn held_by(leases: &HashMap<TenantId, Lease>, node: &str) -> Vec<TenantId> {
    leases.values().filter(|lease| lease.node == node).map(|lease| lease.tenant_id).collect()
}

/// Waits until `check` holds, polling every 100 ms; answers how long it took.
async fn within<F: std::future::Future<Output = bool>>(
    limit: Duration,
    what: &str,
    mut check: impl FnMut() -> F,
) -> Duration {
    let started = Instant::now();
    while !check().await {
        assert!(started.elapsed() < limit, "not within {limit:?}: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    started.elapsed()
}

/// Tenants among `tenants` that have an event of `kind` after `since`.
async fn with_event_since(
    store: &SharedStore,
    tenants: &[TenantId],
    kind: &str,
    since: chrono::DateTime<chrono::Utc>,
) -> usize {
    let mut count = 0;
    for &tenant in tenants {
        let events = store.events_after(tenant, 0, 100_000).await.expect("events");
        if events.iter().any(|event| event.kind == kind && event.occurred_at > since) {
            count += 1;
        }
    }
    count
}

fn node_list(database_url: &str) -> String {
    let output = Command::new(BINARY)
        .args(["node", "list"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", database_url)
        .env("SECRET_KEY", SECRET)
        .env("LEASE_TTL_SECS", "6")
        .output()
        .expect("node list runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).expect("utf-8")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_run_each_business_once_and_rehome_those_of_a_node_killed_frozen_or_stopped() {
    let count: usize = std::env::var("DRILL_TENANTS").ok().and_then(|n| n.parse().ok()).unwrap_or(DEFAULT_TENANTS);
    let database = fresh_postgres().await;
    let url = database.url.clone();
    let store: SharedStore = boardroom_memory::connect(&url).await.expect("database");
    let media = fresh_folder().join("media");
    let media = media.to_str().expect("a UTF-8 path");
    let mut nodes: Vec<Node> =
        ["node-1", "node-2", "node-3"].into_iter().map(|name| start_node(&url, media, name)).collect();

    // The businesses arrive while the three nodes run: each adopts its share.
    let tenants = businesses(&store, count).await;
    let adopted = within(Duration::from_secs(60), "every business runs on a node", || async {
        holders(&store).await.len() == count
    })
    .await;
    let leases = holders(&store).await;
    let spread: BTreeMap<&str, usize> =
        nodes.iter().map(|node| (node.name, held_by(&leases, node.name).len())).collect();
    eprintln!("drill: {count} businesses adopted in {:.1} s, spread {spread:?}", adopted.as_secs_f64());
    assert!(spread.values().all(|held| *held > 0), "every node runs some: {spread:?}");
    let listed = node_list(&url);
    for node in &nodes {
        assert!(listed.contains(node.name), "{listed}");
    }
    assert!(listed.contains("businesses: "), "{listed}");

    let start = chrono::Utc::now() - chrono::Duration::seconds(120);
    within(Duration::from_secs(240), "every business completed a cycle", || async {
        with_event_since(&store, &tenants, "cycle.completed", start).await == count
    })
    .await;

    // kill -9 node-2 in the middle of its cycles.
    let on_two = held_by(&holders(&store).await, "node-2");
    let killed_at = chrono::Utc::now();
    signal(&nodes[1], "-KILL");
    let rehomed_after_kill = within(LEASE_TTL + Duration::from_secs(5), "node-2's businesses re-homed", || async {
        let leases = holders(&store).await;
        on_two.iter().all(|tenant| leases.get(tenant).is_some_and(|lease| lease.node != "node-2"))
    })
    .await;
    eprintln!(
        "drill: kill -9: {} businesses re-homed in {:.2} s (lease TTL {} s)",
        on_two.len(),
        rehomed_after_kill.as_secs_f64(),
        LEASE_TTL.as_secs()
    );
    within(Duration::from_secs(60), "node-2's businesses cycle again on their new nodes", || async {
        with_event_since(&store, &on_two, "cycle.completed", killed_at).await == on_two.len()
    })
    .await;

    // SIGSTOP node-1 past its leases; node-3 takes its businesses; SIGCONT: node-1's
    // writes are refused, and it lets its swarms go.
    let on_one = held_by(&holders(&store).await, "node-1");
    signal(&nodes[0], "-STOP");
    let rehomed_after_freeze = within(LEASE_TTL + Duration::from_secs(5), "node-1's businesses re-homed", || async {
        let leases = holders(&store).await;
        on_one.iter().all(|tenant| leases.get(tenant).is_some_and(|lease| lease.node == "node-3"))
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    signal(&nodes[0], "-CONT");
    let let_go = within(Duration::from_secs(10), "node-1 lets its swarms go", || async {
        let (_, nodes) = store.cluster_nodes().await.expect("nodes");
        nodes.iter().any(|node| node.name == "node-1" && node.swarms == 0 && node.leases == 0)
    })
    .await;
    eprintln!(
        "drill: SIGSTOP: {} businesses re-homed in {:.2} s; the woken node let its swarms go {:.2} s after SIGCONT",
        on_one.len(),
        rehomed_after_freeze.as_secs_f64(),
        let_go.as_secs_f64()
    );

    // SIGTERM node-3: it hands everything back at once; node-1 takes it.
    let on_three = held_by(&holders(&store).await, "node-3");
    sigterm(&nodes[2].server);
    let rehomed_after_sigterm = within(LEASE_TTL + Duration::from_secs(5), "node-3's businesses moved", || async {
        let leases = holders(&store).await;
        on_three.iter().all(|tenant| leases.get(tenant).is_some_and(|lease| lease.node == "node-1"))
    })
    .await;
    assert_eq!(wait_for_exit(&mut nodes[2].server).code(), Some(0), "node-3 exits cleanly");
    eprintln!("drill: SIGTERM: {} businesses moved in {:.2} s", on_three.len(), rehomed_after_sigterm.as_secs_f64());
    sigterm(&nodes[0].server);
    assert_eq!(wait_for_exit(&mut nodes[0].server).code(), Some(0), "node-1 exits cleanly");
    assert!(holders(&store).await.is_empty(), "every lease handed back");

    // The audit: every business's log, products, campaigns and ledger.
    for &tenant in &tenants {
        let events = store.events_after(tenant, 0, 100_000).await.expect("events");
        let numbers: Vec<i64> = events.iter().map(|event| event.seq).collect();
        assert_eq!(numbers, (1..=events.len() as i64).collect::<Vec<_>>(), "{tenant}'s log is gap-free");
        let mut started = HashSet::new();
        for event in events.iter().filter(|event| event.kind == "cycle.started") {
            assert!(
                started.insert(event.data["cycle"].as_i64()),
                "{tenant}: cycle {} started twice",
                event.data["cycle"]
            );
        }
        let ledger = store
            .ledger_entries(tenant, chrono::DateTime::<chrono::Utc>::MIN_UTC, chrono::Utc::now())
            .await
            .expect("ledger");
        let booked: HashSet<_> = ledger.iter().filter_map(|entry| entry.transaction_id.clone()).collect();
        assert_eq!(
            booked.len(),
            ledger.iter().filter(|entry| entry.transaction_id.is_some()).count(),
            "{tenant}: a ledger row booked twice"
        );
        let campaigns = store.campaigns(tenant).await.expect("campaigns");
        let launched: HashSet<_> = campaigns.iter().filter_map(|campaign| campaign.external_id.clone()).collect();
        assert_eq!(launched.len(), campaigns.len(), "{tenant}: a campaign stored twice");
        let products = store.products(tenant).await.expect("products");
        let listed: HashSet<_> = products.iter().filter_map(|product| product.external_id.clone()).collect();
        assert_eq!(listed.len(), products.len(), "{tenant}: a product made twice (or never listed)");
    }
    store.close().await;
}
