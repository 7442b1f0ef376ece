//! [`MediaStore`]: files a tenant uploads, within its owner's quota.

use async_trait::async_trait;
use chrono::Utc;

use super::{Dialect, Lock, SqlStore, query};
use crate::MemoryError;
use crate::model::*;
use crate::rows::{self, ModelRow};
use crate::store::{MediaStore, MemoryResult};

/// Bytes the files of all of a user's tenants take; `$1` is the user. `sum` is
/// `numeric` on PostgreSQL: the cast brings it back to an integer.
const BYTES_OF_USER: &str = "select cast(coalesce(sum(m.size_bytes), 0) as bigint) as used from media_files m \
                             join tenants t on t.id = m.tenant_id where t.user_id = $1";

#[async_trait]
impl<D: Dialect> MediaStore for SqlStore<D> {
    async fn create_media_file(&self, file: NewMediaFile, quota_bytes: Option<i64>) -> MemoryResult<MediaFile> {
        let size = i64::try_from(file.content.len()).map_err(|_| MemoryError::OutOfRange("file size".into()))?;
        let now = rows::stored_time(Utc::now());
        let mut tx = self.write_transaction().await?;
        let owner = query::<D>("select user_id from tenants where id = $1")
            .bind(file.tenant_id.0)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| MemoryError::NotFound("tenant".into()))?
            .int("user_id")?;
        if let Some(limit) = quota_bytes {
            // One upload per owner at a time until commit: two cannot both fit under the
            // quota by reading the same total.
            tx.lock(Lock::MediaOf(UserId(owner))).await?;
            let used = query::<D>(BYTES_OF_USER).bind(owner).fetch_one(&mut *tx).await?.int("used")?;
            if used.saturating_add(size) > limit {
                return Err(MemoryError::QuotaExceeded { used, adding: size, limit });
            }
        }
        let row = query::<D>(concat!(
            "insert into media_files (tenant_id, name, content_type, size_bytes, sha256, content, created_at) \
             values ($1, $2, $3, $4, $5, $6, $7) returning ",
            rows::media_columns!()
        ))
        .bind(file.tenant_id.0)
        .bind(&file.name)
        .bind(&file.content_type)
        .bind(size)
        .bind(&file.sha256)
        .bind(file.content.as_slice())
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| rows::write_error(e, "file", "tenant"))?;
        tx.commit().await?;
        rows::media_file(&row)
    }

    async fn media_files(&self, tenant: TenantId) -> MemoryResult<Vec<MediaFile>> {
        query::<D>(concat!("select ", rows::media_columns!(), " from media_files where tenant_id = $1 order by id"))
            .bind(tenant.0)
            .fetch_all(self.db())
            .await?
            .iter()
            .map(rows::media_file)
            .collect()
    }

    async fn media_file_content(&self, tenant: TenantId, id: i64) -> MemoryResult<Option<(MediaFile, Vec<u8>)>> {
        let row = query::<D>(concat!(
            "select ",
            rows::media_columns!(),
            ", content from media_files where tenant_id = $1 and id = $2"
        ))
        .bind(tenant.0)
        .bind(id)
        .fetch_optional(self.db())
        .await?;
        row.map(|row| Ok((rows::media_file(&row)?, row.bytes("content")?))).transpose()
    }

    async fn delete_media_file(&self, tenant: TenantId, id: i64) -> MemoryResult<()> {
        let writer = self.write().await;
        let deleted = query::<D>("delete from media_files where tenant_id = $1 and id = $2")
            .bind(tenant.0)
            .bind(id)
            .execute(&writer)
            .await?;
        rows::expect_one(deleted, "file")
    }

    async fn media_bytes_of_user(&self, user: UserId) -> MemoryResult<i64> {
        query::<D>(BYTES_OF_USER).bind(user.0).fetch_one(self.db()).await?.int("used")
    }
}
