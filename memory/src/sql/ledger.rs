//! [`LedgerStore`]: the ledger (`profit_logs`) and autopilot checkpoints.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sqlx::types::Json;

use super::{Dialect, Exec, Lock, SqlStore, query};
use crate::model::*;
use crate::rows::{self, ModelRow};
use crate::store::{LedgerStore, MemoryResult};

#[expect(private_bounds, reason = "helpers of the shared implementation, crate-private like the Dialect bound")]
impl<D: Dialect> SqlStore<D> {
    /// Writes (replaces) a tenant's checkpoint.
    pub(super) async fn upsert_checkpoint<'e>(
        &self,
        on: impl Into<Exec<'e, D>> + Send,
        checkpoint: &Checkpoint,
    ) -> MemoryResult<()> {
        query::<D>(
            "insert into autopilot_checkpoints (tenant_id, cycle, step, state, updated_at) values ($1, $2, $3, $4, $5) \
             on conflict (tenant_id) do update set \
             cycle = excluded.cycle, step = excluded.step, state = excluded.state, updated_at = excluded.updated_at",
        )
        .bind(checkpoint.tenant_id.0)
        .bind(checkpoint.cycle)
        .bind(&checkpoint.step)
        .bind(Json(&checkpoint.state))
        .bind(rows::stored_time(checkpoint.updated_at))
        .execute(on)
        .await
        .map_err(|e| rows::write_error(e, "checkpoint", "tenant"))?;
        Ok(())
    }
}

#[async_trait]
impl<D: Dialect> LedgerStore for SqlStore<D> {
    async fn record_ledger_entry(&self, entry: NewLedgerEntry) -> MemoryResult<LedgerEntry> {
        let writer = self.write().await;
        let row = query::<D>(concat!(
            "insert into profit_logs (tenant_id, source, amount, category, transaction_id, metadata, recorded_at) \
             values ($1, $2, $3, $4, $5, $6, $7) returning ",
            rows::ledger_columns!()
        ))
        .bind(entry.tenant_id.0)
        .bind(&entry.source)
        .bind(entry.amount)
        .bind(&entry.category)
        .bind(&entry.transaction_id)
        .bind(Json(&entry.metadata))
        .bind(rows::stored_time(entry.recorded_at))
        .fetch_one(&writer)
        .await
        .map_err(|e| rows::write_error(e, "transaction_id", "tenant"))?;
        rows::ledger_entry(&row)
    }

    async fn record_ledger_total(&self, total: NewLedgerTotal) -> MemoryResult<Option<LedgerEntry>> {
        let prefix = format!("{}:", total.series);
        let mut tx = self.write_transaction().await?;
        // Two reports of one series must not both read the same "booked so far": the
        // second waits here until the first has committed its row.
        tx.lock(Lock::LedgerTotalsOf(total.tenant_id)).await?;
        // A prefix compared, not matched with `like`: `_` and `%` are plain characters.
        let found = query::<D>(
            "select cast(amount as text) as amount from profit_logs \
             where tenant_id = $1 and substr(transaction_id, 1, length($2)) = $2",
        )
        .bind(total.tenant_id.0)
        .bind(&prefix)
        .fetch_all(&mut *tx)
        .await?;
        let mut booked = Decimal::ZERO;
        for row in &found {
            booked = booked
                .checked_add(row.money("amount")?)
                .ok_or_else(|| crate::MemoryError::OutOfRange(format!("the ledger series {}", total.series)))?;
        }
        let adds = total.total - booked;
        // Only a total further from zero than what is booked adds anything.
        let grows = !adds.is_zero() && adds.is_sign_negative() == total.total.is_sign_negative();
        if !grows {
            tx.rollback().await?;
            return Ok(None);
        }
        let row = query::<D>(concat!(
            "insert into profit_logs (tenant_id, source, amount, category, transaction_id, metadata, recorded_at) \
             select $1, $2, $3, $4, $5, $6, $7 where exists (select 1 from tenants where id = $1) returning ",
            rows::ledger_columns!()
        ))
        .bind(total.tenant_id.0)
        .bind(&total.source)
        .bind(adds)
        .bind(&total.category)
        .bind(format!("{prefix}{}", total.total.normalize()))
        .bind(Json(&total.metadata))
        .bind(rows::stored_time(total.recorded_at))
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| rows::write_error(e, "transaction_id", "tenant"))?;
        let inserted = row.as_ref().map(rows::ledger_entry).transpose()?;
        self.commit_guarded_insert(tx, inserted, total.tenant_id, "tenant").await.map(Some)
    }

    async fn ledger_entries(
        &self,
        tenant: TenantId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> MemoryResult<Vec<LedgerEntry>> {
        // On SQLite timestamps are RFC 3339 text in one shape, so text order is time order.
        query::<D>(concat!(
            "select ",
            rows::ledger_columns!(),
            " from profit_logs where tenant_id = $1 and recorded_at >= $2 and recorded_at < $3 \
              order by recorded_at, id"
        ))
        .bind(tenant.0)
        .bind(rows::stored_time(from))
        .bind(rows::stored_time(to))
        .fetch_all(self.db())
        .await?
        .iter()
        .map(rows::ledger_entry)
        .collect()
    }

    async fn ledger_totals(
        &self,
        tenant: TenantId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> MemoryResult<Vec<(String, Decimal)>> {
        // Summed in Rust, exactly: SQLite's money is text, and PostgreSQL's numeric would
        // accept totals a Decimal cannot hold; so both refuse the same out-of-range
        // totals and give the same scale.
        let found = query::<D>(
            "select category, cast(amount as text) as amount from profit_logs \
             where tenant_id = $1 and recorded_at >= $2 and recorded_at < $3",
        )
        .bind(tenant.0)
        .bind(rows::stored_time(from))
        .bind(rows::stored_time(to))
        .fetch_all(self.db())
        .await?;
        let amounts = found
            .iter()
            .map(|row| Ok((row.text("category")?, row.money("amount")?)))
            .collect::<MemoryResult<Vec<_>>>()?;
        rows::ledger_totals(amounts)
    }

    async fn save_checkpoint(&self, checkpoint: &Checkpoint) -> MemoryResult<()> {
        let writer = self.write().await;
        self.upsert_checkpoint(&writer, checkpoint).await
    }

    async fn checkpoint(&self, tenant: TenantId) -> MemoryResult<Option<Checkpoint>> {
        query::<D>(concat!("select ", rows::checkpoint_columns!(), " from autopilot_checkpoints where tenant_id = $1"))
            .bind(tenant.0)
            .fetch_optional(self.db())
            .await?
            .map(|row| rows::checkpoint(&row))
            .transpose()
    }
}
