//! Two nodes of a cluster on one database (two roots, each with its own event log, as
//! two processes would have): a tenant's swarm runs on the node that holds its lease and
//! nowhere else; it moves when its holder lets it go; a node that lost a lease (paused
//! past it, say) finds its writes for that tenant refused and stops the swarm by itself
//! within the lease's time-to-live. Each story runs on SQLite and on PostgreSQL.

use std::sync::Arc;
use std::time::Duration;

use boardroom_agents::AgentRegistry;
use boardroom_memory::testing::{create_tenant, fresh_postgres, fresh_sqlite};
use boardroom_memory::{EventLog, EventLogConfig, MemoryError, NewEvent, SharedStore, TenantId};
use boardroom_supervisor::{LeaseConfig, SupervisorConfig, SwarmError, SwarmRoot, SwarmStatus};

const TTL: Duration = Duration::from_millis(600);

struct Node {
    events: EventLog,
    root: SwarmRoot,
}

async fn node(store: &SharedStore, name: &str) -> Node {
    let events = EventLog::start(store.clone(), EventLogConfig::default());
    let config =
        SupervisorConfig { leases: Some(LeaseConfig { node: name.into(), ttl: TTL }), ..SupervisorConfig::default() };
    let root =
        SwarmRoot::start(store.clone(), events.clone(), AgentRegistry::standard(), config).await.expect("root starts");
    Node { events, root }
}

async fn summaries(store: &SharedStore, tenant: TenantId) -> Vec<String> {
    store.events_after(tenant, 0, 1_000).await.expect("events").into_iter().map(|e| e.summary).collect()
}

async fn a_tenant_runs_on_the_node_holding_its_lease_and_moves_when_that_node_lets_it_go(store: SharedStore) {
    let a = node(&store, "node-a").await;
    let b = node(&store, "node-b").await;
    let acme = create_tenant(store.as_ref(), "acme", "coachty").await;

    a.root.activate(acme).await.expect("node a runs acme");
    let refused = b.root.activate(acme).await;
    assert!(matches!(&refused, Err(SwarmError::HeldElsewhere { node, .. }) if node == "node-a"), "{:?}", refused.err());
    assert_eq!(b.root.active_tenants(), 0, "node b keeps nothing for a tenant it does not run");
    assert_eq!(store.lease(acme).await.expect("lease").expect("held").epoch, 1);

    // Node a passivates it: the lease is handed back at once, and node b takes it.
    assert!(a.root.passivate(acme).await);
    b.root.activate(acme).await.expect("node b runs acme now");
    let lease = store.lease(acme).await.expect("lease").expect("held");
    assert_eq!((lease.node.as_str(), lease.epoch), ("node-b", 2));
    assert!(matches!(a.root.activate(acme).await, Err(SwarmError::HeldElsewhere { .. })));

    a.events.flush().await.expect("flush");
    b.events.flush().await.expect("flush");
    let kinds: Vec<String> =
        store.events_after(acme, 0, 100).await.expect("events").into_iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        vec!["swarm.started", "swarm.passivated", "swarm.started"],
        "a's last words come before b's first"
    );
    a.root.shutdown().await;
    b.root.shutdown().await;
}

async fn a_node_that_lost_its_lease_is_refused_every_write_and_lets_the_swarm_go(store: SharedStore) {
    let a = node(&store, "node-a").await;
    let b = node(&store, "node-b").await;
    let acme = create_tenant(store.as_ref(), "acme", "coachty").await;
    let swarm_on_a = a.root.activate(acme).await.expect("node a runs acme");

    // Node a is paused past its lease (here: its lease lapses under it), and node b
    // takes the tenant over.
    let lease = store.lease(acme).await.expect("lease").expect("held");
    store.release_lease(acme, "node-a", lease.epoch).await.expect("lapse");
    b.root.activate(acme).await.expect("node b takes acme over");

    // Node a, resumed, writes on: refused, and nothing of it reaches the log.
    let stale = a.events.append_and_wait(NewEvent::now(acme, "ceo", "cycle.started", "stale write from a")).await;
    assert!(matches!(stale, Err(MemoryError::Fenced { epoch: 1, .. })), "{stale:?}");

    // And within a renewal it notices the lease is gone and stops the swarm.
    let status = tokio::time::timeout(
        TTL * 2,
        swarm_on_a.wait_for_status(|status| matches!(status, SwarmStatus::Passivated | SwarmStatus::Stopped)),
    )
    .await
    .expect("node a lets the swarm go within the lease's time-to-live");
    assert_eq!(status, SwarmStatus::Passivated);
    assert_eq!(a.root.active_tenants(), 0);
    assert!(b.root.get(acme).is_some(), "node b runs on");

    a.events.flush().await.expect("flush");
    b.events.flush().await.expect("flush");
    let written = summaries(&store, acme).await;
    assert!(!written.iter().any(|summary| summary.contains("stale write")), "{written:?}");
    let lease = store.lease(acme).await.expect("lease").expect("held");
    assert_eq!((lease.node.as_str(), lease.epoch, lease.live), ("node-b", 2, true), "b's lease renewed, untouched");
    a.root.shutdown().await;
    b.root.shutdown().await;
}

async fn many_activations_racing_on_two_nodes_leave_each_tenant_on_exactly_one(store: SharedStore) {
    let a = Arc::new(node(&store, "node-a").await);
    let b = Arc::new(node(&store, "node-b").await);
    let mut tenants = Vec::new();
    for index in 0..20 {
        tenants.push(create_tenant(store.as_ref(), &format!("shop-{index}"), "coachty").await);
    }
    let mut races = tokio::task::JoinSet::new();
    for &tenant in &tenants {
        for node in [a.clone(), b.clone()] {
            races.spawn(async move { node.root.activate(tenant).await.is_ok() });
        }
    }
    let won = races.join_all().await.into_iter().filter(|won| *won).count();
    assert_eq!(won, tenants.len(), "each tenant started once, on one node");
    for &tenant in &tenants {
        assert!(a.root.get(tenant).is_some() != b.root.get(tenant).is_some(), "{tenant} on exactly one node");
    }
    assert_eq!(a.root.active_tenants() + b.root.active_tenants(), tenants.len());
    a.root.shutdown().await;
    b.root.shutdown().await;
}

async fn a_lease_this_node_holds_for_no_swarm_is_handed_back_at_its_next_renewal(store: SharedStore) {
    let a = node(&store, "node-a").await;
    let b = node(&store, "node-b").await;
    let acme = create_tenant(store.as_ref(), "acme", "coachty").await;
    // As a hand-back that failed while the database was down leaves it: node a's name
    // on the lease, no swarm on node a.
    let claimed = store.claim_lease(acme, "node-a", 60_000).await.expect("claim");
    assert!(matches!(claimed, boardroom_memory::LeaseClaim::Granted(_)));
    assert!(matches!(b.root.activate(acme).await, Err(SwarmError::HeldElsewhere { .. })));

    tokio::time::timeout(TTL * 2, async {
        while store.lease(acme).await.expect("lease").is_some_and(|lease| lease.live) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("node a hands the lease back within a renewal");
    b.root.activate(acme).await.expect("node b runs acme");
    assert_eq!(a.root.active_tenants(), 0);
    a.root.shutdown().await;
    b.root.shutdown().await;
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

on_both_backends!(
    a_tenant_runs_on_the_node_holding_its_lease_and_moves_when_that_node_lets_it_go,
    a_node_that_lost_its_lease_is_refused_every_write_and_lets_the_swarm_go,
    many_activations_racing_on_two_nodes_leave_each_tenant_on_exactly_one,
    a_lease_this_node_holds_for_no_swarm_is_handed_back_at_its_next_renewal,
);
