//! [`ApprovalStore`]: the spending guard's approval queue.
//!
//! Every change of status is one conditional `update … where status = …`, so two
//! answers racing for one request (two tabs, an owner and the expiry) cannot both win:
//! the database lets exactly one of them find the row still pending.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::types::Json;

use super::{Dialect, SqlStore, query};
use crate::MemoryError;
use crate::model::*;
use crate::rows::{self, ModelRow};
use crate::store::{ApprovalAnswer, ApprovalStore, MemoryResult};

#[async_trait]
impl<D: Dialect> ApprovalStore for SqlStore<D> {
    async fn request_approval(&self, approval: NewApproval) -> MemoryResult<(Approval, bool)> {
        let mut tx = self.write_transaction().await?;
        let inserted = query::<D>(concat!(
            "insert into approvals (tenant_id, action_key, kind, summary, amount, expected, action, status, \
             requested_at, expires_at) values ($1, $2, $3, $4, $5, $6, $7, 'pending', $8, $9) \
             on conflict (tenant_id, action_key) do nothing returning ",
            rows::approval_columns!()
        ))
        .bind(approval.tenant_id.0)
        .bind(&approval.action_key)
        .bind(&approval.kind)
        .bind(&approval.summary)
        .bind(approval.amount)
        .bind(Json(&approval.expected))
        .bind(Json(&approval.action))
        .bind(rows::stored_time(approval.requested_at))
        .bind(rows::stored_time(approval.expires_at))
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| rows::write_error(e, "approval", "tenant"))?;
        let answer = match inserted {
            Some(row) => (rows::approval(&row)?, true),
            None => {
                let row = query::<D>(concat!(
                    "select ",
                    rows::approval_columns!(),
                    " from approvals where tenant_id = $1 and action_key = $2"
                ))
                .bind(approval.tenant_id.0)
                .bind(&approval.action_key)
                .fetch_one(&mut *tx)
                .await?;
                (rows::approval(&row)?, false)
            }
        };
        tx.commit().await?;
        Ok(answer)
    }

    async fn approvals(
        &self,
        tenant: TenantId,
        status: Option<ApprovalStatus>,
        limit: i64,
    ) -> MemoryResult<Vec<Approval>> {
        query::<D>(concat!(
            "select ",
            rows::approval_columns!(),
            " from approvals where tenant_id = $1 and ($2 = '' or status = $2) order by id desc limit $3"
        ))
        .bind(tenant.0)
        .bind(status.map_or("", ApprovalStatus::as_str))
        .bind(limit.max(0))
        .fetch_all(self.db())
        .await?
        .iter()
        .map(rows::approval)
        .collect()
    }

    async fn approval_tenant(&self, id: i64) -> MemoryResult<Option<TenantId>> {
        query::<D>("select tenant_id from approvals where id = $1")
            .bind(id)
            .fetch_optional(self.db())
            .await?
            .map(|row| row.int("tenant_id").map(TenantId))
            .transpose()
    }

    async fn decide_approval(
        &self,
        tenant: TenantId,
        id: i64,
        decision: ApprovalDecision,
        by: UserId,
        now: DateTime<Utc>,
    ) -> MemoryResult<ApprovalAnswer> {
        let now = rows::stored_time(now);
        let status = match decision {
            ApprovalDecision::Approve => ApprovalStatus::Approved,
            ApprovalDecision::Reject => ApprovalStatus::Rejected,
        };
        let mut tx = self.write_transaction().await?;
        // An answer that comes after the expiry finds the request expired, not pending.
        query::<D>(
            "update approvals set status = 'expired', decided_at = expires_at \
             where tenant_id = $1 and id = $2 and status = 'pending' and expires_at <= $3",
        )
        .bind(tenant.0)
        .bind(id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let recorded = query::<D>(concat!(
            "update approvals set status = $1, decided_at = $2, decided_by = $3 \
             where tenant_id = $4 and id = $5 and status = 'pending' returning ",
            rows::approval_columns!()
        ))
        .bind(status.as_str())
        .bind(now)
        .bind(by.0)
        .bind(tenant.0)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let answer = match recorded {
            Some(row) => ApprovalAnswer::Recorded(rows::approval(&row)?),
            None => {
                let row = query::<D>(concat!(
                    "select ",
                    rows::approval_columns!(),
                    " from approvals where tenant_id = $1 and id = $2"
                ))
                .bind(tenant.0)
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or_else(|| MemoryError::NotFound("approval".to_owned()))?;
                ApprovalAnswer::TooLate(rows::approval(&row)?)
            }
        };
        tx.commit().await?;
        Ok(answer)
    }

    async fn expire_approvals(&self, tenant: TenantId, now: DateTime<Utc>) -> MemoryResult<Vec<Approval>> {
        let writer = self.write().await;
        query::<D>(concat!(
            "update approvals set status = 'expired', decided_at = expires_at \
             where tenant_id = $1 and status = 'pending' and expires_at <= $2 returning ",
            rows::approval_columns!()
        ))
        .bind(tenant.0)
        .bind(rows::stored_time(now))
        .fetch_all(&writer)
        .await?
        .iter()
        .map(rows::approval)
        .collect::<MemoryResult<Vec<_>>>()
        .map(|mut expired| {
            expired.sort_by_key(|approval| approval.id);
            expired
        })
    }

    async fn complete_approval(&self, tenant: TenantId, id: i64) -> MemoryResult<bool> {
        let writer = self.write().await;
        // `decided_at` keeps the owner's answer's time.
        let done =
            query::<D>("update approvals set status = 'done' where tenant_id = $1 and id = $2 and status = 'approved'")
                .bind(tenant.0)
                .bind(id)
                .execute(&writer)
                .await?;
        Ok(done == 1)
    }
}
