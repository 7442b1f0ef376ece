//! [`ClusterStore`]: the nodes of a cluster and their leases on tenants' swarms. Every
//! time is read from the database's clock ([`Dialect::NOW_MS`]) and bound into the
//! statements, so the nodes' own clocks never decide who holds a lease.

use async_trait::async_trait;

use super::{Dialect, SqlStore, query};
use crate::model::*;
use crate::rows::{self, ModelRow};
use crate::store::{ClusterStore, MemoryResult};

/// Hands back every live lease of node `$1` (expired at 0: the epoch must never go back).
const RELEASE_NODE_LEASES: &str = "update swarm_leases set expires_ms = 0 where node = $1 and expires_ms > 0";

fn lease(row: &impl ModelRow, now_ms: i64) -> MemoryResult<Lease> {
    let expires_ms = row.int("expires_ms")?;
    Ok(Lease {
        tenant_id: TenantId(row.int("tenant_id")?),
        node: row.text("node")?,
        epoch: row.int("epoch")?,
        expires_ms,
        live: expires_ms > now_ms,
    })
}

#[expect(private_bounds, reason = "helpers of the shared implementation, crate-private like the Dialect bound")]
impl<D: Dialect> SqlStore<D> {
    /// The database's clock, in milliseconds since the Unix epoch.
    async fn now_ms(&self) -> MemoryResult<i64> {
        query::<D>(D::NOW_MS).fetch_one(self.db()).await?.int("now_ms")
    }

    /// [`SqlStore::now_ms`] on the connections kept for the node's upkeep.
    async fn upkeep_now_ms(&self) -> MemoryResult<i64> {
        query::<D>(D::NOW_MS).fetch_one(self.dialect.upkeep_pool()).await?.int("now_ms")
    }

    /// Records the node's beat, and whether an operator asked it to drain. `joining`
    /// starts its run afresh: its start time now, and not draining (a drain was asked
    /// of the run that ended).
    async fn record_node(&self, beat: &NodeBeat, joining: bool) -> MemoryResult<bool> {
        let now = self.upkeep_now_ms().await?;
        let writer = self.write_upkeep().await;
        query::<D>(
            "insert into cluster_nodes (name, address, capacity, swarms, draining, started_ms, seen_ms) \
             values ($1, $2, $3, $4, false, $5, $5) \
             on conflict (name) do update set address = excluded.address, capacity = excluded.capacity, \
             swarms = excluded.swarms, seen_ms = excluded.seen_ms, \
             draining = case when $6 then false else cluster_nodes.draining end, \
             started_ms = case when $6 then excluded.started_ms else cluster_nodes.started_ms end \
             returning draining",
        )
        .bind(&beat.name)
        .bind(&beat.address)
        .bind(beat.capacity)
        .bind(beat.swarms)
        .bind(now)
        .bind(joining)
        .fetch_one(&writer)
        .await?
        .flag("draining")
    }
}

#[async_trait]
impl<D: Dialect> ClusterStore for SqlStore<D> {
    async fn claim_lease(&self, tenant: TenantId, node: &str, ttl_ms: i64) -> MemoryResult<LeaseClaim> {
        let now = self.now_ms().await?;
        let expires = now.saturating_add(ttl_ms.max(0));
        let writer = self.write().await;
        // Taken when lapsed or already ours; a lapsed one (even ours) gets a new epoch, so
        // a write still in flight from its earlier holding is refused.
        let claimed = query::<D>(
            "insert into swarm_leases (tenant_id, node, epoch, expires_ms) values ($1, $2, 1, $3) \
             on conflict (tenant_id) do update set \
             epoch = case when swarm_leases.node = excluded.node and swarm_leases.expires_ms > $4 \
                     then swarm_leases.epoch else swarm_leases.epoch + 1 end, \
             node = excluded.node, expires_ms = excluded.expires_ms \
             where swarm_leases.expires_ms <= $4 or swarm_leases.node = excluded.node \
             returning tenant_id, node, epoch, expires_ms",
        )
        .bind(tenant.0)
        .bind(node)
        .bind(expires)
        .bind(now)
        .fetch_optional(&writer)
        .await
        .map_err(|e| rows::write_error(e, "lease", "tenant"))?;
        drop(writer);
        if let Some(row) = claimed {
            return Ok(LeaseClaim::Granted(lease(&row, now)?));
        }
        match self.lease(tenant).await? {
            Some(holder) => Ok(LeaseClaim::HeldElsewhere(holder)),
            // Released and deleted with its tenant between the two statements.
            None => Err(crate::MemoryError::NotFound("tenant".into())),
        }
    }

    async fn renew_leases(&self, node: &str, ttl_ms: i64) -> MemoryResult<Vec<Lease>> {
        let now = self.upkeep_now_ms().await?;
        let writer = self.write_upkeep().await;
        // A lease that lapsed but still names this node at its epoch was claimed by no one
        // since, so no other node has written under it: renewing it is as safe as renewing
        // a live one, and spares a busy node (whose renewal came late) its swarms. One
        // handed back (expiry 0) stays handed back.
        query::<D>(
            "update swarm_leases set expires_ms = $2 where node = $1 and expires_ms > 0 \
             returning tenant_id, node, epoch, expires_ms",
        )
        .bind(node)
        .bind(now.saturating_add(ttl_ms.max(0)))
        .fetch_all(&writer)
        .await?
        .iter()
        .map(|row| lease(row, now))
        .collect()
    }

    async fn release_lease(&self, tenant: TenantId, node: &str, epoch: i64) -> MemoryResult<bool> {
        let writer = self.write().await;
        // Lapsed at 0 rather than deleted: the epoch must never go back.
        let released = query::<D>(
            "update swarm_leases set expires_ms = 0 where tenant_id = $1 and node = $2 and epoch = $3 \
             and expires_ms > 0",
        )
        .bind(tenant.0)
        .bind(node)
        .bind(epoch)
        .execute(&writer)
        .await?;
        Ok(released > 0)
    }

    async fn release_leases(&self, node: &str) -> MemoryResult<u64> {
        let writer = self.write().await;
        Ok(query::<D>(RELEASE_NODE_LEASES).bind(node).execute(&writer).await?)
    }

    async fn lease(&self, tenant: TenantId) -> MemoryResult<Option<Lease>> {
        let now = self.now_ms().await?;
        query::<D>("select tenant_id, node, epoch, expires_ms from swarm_leases where tenant_id = $1")
            .bind(tenant.0)
            .fetch_optional(self.db())
            .await?
            .map(|row| lease(&row, now))
            .transpose()
    }

    async fn live_leases(&self) -> MemoryResult<Vec<Lease>> {
        let now = self.now_ms().await?;
        query::<D>(
            "select tenant_id, node, epoch, expires_ms from swarm_leases where expires_ms > $1 \
             order by node, tenant_id",
        )
        .bind(now)
        .fetch_all(self.db())
        .await?
        .iter()
        .map(|row| lease(row, now))
        .collect()
    }

    async fn unleased_autopilot_tenants(&self, limit: i64) -> MemoryResult<Vec<TenantId>> {
        let now = self.now_ms().await?;
        query::<D>(D::UNLEASED_AUTOPILOT_TENANTS)
            .bind(now)
            .bind(limit.max(0))
            .fetch_all(self.db())
            .await?
            .iter()
            .map(|row| Ok(TenantId(row.int("id")?)))
            .collect()
    }

    async fn join_cluster(&self, beat: &NodeBeat) -> MemoryResult<()> {
        self.record_node(beat, true).await.map(drop)
    }

    async fn node_heartbeat(&self, beat: &NodeBeat) -> MemoryResult<bool> {
        self.record_node(beat, false).await
    }

    async fn leave_cluster(&self, node: &str) -> MemoryResult<u64> {
        let mut tx = self.write_transaction().await?;
        let released = query::<D>(RELEASE_NODE_LEASES).bind(node).execute(&mut *tx).await?;
        query::<D>("delete from cluster_nodes where name = $1").bind(node).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(released)
    }

    async fn set_node_draining(&self, node: &str, draining: bool) -> MemoryResult<bool> {
        let writer = self.write().await;
        let changed = query::<D>("update cluster_nodes set draining = $2 where name = $1")
            .bind(node)
            .bind(draining)
            .execute(&writer)
            .await?;
        Ok(changed > 0)
    }

    async fn cluster_nodes(&self) -> MemoryResult<(i64, Vec<ClusterNode>)> {
        let now = self.now_ms().await?;
        let nodes = query::<D>(
            "select n.name, n.address, n.capacity, n.swarms, n.draining, n.started_ms, n.seen_ms, \
             (select count(*) from swarm_leases l where l.node = n.name and l.expires_ms > $1) as leases \
             from cluster_nodes n order by n.name",
        )
        .bind(now)
        .fetch_all(self.db())
        .await?
        .iter()
        .map(|row| {
            Ok(ClusterNode {
                name: row.text("name")?,
                address: row.text("address")?,
                capacity: row.int("capacity")?,
                swarms: row.int("swarms")?,
                leases: row.int("leases")?,
                draining: row.flag("draining")?,
                started_ms: row.int("started_ms")?,
                seen_ms: row.int("seen_ms")?,
            })
        })
        .collect::<MemoryResult<Vec<_>>>()?;
        Ok((now, nodes))
    }
}
