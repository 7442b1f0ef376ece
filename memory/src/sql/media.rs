//! [`MediaStore`]: the records of the files a tenant keeps, within its owner's quota.

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
        let size = file.size_bytes;
        if size < 0 {
            return Err(MemoryError::OutOfRange("file size".into()));
        }
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
            "insert into media_files (tenant_id, name, content_type, size_bytes, sha256, object_key, created_at) \
             values ($1, $2, $3, $4, $5, $6, $7) returning ",
            rows::media_columns!()
        ))
        .bind(file.tenant_id.0)
        .bind(&file.name)
        .bind(&file.content_type)
        .bind(size)
        .bind(&file.sha256)
        .bind(&file.object_key)
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

    async fn media_file_bytes(&self, tenant: TenantId, id: i64) -> MemoryResult<Option<(MediaFile, MediaBytes)>> {
        let row = query::<D>(concat!(
            "select ",
            rows::media_columns!(),
            ", object_key, content from media_files where tenant_id = $1 and id = $2"
        ))
        .bind(tenant.0)
        .bind(id)
        .fetch_optional(self.db())
        .await?;
        row.map(|row| Ok((rows::media_file(&row)?, media_bytes(&row)?))).transpose()
    }

    async fn delete_media_file(&self, tenant: TenantId, id: i64) -> MemoryResult<MediaBytes> {
        let writer = self.write().await;
        let deleted =
            query::<D>("delete from media_files where tenant_id = $1 and id = $2 returning object_key, content")
                .bind(tenant.0)
                .bind(id)
                .fetch_optional(&writer)
                .await?
                .ok_or_else(|| MemoryError::NotFound("file".into()))?;
        media_bytes(&deleted)
    }

    async fn media_bytes_of_user(&self, user: UserId) -> MemoryResult<i64> {
        query::<D>(BYTES_OF_USER).bind(user.0).fetch_one(self.db()).await?.int("used")
    }

    async fn media_files_in_database(&self, limit: i64) -> MemoryResult<Vec<DatabaseMediaFile>> {
        query::<D>("select id, tenant_id, content from media_files where object_key is null order by id limit $1")
            .bind(limit)
            .fetch_all(self.db())
            .await?
            .iter()
            .map(|row| {
                Ok(DatabaseMediaFile {
                    id: row.int("id")?,
                    tenant_id: TenantId(row.int("tenant_id")?),
                    content: row.bytes("content")?,
                })
            })
            .collect()
    }

    async fn media_file_moved(&self, id: i64, object_key: &str) -> MemoryResult<bool> {
        let writer = self.write().await;
        let moved =
            query::<D>("update media_files set object_key = $1, content = null where id = $2 and object_key is null")
                .bind(object_key)
                .bind(id)
                .execute(&writer)
                .await?;
        Ok(moved == 1)
    }

    async fn media_object_in_use(&self, object_key: &str) -> MemoryResult<bool> {
        let found = query::<D>("select id from media_files where object_key = $1 limit 1")
            .bind(object_key)
            .fetch_optional(self.db())
            .await?;
        Ok(found.is_some())
    }
}

/// Where a row's bytes are: its object key, or else its content.
fn media_bytes(row: &impl ModelRow) -> MemoryResult<MediaBytes> {
    match row.opt_text("object_key")? {
        Some(key) => Ok(MediaBytes::Object(key)),
        None => Ok(MediaBytes::Database(row.bytes("content")?)),
    }
}
