//! This process as a node of a cluster: several `boardroom` processes on one database,
//! each tenant's swarm on exactly one of them (the supervisor's leases see to that).
//!
//! - Joining: a node hands back what an earlier process under its name still held (so a
//!   node restarted after a crash frees its tenants at once rather than after their
//!   time-to-live, and takes back those it runs) and records itself in `cluster_nodes`.
//!   Two live nodes must therefore never share a name (the default, host name and port,
//!   sees to that for processes on fixed ports).
//! - Every third of the lease time-to-live (at most 5 s) it beats: it says how many
//!   swarms it runs, learns whether an operator drains it, and adopts autopilot
//!   businesses no node runs — those of a node that died, once their leases lapsed, or
//!   new ones — taking a share in proportion to its free capacity among the live nodes,
//!   and any still free at its next beat (their share was a node's that is gone).
//! - Draining (`boardroom node drain NAME`): the node starts no new swarm and
//!   passivates those it runs, which hands their leases back; the other nodes adopt
//!   them at their next beat.
//! - Leaving, at shutdown: after the event log has written the swarms' last events, the
//!   node hands back every lease at once and forgets its row, so its tenants move
//!   within one beat of the others.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use anyhow::Context;
use boardroom_memory::{ClusterNode, NodeBeat, TenantId};
use boardroom_supervisor::SwarmError;
use futures::StreamExt;
use rand::seq::SliceRandom;
use tokio::time::Instant;

use crate::http::{AppState, tiers};

/// Autopilot businesses looked at in one adoption pass.
const ADOPTION_PAGE: i64 = 1_000;
/// Swarms started at once while adopting.
const ADOPTED_AT_ONCE: usize = 16;
/// A business whose swarm would not start is tried again after this long.
const RETRY_FAILED_AFTER: Duration = Duration::from_secs(60);
/// Longest time between beats.
const MAX_BEAT: Duration = Duration::from_secs(5);
/// Time between the first cycles of businesses adopted together: 200 at once spread
/// over 10 s.
const FIRST_CYCLES_APART: Duration = Duration::from_millis(50);

/// Time between beats for a lease time-to-live.
pub(crate) fn beat_every(lease_ttl: Duration) -> Duration {
    (lease_ttl / 3).min(MAX_BEAT)
}

fn beat(state: &AppState) -> NodeBeat {
    let node = &state.settings.node;
    NodeBeat {
        name: node.name.clone(),
        address: node.address.clone(),
        capacity: i64::from(node.capacity),
        swarms: i64::try_from(state.swarms.active_tenants()).unwrap_or(i64::MAX),
    }
}

/// Joins the cluster: hands back whatever an earlier process under this name still
/// holds (it is gone: two live nodes never share a name, and its leases would otherwise
/// be renewed here for swarms nobody runs), then records this node, not draining.
pub(crate) async fn join(state: &AppState) -> anyhow::Result<()> {
    let name = &state.settings.node.name;
    let released = state.store.release_leases(name).await.context("failed to hand back an earlier run's leases")?;
    if released > 0 {
        tracing::info!(leases = released, node = %name, "leases of this node's earlier run handed back");
    }
    state.store.join_cluster(&beat(state)).await.context("failed to join the cluster")
}

/// Leaves the cluster: hands back every lease and forgets this node. Bounded by
/// `deadline`: with the database down, the leases lapse by themselves.
pub(crate) async fn leave(state: &AppState, deadline: Instant) {
    let name = &state.settings.node.name;
    match tokio::time::timeout_at(deadline, state.store.leave_cluster(name)).await {
        Ok(Ok(released)) => tracing::info!(leases = released, node = %name, "left the cluster; leases handed back"),
        Ok(Err(error)) => tracing::warn!(%error, "leases not handed back; they lapse by themselves"),
        Err(_) => tracing::warn!("leases not handed back in time; they lapse by themselves"),
    }
}

/// The node's beat, until the process stops: heartbeat, draining, adoption.
pub(crate) async fn run(state: AppState, mut adoption: Adoption) {
    let every = beat_every(state.settings.node.lease_ttl);
    loop {
        tokio::time::sleep(every).await;
        let draining = match state.store.node_heartbeat(&beat(&state)).await {
            Ok(draining) => draining,
            Err(error) => {
                tracing::warn!(%error, "heartbeat not recorded");
                continue;
            }
        };
        if draining != state.swarms.is_draining() {
            state.swarms.set_draining(draining);
            tracing::info!(draining, node = %state.settings.node.name, "drain state changed");
        }
        if draining {
            hand_over(&state).await;
        } else if let Err(error) = adopt(&state, &mut adoption).await {
            tracing::warn!(%error, "no autopilot businesses adopted this time");
        }
    }
}

/// Passivates every swarm this node runs, handing its lease to whichever node adopts it.
async fn hand_over(state: &AppState) {
    let tenants = state.swarms.active_tenant_ids();
    if tenants.is_empty() {
        return;
    }
    let handed = futures::stream::iter(tenants)
        .map(|tenant| state.swarms.passivate(tenant))
        .buffer_unordered(ADOPTED_AT_ONCE)
        .filter(|passivated| std::future::ready(*passivated))
        .count()
        .await;
    tracing::info!(swarms = handed, "draining: swarms handed over");
}

/// How many of `unclaimed` businesses this node takes: its share of the free capacity
/// of the live nodes that are not draining (itself included), at least one while it has
/// room.
fn my_share(me: &str, capacity: i64, running: i64, nodes: &[ClusterNode], unclaimed: usize) -> usize {
    let free = (capacity - running).max(0);
    if free == 0 || unclaimed == 0 {
        return 0;
    }
    let others: i64 =
        nodes.iter().filter(|node| node.name != me).map(|node| (node.capacity - node.swarms).max(0)).sum();
    let share = (unclaimed as f64 * free as f64 / (free + others) as f64).ceil() as usize;
    share.clamp(1, unclaimed).min(usize::try_from(free).unwrap_or(usize::MAX))
}

/// What adoption remembers from one beat to the next.
#[derive(Debug, Default)]
pub(crate) struct Adoption {
    /// Businesses whose swarm would not start, and when.
    failed: HashMap<TenantId, Instant>,
    /// Businesses no node ran at the last beat.
    unclaimed_before: HashSet<TenantId>,
}

/// Starts the autopilot of businesses no node runs: this node's share of those that just
/// came free (all of them on a node alone), and every one still free since its last
/// beat (the nodes whose share it was are gone or full). Answers how many it started.
pub(crate) async fn adopt(state: &AppState, adoption: &mut Adoption) -> anyhow::Result<usize> {
    let node = &state.settings.node;
    // Silent for a whole lease time: its leases have lapsed, it takes no share.
    let silent_after = i64::try_from(node.lease_ttl.as_millis()).unwrap_or(i64::MAX);
    adoption.failed.retain(|_, at| at.elapsed() < RETRY_FAILED_AFTER);
    let mut started = 0;
    loop {
        let mut unclaimed = state.store.unleased_autopilot_tenants(ADOPTION_PAGE).await?;
        unclaimed.retain(|tenant| !adoption.failed.contains_key(tenant));
        let before = std::mem::replace(&mut adoption.unclaimed_before, unclaimed.iter().copied().collect());
        if unclaimed.is_empty() {
            return Ok(started);
        }
        let (now, nodes) = state.store.cluster_nodes().await?;
        let live: Vec<ClusterNode> =
            nodes.into_iter().filter(|other| !other.draining && now - other.seen_ms < silent_after).collect();
        let running = i64::try_from(state.swarms.active_tenants()).unwrap_or(i64::MAX);
        let room = usize::try_from((i64::from(node.capacity) - running).max(0)).unwrap_or(usize::MAX);
        let (mut overdue, mut fresh): (Vec<TenantId>, Vec<TenantId>) =
            unclaimed.into_iter().partition(|tenant| before.contains(tenant));
        let share = my_share(&node.name, i64::from(node.capacity), running, &live, fresh.len());
        // Nodes adopting at the same moment start from different businesses.
        fresh.shuffle(&mut rand::rng());
        fresh.truncate(share);
        overdue.shuffle(&mut rand::rng());
        overdue.extend(fresh);
        overdue.truncate(room);
        let chosen = overdue.len();
        if chosen == 0 {
            return Ok(started);
        }
        // Their first cycles are spread, the overdue ones (a dead node's) first, so a
        // node adopting hundreds does not run hundreds of cycles in the same second.
        let outcomes: Vec<(TenantId, Result<bool, NotStarted>)> =
            futures::stream::iter(overdue.into_iter().enumerate())
                .map(|(index, tenant)| async move {
                    let delay = FIRST_CYCLES_APART.saturating_mul(u32::try_from(index).unwrap_or(u32::MAX));
                    (tenant, start_autopilot(state, tenant, delay).await)
                })
                .buffer_unordered(ADOPTED_AT_ONCE)
                .collect()
                .await;
        let mut this_pass = 0;
        for (tenant, outcome) in outcomes {
            match outcome {
                Ok(true) => this_pass += 1,
                Ok(false) => {}
                Err(NotStarted::Busy(error)) => {
                    tracing::warn!(%error, %tenant, "autopilot business not started yet; trying again at the next beat");
                }
                Err(NotStarted::Broken(error)) => {
                    tracing::error!(%error, %tenant, "autopilot business not started; trying again in a minute");
                    adoption.failed.insert(tenant, Instant::now());
                }
            }
        }
        started += this_pass;
        // A whole page taken (alone, say): go on to the next; otherwise the others take
        // theirs and the next beat looks again.
        if this_pass < ADOPTION_PAGE as usize {
            return Ok(started);
        }
    }
}

/// Why an autopilot business was not started here.
enum NotStarted {
    /// The database did not answer in time: the next beat tries again.
    Busy(String),
    /// Its swarm cannot start (its personality is broken, say): tried again in a minute.
    Broken(String),
}

/// Starts `tenant`'s swarm and autopilot here. `Ok(false)`: another node was quicker,
/// or the business changed meanwhile (autopilot off, disabled).
async fn start_autopilot(state: &AppState, tenant: TenantId, first_cycle_in: Duration) -> Result<bool, NotStarted> {
    let busy = |error: boardroom_memory::MemoryError| NotStarted::Busy(error.to_string());
    let row = match state.store.tenant(tenant).await.map_err(busy)? {
        Some(row) if row.is_active && row.settings["autopilot"] == true => row,
        _ => return Ok(false),
    };
    let tier = state.store.user(row.user_id).await.map_err(busy)?.map(|owner| owner.tier).unwrap_or_default();
    let cadence = tiers::tenant_cadence(state, &row, tier);
    match tiers::activate(state, &row).await {
        Ok(swarm) => {
            cadence.start_after(&swarm, first_cycle_in);
            Ok(true)
        }
        Err(tiers::ActivateError::Swarm(
            SwarmError::HeldElsewhere { .. } | SwarmError::Draining(_) | SwarmError::TenantDisabled(_),
        )) => Ok(false),
        Err(tiers::ActivateError::Swarm(SwarmError::Store(error))) => Err(busy(error)),
        Err(tiers::ActivateError::Api(error)) => Err(NotStarted::Busy(error.to_string())),
        Err(error) => Err(NotStarted::Broken(format!("{error:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, capacity: i64, swarms: i64) -> ClusterNode {
        ClusterNode {
            name: name.into(),
            address: String::new(),
            capacity,
            swarms,
            leases: swarms,
            draining: false,
            started_ms: 0,
            seen_ms: 0,
        }
    }

    #[test]
    fn a_node_takes_unclaimed_businesses_in_proportion_to_its_free_capacity() {
        // Alone: everything it has room for.
        assert_eq!(my_share("a", 100, 0, &[node("a", 100, 0)], 60), 60);
        assert_eq!(my_share("a", 100, 70, &[node("a", 100, 70)], 60), 30);
        // Two empty nodes of one size: half each.
        let two = [node("a", 100, 0), node("b", 100, 0)];
        assert_eq!(my_share("a", 100, 0, &two, 60), 30);
        // b is three quarters full: a takes 100 / (100 + 25) of them.
        let busy_b = [node("a", 100, 0), node("b", 100, 75)];
        assert_eq!(my_share("a", 100, 0, &busy_b, 50), 40);
        assert_eq!(my_share("b", 100, 75, &busy_b, 50), 10);
        // One business, many nodes: everyone with room tries; the lease decides.
        assert_eq!(my_share("a", 100, 0, &two, 1), 1);
        // Full, or nothing to take: nothing.
        assert_eq!(my_share("a", 100, 100, &two, 60), 0);
        assert_eq!(my_share("a", 100, 0, &two, 0), 0);
        // Its own row is not yet listed (it just joined): its free room still counts once.
        assert_eq!(my_share("a", 100, 0, &[node("b", 100, 0)], 60), 30);
    }
}
