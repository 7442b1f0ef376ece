//! [`TenantStore`]: the businesses users own.

use async_trait::async_trait;
use chrono::Utc;
use sqlx::types::Json;

use super::{Dialect, Lock, SqlStore, query};
use crate::MemoryError;
use crate::model::*;
use crate::rows::{self, ModelRow};
use crate::store::{MemoryResult, TenantStore};

#[async_trait]
impl<D: Dialect> TenantStore for SqlStore<D> {
    async fn create_tenant_within_limit(&self, tenant: NewTenant, limit: Option<u64>) -> MemoryResult<Tenant> {
        let mut tx = self.write_transaction().await?;
        if let Some(limit) = limit {
            // One limited creation per user at a time until commit: two cannot both fit
            // under the limit by reading the same count.
            tx.lock(Lock::TenantsOf(tenant.user_id)).await?;
            let count = query::<D>("select count(*) as counted from tenants where user_id = $1")
                .bind(tenant.user_id.0)
                .fetch_one(&mut *tx)
                .await?
                .int("counted")?;
            rows::within_limit(count, limit, "businesses")?;
        }
        let row = query::<D>(concat!(
            "insert into tenants (user_id, name, domain, personality, settings, is_active, created_at) \
             values ($1, $2, $3, $4, $5, true, $6) returning ",
            rows::tenant_columns!()
        ))
        .bind(tenant.user_id.0)
        .bind(&tenant.name)
        .bind(&tenant.domain)
        .bind(&tenant.personality)
        .bind(Json(&tenant.settings))
        .bind(rows::stored_time(Utc::now()))
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| rows::write_error(e, "tenant", "user"))?;
        let created = rows::tenant(&row)?;
        tx.commit().await?;
        Ok(created)
    }

    async fn tenant(&self, id: TenantId) -> MemoryResult<Option<Tenant>> {
        query::<D>(concat!("select ", rows::tenant_columns!(), " from tenants where id = $1"))
            .bind(id.0)
            .fetch_optional(self.db())
            .await?
            .map(|row| rows::tenant(&row))
            .transpose()
    }

    async fn list_tenants(&self, after: Option<TenantId>, limit: i64) -> MemoryResult<Vec<Tenant>> {
        query::<D>(concat!("select ", rows::tenant_columns!(), " from tenants where id > $1 order by id limit $2"))
            .bind(after.map_or(0, |id| id.0))
            .bind(limit.max(0))
            .fetch_all(self.db())
            .await?
            .iter()
            .map(rows::tenant)
            .collect()
    }

    async fn tenants_of_user(&self, user: UserId) -> MemoryResult<Vec<Tenant>> {
        query::<D>(concat!("select ", rows::tenant_columns!(), " from tenants where user_id = $1 order by id"))
            .bind(user.0)
            .fetch_all(self.db())
            .await?
            .iter()
            .map(rows::tenant)
            .collect()
    }

    async fn set_tenant_active(&self, id: TenantId, active: bool) -> MemoryResult<()> {
        let writer = self.write().await;
        let changed = query::<D>("update tenants set is_active = $1 where id = $2")
            .bind(active)
            .bind(id.0)
            .execute(&writer)
            .await?;
        rows::expect_one(changed, "tenant")
    }

    async fn tenants_of_user_page(
        &self,
        user: UserId,
        after: Option<TenantId>,
        limit: i64,
    ) -> MemoryResult<Vec<Tenant>> {
        query::<D>(concat!(
            "select ",
            rows::tenant_columns!(),
            " from tenants where user_id = $1 and id > $2 order by id limit $3"
        ))
        .bind(user.0)
        .bind(after.map_or(0, |id| id.0))
        .bind(limit.max(0))
        .fetch_all(self.db())
        .await?
        .iter()
        .map(rows::tenant)
        .collect()
    }

    async fn update_tenant(&self, id: TenantId, owner: UserId, changes: TenantChanges) -> MemoryResult<Tenant> {
        let (set_domain, domain) = rows::domain_change(&changes);
        let writer = self.write().await;
        query::<D>(concat!(
            "update tenants set name = coalesce($1, name), domain = case when $2 then $3 else domain end, \
             personality = coalesce($4, personality), settings = coalesce($5, settings) \
             where id = $6 and user_id = $7 returning ",
            rows::tenant_columns!()
        ))
        .bind(changes.name.as_deref())
        .bind(set_domain)
        .bind(domain)
        .bind(changes.personality.as_deref())
        .bind(changes.settings.as_ref().map(Json))
        .bind(id.0)
        .bind(owner.0)
        .fetch_optional(&writer)
        .await?
        .map_or_else(|| Err(MemoryError::NotFound("tenant".to_owned())), |row| rows::tenant(&row))
    }

    async fn delete_tenant(&self, id: TenantId, owner: UserId) -> MemoryResult<()> {
        let (kind, subject) = rows::usage_key(UsageSubject::Tenant(id));
        let mut tx = self.write_transaction().await?;
        // Every foreign key to tenants cascades (0001, 0002); usage_counters has none.
        let deleted = query::<D>("delete from tenants where id = $1 and user_id = $2")
            .bind(id.0)
            .bind(owner.0)
            .execute(&mut *tx)
            .await?;
        rows::expect_one(deleted, "tenant")?;
        query::<D>("delete from usage_counters where subject_kind = $1 and subject_id = $2")
            .bind(kind)
            .bind(subject)
            .execute(&mut *tx)
            .await?;
        tx.commit().await
    }
}
