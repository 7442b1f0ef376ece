//! [`EventStore`]: the swarm event log. The batch insert itself, the hot path, is the
//! dialect's ([`Dialect::insert_events`]); numbering and the transaction are shared.

use std::collections::BTreeSet;

use async_trait::async_trait;

use super::{Connection, Dialect, SqlStore, query};
use crate::MemoryError;
use crate::model::*;
use crate::rows::{self, ModelRow};
use crate::store::{EventStore, MemoryResult};

#[async_trait]
impl<D: Dialect> EventStore for SqlStore<D> {
    async fn append_events_and_checkpoints(
        &self,
        events: &[NewEvent],
        checkpoints: &[Checkpoint],
    ) -> MemoryResult<Vec<SwarmEvent>> {
        if events.is_empty() && checkpoints.is_empty() {
            return Ok(Vec::new());
        }
        let counts = rows::events_per_tenant(events);
        let mut tx = self.write_transaction().await?;
        check_fences::<D>(&mut tx, events).await?;
        let stored = if counts.is_empty() {
            Vec::new()
        } else {
            // Reserve each tenant's numbers (last_seq moves on by the tenant's count),
            // then insert the events numbered from them.
            let last_seq = D::reserve_event_numbers(&mut tx, &counts).await?;
            let stored = rows::number_events(events, &counts, &last_seq)?;
            D::insert_events(&mut tx, &stored).await?;
            stored
        };
        for checkpoint in checkpoints {
            self.upsert_checkpoint(&mut *tx, checkpoint).await?;
        }
        tx.commit().await?;
        Ok(stored)
    }

    async fn events_after(&self, tenant: TenantId, after: i64, limit: i64) -> MemoryResult<Vec<SwarmEvent>> {
        query::<D>(concat!(
            "select ",
            rows::event_columns!(),
            " from ai_events where tenant_id = $1 and seq > $2 order by seq limit $3"
        ))
        .bind(tenant.0)
        .bind(after)
        .bind(limit.max(0))
        .fetch_all(self.db())
        .await?
        .iter()
        .map(rows::event)
        .collect()
    }

    async fn last_event_seq(&self, tenant: TenantId) -> MemoryResult<i64> {
        query::<D>("select coalesce(max(seq), 0) as last from ai_events where tenant_id = $1")
            .bind(tenant.0)
            .fetch_one(self.db())
            .await?
            .int("last")
    }
}

/// Refuses the batch when an event carries a lease epoch that is not its tenant's
/// current one (see [`NewEvent::fence`]); checked inside the write transaction, under
/// the lease rows' lock, so no takeover can slip between the check and the commit. A
/// checkpoint is fenced by the events it is committed with.
async fn check_fences<D: Dialect>(connection: &mut Connection<D>, events: &[NewEvent]) -> MemoryResult<()> {
    let fenced: BTreeSet<(TenantId, i64)> =
        events.iter().filter_map(|event| Some((event.tenant_id, event.fence?))).collect();
    if fenced.is_empty() {
        return Ok(());
    }
    let mut tenants: Vec<TenantId> = fenced.iter().map(|(tenant, _)| *tenant).collect();
    tenants.dedup();
    let current = D::lease_epochs(connection, &tenants).await?;
    match fenced.into_iter().find(|(tenant, epoch)| current.get(tenant) != Some(epoch)) {
        Some((tenant, epoch)) => Err(MemoryError::Fenced { tenant, epoch }),
        None => Ok(()),
    }
}
