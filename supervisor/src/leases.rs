//! This node's leases on tenants' swarms, in a cluster: a swarm runs here only while
//! this node holds its tenant's lease in the database.
//!
//! - Activation claims the lease ([`Leases::claim`]); a tenant another node holds is
//!   refused with [`SwarmError::HeldElsewhere`], naming that node.
//! - The lease's epoch fences the swarm's writes: the event log stamps every event of
//!   the tenant with it (and so every checkpoint, which commits with its events), and
//!   the database refuses them once the lease has moved on.
//! - A keeper task renews every lease this node holds each third of the time-to-live
//!   (one that lapsed while the database was slow is renewed too, as long as no other
//!   node claimed it). A lease another node took (this node was paused, or cut off for
//!   longer than the time-to-live) is lost: its swarm is stopped at once, as its writes
//!   would be refused anyway; so are all of them when no renewal got through for a whole
//!   time-to-live.
//! - Passivating a swarm hands its lease back after its last event is written; at
//!   shutdown the process hands them all back at once when it leaves the cluster.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use boardroom_memory::{EventLog, LeaseClaim, SharedStore, TenantId};
use tokio::time::Instant;

use crate::config::LeaseConfig;
use crate::root::{RootShared, SwarmError};

/// Claims and hands back this node's leases.
pub(crate) struct Leases {
    store: SharedStore,
    events: EventLog,
    config: LeaseConfig,
}

impl Leases {
    pub(crate) fn new(store: SharedStore, events: EventLog, config: LeaseConfig) -> Self {
        Self { store, events, config }
    }

    fn ttl_ms(&self) -> i64 {
        i64::try_from(self.config.ttl.as_millis()).unwrap_or(i64::MAX)
    }

    /// Claims `tenant`'s lease for this node and fences its events with the epoch.
    pub(crate) async fn claim(&self, tenant: TenantId) -> Result<i64, SwarmError> {
        match self.store.claim_lease(tenant, &self.config.node, self.ttl_ms()).await {
            Ok(LeaseClaim::Granted(lease)) => {
                self.events.fence(tenant, lease.epoch);
                Ok(lease.epoch)
            }
            Ok(LeaseClaim::HeldElsewhere(holder)) => Err(SwarmError::HeldElsewhere { tenant, node: holder.node }),
            Err(boardroom_memory::MemoryError::NotFound(_)) => Err(SwarmError::TenantNotFound(tenant)),
            Err(error) => Err(error.into()),
        }
    }

    /// Hands `tenant`'s lease at `epoch` back, after the events appended under it are
    /// written (waiting at most `LAST_WORDS`: a database that is down keeps the lease
    /// until it lapses, which is what a dead node's would do).
    pub(crate) async fn release(&self, tenant: TenantId, epoch: i64) {
        if tokio::time::timeout(LAST_WORDS, self.events.flush()).await.is_err() {
            tracing::warn!(%tenant, "lease kept until it lapses: the swarm's last events are not written yet");
            self.events.unfence(tenant, epoch);
            return;
        }
        self.events.unfence(tenant, epoch);
        match tokio::time::timeout(LAST_WORDS, self.store.release_lease(tenant, &self.config.node, epoch)).await {
            Ok(Ok(_)) => {}
            Ok(Err(error)) => tracing::warn!(%error, %tenant, "lease not handed back; it lapses by itself"),
            Err(_) => tracing::warn!(%tenant, "lease not handed back in time; it lapses by itself"),
        }
    }

    /// Stops stamping `tenant`'s events with a lease that is gone.
    pub(crate) fn forget(&self, tenant: TenantId, epoch: i64) {
        self.events.unfence(tenant, epoch);
    }
}

/// How long handing a lease back waits for the database.
const LAST_WORDS: Duration = Duration::from_secs(2);

/// Renews this node's leases every third of their time-to-live until the root shuts
/// down, and stops the swarms whose lease was lost.
pub(crate) async fn keep(shared: Arc<RootShared>, leases: Arc<Leases>) {
    let every = leases.config.ttl / 3;
    let mut renewed_at = Instant::now();
    loop {
        tokio::time::sleep(every).await;
        if shared.is_shutting_down() {
            return;
        }
        let started = Instant::now();
        // Taken before renewing: a lease claimed after the renewal ran is not in its
        // answer, and must not be taken for lost.
        let before: Vec<(TenantId, i64)> = shared.leased_tenants();
        // Worth waiting for until the leases would lapse: a busy database answering late
        // still renews them.
        let patience = (renewed_at + leases.config.ttl).saturating_duration_since(started).max(every);
        let held: Option<HashMap<TenantId, i64>> =
            match tokio::time::timeout(patience, leases.store.renew_leases(&leases.config.node, leases.ttl_ms())).await
            {
                Ok(Ok(renewed)) => {
                    renewed_at = started;
                    Some(renewed.into_iter().map(|lease| (lease.tenant_id, lease.epoch)).collect())
                }
                Ok(Err(error)) => {
                    tracing::warn!(%error, "leases not renewed");
                    None
                }
                Err(_) => {
                    tracing::warn!("leases not renewed: the database did not answer in time");
                    None
                }
            };
        // A lease renewed here for a swarm that does not run here (its hand-back failed
        // while the database was down) is handed back now, or it would be renewed for
        // ever and no node would run the tenant.
        if let Some(held) = &held {
            let running: std::collections::HashSet<TenantId> = before
                .iter()
                .map(|(tenant, _)| *tenant)
                .chain(shared.leased_tenants().into_iter().map(|(tenant, _)| tenant))
                .collect();
            for (&tenant, &epoch) in held.iter().filter(|(tenant, _)| !running.contains(tenant)) {
                if let Err(error) = leases.store.release_lease(tenant, &leases.config.node, epoch).await {
                    tracing::warn!(%error, %tenant, "a lease without a swarm here not handed back; trying again");
                }
            }
        }
        let lost: Vec<(TenantId, i64)> = match held {
            Some(held) => before.into_iter().filter(|(tenant, epoch)| held.get(tenant) != Some(epoch)).collect(),
            // Not renewed for a whole time-to-live: every lease may have moved on.
            None if renewed_at.elapsed() >= leases.config.ttl => before,
            None => Vec::new(),
        };
        // Only swarms still running under the lease found lost (not passivated since).
        let still_here: std::collections::HashSet<(TenantId, i64)> = shared.leased_tenants().into_iter().collect();
        let lost: Vec<TenantId> =
            lost.into_iter().filter(|lease| still_here.contains(lease)).map(|(tenant, _)| tenant).collect();
        if !lost.is_empty() {
            tracing::warn!(tenants = lost.len(), node = %leases.config.node, "leases lost; letting those swarms go");
            crate::root::let_go(&shared, lost).await;
        }
    }
}
