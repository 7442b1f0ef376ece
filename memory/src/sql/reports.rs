//! [`ReportStore`]: the CEO's board minutes, one per tenant and autopilot cycle.

use async_trait::async_trait;
use sqlx::types::Json;

use super::{Dialect, SqlStore, query};
use crate::model::*;
use crate::rows;
use crate::store::{MemoryResult, ReportStore};

#[async_trait]
impl<D: Dialect> ReportStore for SqlStore<D> {
    async fn save_cycle_report(&self, report: &CycleReport) -> MemoryResult<()> {
        let writer = self.write().await;
        // An upsert: a resumed cycle writes its report again, and the second write is the
        // one to keep (a model may word it differently; the facts are the same).
        query::<D>(
            "insert into cycle_reports (tenant_id, cycle, headline, minutes, data, source, written_at) \
             values ($1, $2, $3, $4, $5, $6, $7) \
             on conflict (tenant_id, cycle) do update set headline = excluded.headline, \
             minutes = excluded.minutes, data = excluded.data, source = excluded.source, \
             written_at = excluded.written_at",
        )
        .bind(report.tenant_id.0)
        .bind(report.cycle)
        .bind(&report.headline)
        .bind(&report.minutes)
        .bind(Json(&report.data))
        .bind(&report.source)
        .bind(rows::stored_time(report.written_at))
        .execute(&writer)
        .await
        .map_err(|e| rows::write_error(e, "cycle_report", "tenant"))?;
        Ok(())
    }

    async fn cycle_reports(&self, tenant: TenantId, before: Option<i64>, limit: i64) -> MemoryResult<Vec<CycleReport>> {
        query::<D>(concat!(
            "select ",
            rows::cycle_report_columns!(),
            " from cycle_reports where tenant_id = $1 and cycle < $2 order by cycle desc limit $3"
        ))
        .bind(tenant.0)
        .bind(before.unwrap_or(i64::MAX))
        .bind(limit.max(0))
        .fetch_all(self.db())
        .await?
        .iter()
        .map(rows::cycle_report)
        .collect()
    }
}
