//! [`MediaLibrary`]: a tenant's files, their records in the database and their bytes in
//! an object store ([`object_store`]): a folder under the data folder by default, or any
//! S3-compatible bucket (`s3://bucket/prefix`).
//!
//! The two are kept in step without a transaction spanning both:
//! - **Keeping** a file writes its bytes first, under a key no other file has
//!   (`tenants/{tenant}/{uuid}`), then records it (with the quota check); a refused or
//!   failed record deletes the bytes again. A crash between the two leaves bytes no
//!   record points at, never a record without bytes.
//! - **Deleting** removes the record first, then the bytes; a crash between leaves the
//!   same kind of leftover.
//! - Leftovers are swept at start-up ([`MediaLibrary::sweep_leftovers`]): objects under
//!   `tenants/` that no record names and that are older than an upload could take.
//! - **Files from before the media store** kept their bytes in the database.
//!   [`MediaLibrary::move_database_files`] writes each to the store and then points its
//!   record there while dropping the bytes, in one statement; run again after a crash,
//!   it finds the rows not moved yet and writes them again under the same key.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::Utc;
use futures::TryStreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use sha2::{Digest, Sha256};

use crate::MemoryError;
use crate::model::{MediaBytes, MediaFile, NewMediaFile, TenantId};
use crate::store::{MemoryResult, SharedStore};

/// Files the start-up move reads from the database at a time.
const MOVE_BATCH: i64 = 16;
/// An object younger than this may be an upload whose record is on its way: the sweep
/// leaves it.
const LEFTOVER_AGE: Duration = Duration::from_secs(60 * 60);

/// A file to keep.
#[derive(Debug, Clone)]
pub struct MediaUpload {
    /// The business.
    pub tenant_id: TenantId,
    /// Its name, checked by the caller.
    pub name: String,
    /// Its media type, as the caller established it from the bytes.
    pub content_type: String,
    /// The bytes.
    pub bytes: Bytes,
}

/// What the start-up move and sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MediaHousekeeping {
    /// Files whose bytes moved from the database to the store.
    pub moved: u64,
    /// Objects deleted because no record named them.
    pub swept: u64,
}

/// A tenant's files: records in the [`Store`](crate::Store), bytes in the object store.
#[derive(Clone)]
pub struct MediaLibrary {
    store: SharedStore,
    objects: Arc<dyn ObjectStore>,
    /// Where keys start inside the object store (an S3 URL's path), empty for a folder.
    root: ObjectPath,
    /// Where the bytes are, in words without secrets, for logs.
    location: String,
}

impl std::fmt::Debug for MediaLibrary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaLibrary").field("location", &self.location).finish_non_exhaustive()
    }
}

impl MediaLibrary {
    /// Bytes in `folder` (created if missing).
    pub fn in_folder(store: SharedStore, folder: &Path) -> MemoryResult<Self> {
        std::fs::create_dir_all(folder).map_err(|error| {
            MemoryError::Media(format!("cannot create the media folder {}: {error}", folder.display()))
        })?;
        let objects = object_store::local::LocalFileSystem::new_with_prefix(folder).map_err(|error| {
            MemoryError::Media(format!("cannot open the media folder {}: {error}", folder.display()))
        })?;
        Ok(Self {
            store,
            objects: Arc::new(objects),
            root: ObjectPath::default(),
            location: format!("folder {}", folder.display()),
        })
    }

    /// Bytes in the S3-compatible bucket `url` names (`s3://bucket/prefix`), with
    /// `options` such as `aws_access_key_id`, `aws_secret_access_key`, `aws_region`,
    /// `aws_endpoint` and `aws_allow_http` (the names [`object_store::aws`] takes, any
    /// case).
    pub fn in_bucket(
        store: SharedStore,
        url: &str,
        options: impl IntoIterator<Item = (String, String)>,
    ) -> MemoryResult<Self> {
        let parsed =
            url::Url::parse(url).map_err(|error| MemoryError::Media(format!("{url:?} is not a URL: {error}")))?;
        if parsed.scheme() != "s3" || parsed.host_str().is_none_or(str::is_empty) {
            return Err(MemoryError::Media(format!("{url:?} is not s3://bucket/prefix")));
        }
        let options = options.into_iter().map(|(key, value)| (key.to_ascii_lowercase(), value));
        let (objects, root) = object_store::parse_url_opts(&parsed, options)
            .map_err(|error| MemoryError::Media(format!("cannot use the bucket {url:?}: {error}")))?;
        let location = format!("bucket {}", parsed.as_str());
        Ok(Self { store, objects: Arc::from(objects), root, location })
    }

    /// Where the bytes are, for logs (no secrets).
    pub fn location(&self) -> &str {
        &self.location
    }

    /// Keeps `upload`: its bytes in the store, its record in the database within
    /// `quota_bytes` (see [`MediaStore::create_media_file`](crate::MediaStore::create_media_file)).
    pub async fn keep(&self, upload: MediaUpload, quota_bytes: Option<i64>) -> MemoryResult<MediaFile> {
        let size = i64::try_from(upload.bytes.len()).map_err(|_| MemoryError::OutOfRange("file size".into()))?;
        if let Some(limit) = quota_bytes {
            // A file that cannot fit beside what is kept already is refused before its
            // bytes travel; the record's check below is the one that holds under
            // concurrency.
            let used = self.used_by_owner_of(upload.tenant_id).await?;
            if used.saturating_add(size) > limit {
                return Err(MemoryError::QuotaExceeded { used, adding: size, limit });
            }
        }
        let object_key = format!("tenants/{}/{}", upload.tenant_id.0, uuid::Uuid::now_v7());
        let sha256 = hex::encode(Sha256::digest(&upload.bytes));
        self.put(&object_key, upload.bytes).await?;
        let record = NewMediaFile {
            tenant_id: upload.tenant_id,
            name: upload.name,
            content_type: upload.content_type,
            sha256,
            size_bytes: size,
            object_key: object_key.clone(),
        };
        match self.store.create_media_file(record, quota_bytes).await {
            Ok(file) => Ok(file),
            Err(error) => {
                if let Err(cleanup) = self.delete_object(&object_key).await {
                    tracing::warn!(%object_key, %cleanup, "an unrecorded file's bytes stay until the next sweep");
                }
                Err(error)
            }
        }
    }

    /// Bytes the files of `tenant`'s owner take, over all their tenants (0 for a missing
    /// tenant: recording its file says so).
    async fn used_by_owner_of(&self, tenant: TenantId) -> MemoryResult<i64> {
        match self.store.tenant(tenant).await? {
            Some(tenant) => self.store.media_bytes_of_user(tenant.user_id).await,
            None => Ok(0),
        }
    }

    /// One of a tenant's files with its bytes.
    pub async fn read(&self, tenant: TenantId, id: i64) -> MemoryResult<Option<(MediaFile, Bytes)>> {
        let Some((file, bytes)) = self.store.media_file_bytes(tenant, id).await? else {
            return Ok(None);
        };
        let bytes = match bytes {
            MediaBytes::Database(content) => Bytes::from(content),
            MediaBytes::Object(key) => {
                let path = self.path(&key);
                let got = self.objects.get(&path).await.map_err(|error| match error {
                    object_store::Error::NotFound { .. } => {
                        MemoryError::Corrupt(format!("file {id}'s bytes are missing from the media store ({key})"))
                    }
                    other => unavailable("read", &key, &other),
                })?;
                got.bytes().await.map_err(|error| unavailable("read", &key, &error))?
            }
        };
        Ok(Some((file, bytes)))
    }

    /// Deletes one of a tenant's files, record and bytes; `NotFound("file")` when it has
    /// no such file.
    pub async fn remove(&self, tenant: TenantId, id: i64) -> MemoryResult<()> {
        if let MediaBytes::Object(key) = self.store.delete_media_file(tenant, id).await?
            && let Err(error) = self.delete_object(&key).await
        {
            tracing::warn!(%key, %error, "a deleted file's bytes stay until the next sweep");
        }
        Ok(())
    }

    /// Moves the bytes of files kept before the media store out of the database; the
    /// number moved. Safe to run again at any point, and after a crash half way.
    pub async fn move_database_files(&self) -> MemoryResult<u64> {
        let mut moved = 0;
        loop {
            let batch = self.store.media_files_in_database(MOVE_BATCH).await?;
            if batch.is_empty() {
                return Ok(moved);
            }
            for file in batch {
                // The key follows from the row, so a move cut short writes the same
                // object again rather than a second one.
                let key = format!("tenants/{}/moved-{}", file.tenant_id.0, file.id);
                self.put(&key, Bytes::from(file.content)).await?;
                if self.store.media_file_moved(file.id, &key).await? {
                    moved += 1;
                }
            }
        }
    }

    /// Deletes objects under `tenants/` that no record names and that are older than an
    /// hour (younger ones may be uploads about to be recorded); the number deleted.
    pub async fn sweep_leftovers(&self) -> MemoryResult<u64> {
        let prefix = self.path("tenants");
        let listed: Vec<object_store::ObjectMeta> = self
            .objects
            .list(Some(&prefix))
            .try_collect()
            .await
            .map_err(|error| unavailable("list", "tenants/", &error))?;
        let cutoff = Utc::now() - chrono::Duration::from_std(LEFTOVER_AGE).unwrap_or_default();
        let mut swept = 0;
        for object in listed.into_iter().filter(|object| object.last_modified < cutoff) {
            let key = self.key_of(&object.location);
            if !self.store.media_object_in_use(&key).await? {
                self.delete_object(&key).await?;
                swept += 1;
            }
        }
        Ok(swept)
    }

    /// The move, then the sweep: what start-up runs.
    pub async fn housekeeping(&self) -> MemoryResult<MediaHousekeeping> {
        let moved = self.move_database_files().await?;
        let swept = self.sweep_leftovers().await?;
        Ok(MediaHousekeeping { moved, swept })
    }

    /// Whether the store answers (a read of a key that need not exist).
    pub async fn ping(&self) -> MemoryResult<()> {
        match self.objects.head(&self.path("ping")).await {
            Ok(_) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(error) => Err(unavailable("reach", "ping", &error)),
        }
    }

    async fn put(&self, key: &str, bytes: Bytes) -> MemoryResult<()> {
        self.objects
            .put(&self.path(key), PutPayload::from_bytes(bytes))
            .await
            .map(drop)
            .map_err(|error| unavailable("write", key, &error))
    }

    async fn delete_object(&self, key: &str) -> MemoryResult<()> {
        match self.objects.delete(&self.path(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(error) => Err(unavailable("delete", key, &error)),
        }
    }

    fn path(&self, key: &str) -> ObjectPath {
        self.root.parts().chain(ObjectPath::from(key).parts()).collect()
    }

    /// A location in the store as the key records hold (the root taken off).
    fn key_of(&self, location: &ObjectPath) -> String {
        let root_parts = self.root.parts().count();
        location.parts().skip(root_parts).map(|part| part.as_ref().to_owned()).collect::<Vec<_>>().join("/")
    }
}

fn unavailable(doing: &str, key: &str, error: &object_store::Error) -> MemoryError {
    MemoryError::Media(format!("cannot {doing} {key} in the media store: {error}"))
}
