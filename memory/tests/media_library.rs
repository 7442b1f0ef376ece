//! The media library on each database and each kind of media store: a file's bytes kept
//! in a folder or an S3-compatible bucket (a real S3 server in this process, `s3s-fs`,
//! signatures checked) and its record in SQLite or PostgreSQL, the two kept in step
//! through quota refusals, concurrent uploads, deletes, the move of files written before
//! the media store, and the sweep of bytes no record names.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use boardroom_memory::testing::{LocalS3, TestPostgres, TestSqlite, fresh_postgres, fresh_sqlite};
use boardroom_memory::{MediaLibrary, MediaUpload, MemoryError, NewTenant, NewUser, Role, SharedStore, TenantId, Tier};
use bytes::Bytes;

enum Database {
    Sqlite(TestSqlite),
    Postgres(TestPostgres),
}

impl Database {
    fn store(&self) -> SharedStore {
        match self {
            Database::Sqlite(db) => Arc::new(db.store.clone()),
            Database::Postgres(db) => Arc::new(db.store.clone()),
        }
    }

    /// A file kept the way files were before the media store: bytes in the row.
    async fn insert_file_in_database(&self, tenant: TenantId, name: &str, content: &[u8]) {
        let sql = "insert into media_files (tenant_id, name, content_type, size_bytes, sha256, content) \
                   values ($1, $2, 'image/png', $3, 'old', $4)";
        let size = i64::try_from(content.len()).expect("small");
        match self {
            Database::Sqlite(db) => sqlx::query(sql)
                .bind(tenant.0)
                .bind(name)
                .bind(size)
                .bind(content)
                .execute(db.store.pool())
                .await
                .map(drop),
            Database::Postgres(db) => sqlx::query(sql)
                .bind(tenant.0)
                .bind(name)
                .bind(size)
                .bind(content)
                .execute(db.store.pool())
                .await
                .map(drop),
        }
        .expect("an old file's row");
    }
}

/// One database and one media store, and where the store's objects lie on disk.
struct Library {
    database: Database,
    library: MediaLibrary,
    objects_dir: PathBuf,
    _s3: Option<LocalS3>,
    _folder: Option<TempFolder>,
}

struct TempFolder(PathBuf);

impl Drop for TempFolder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn database(postgres: bool) -> Database {
    if postgres { Database::Postgres(fresh_postgres().await) } else { Database::Sqlite(fresh_sqlite().await) }
}

async fn in_folder(postgres: bool) -> Library {
    let database = database(postgres).await;
    let folder = std::env::temp_dir().join(format!("boardroom_media_{}", uuid::Uuid::new_v4().simple()));
    let library = MediaLibrary::in_folder(database.store(), &folder).expect("a media folder");
    Library { database, library, objects_dir: folder.clone(), _s3: None, _folder: Some(TempFolder(folder)) }
}

async fn in_bucket(postgres: bool) -> Library {
    let database = database(postgres).await;
    let s3 = LocalS3::start("boardroom/files").await;
    let library = MediaLibrary::in_bucket(database.store(), &s3.url, s3.options()).expect("a media bucket");
    let objects_dir = s3.bucket_dir.join("boardroom/files");
    Library { database, library, objects_dir, _s3: Some(s3), _folder: None }
}

/// Every object under `dir`, as keys relative to it.
fn objects(dir: &Path) -> Vec<String> {
    fn walk(dir: &Path, root: &Path, found: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, root, found);
            } else if !path.to_string_lossy().contains(".s3s") {
                found.push(path.strip_prefix(root).expect("under the root").to_string_lossy().into_owned());
            }
        }
    }
    let mut found = Vec::new();
    walk(dir, dir, &mut found);
    found.sort();
    found
}

async fn owner_with_tenants(store: &SharedStore, email: &str, names: &[&str]) -> Vec<TenantId> {
    let user = store
        .create_user(NewUser { email: email.into(), password_hash: "!".into(), role: Role::User, tier: Tier::Free })
        .await
        .expect("a user");
    let mut tenants = Vec::new();
    for name in names {
        let tenant = store
            .create_tenant(NewTenant {
                user_id: user.id,
                name: (*name).into(),
                domain: None,
                personality: "coachty".into(),
                settings: serde_json::json!({}),
            })
            .await
            .expect("a tenant");
        tenants.push(tenant.id);
    }
    tenants
}

fn upload(tenant: TenantId, name: &str, bytes: &[u8]) -> MediaUpload {
    MediaUpload {
        tenant_id: tenant,
        name: name.into(),
        content_type: "image/png".into(),
        bytes: Bytes::copy_from_slice(bytes),
    }
}

macro_rules! on_every_library {
    ($($story:ident),* $(,)?) => {
        mod sqlite_folder {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $story() { super::$story(super::in_folder(false).await).await; })*
        }
        mod sqlite_s3 {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $story() { super::$story(super::in_bucket(false).await).await; })*
        }
        mod postgres_folder {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $story() { super::$story(super::in_folder(true).await).await; })*
        }
        mod postgres_s3 {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $story() { super::$story(super::in_bucket(true).await).await; })*
        }
    };
}

on_every_library![
    a_file_is_kept_read_and_deleted_with_its_bytes_in_the_store,
    a_file_over_the_quota_leaves_no_bytes_behind,
    of_ten_uploads_at_once_under_a_quota_the_ones_that_fit_are_kept_and_no_others_bytes_stay,
    files_kept_in_the_database_move_to_the_store_once_and_nothing_is_lost,
    bytes_no_record_names_are_swept_once_they_are_old,
];

async fn a_file_is_kept_read_and_deleted_with_its_bytes_in_the_store(media: Library) {
    let store = media.database.store();
    let [shop, other] = owner_with_tenants(&store, "ann@example.com", &["shop", "other"]).await[..] else {
        unreachable!("two tenants")
    };
    let bytes = b"\x89PNG\r\n\x1a\n a logo".to_vec();
    let kept = media.library.keep(upload(shop, "logo.png", &bytes), Some(1_000)).await.expect("kept");
    assert_eq!((kept.size_bytes, kept.name.as_str()), (15, "logo.png"));
    assert_eq!(kept.sha256, hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes)));
    let on_disk = objects(&media.objects_dir);
    assert_eq!(on_disk.len(), 1, "{on_disk:?}");
    assert!(on_disk[0].starts_with(&format!("tenants/{}/", shop.0)), "{on_disk:?}");
    assert_eq!(std::fs::read(media.objects_dir.join(&on_disk[0])).expect("the object"), bytes);

    let (file, read) = media.library.read(shop, kept.id).await.expect("read").expect("present");
    assert_eq!((file, read.as_ref()), (kept.clone(), bytes.as_slice()));
    assert!(media.library.read(other, kept.id).await.expect("read").is_none(), "not another tenant's");
    assert!(matches!(media.library.remove(other, kept.id).await, Err(MemoryError::NotFound(_))));

    media.library.remove(shop, kept.id).await.expect("removed");
    assert!(media.library.read(shop, kept.id).await.expect("read").is_none());
    assert!(objects(&media.objects_dir).is_empty(), "the bytes went with the record");
}

async fn a_file_over_the_quota_leaves_no_bytes_behind(media: Library) {
    let store = media.database.store();
    let [shop] = owner_with_tenants(&store, "bo@example.com", &["shop"]).await[..] else { unreachable!("a tenant") };
    media.library.keep(upload(shop, "first.bin", &[1; 60]), Some(100)).await.expect("fits");
    let refused = media.library.keep(upload(shop, "second.bin", &[2; 60]), Some(100)).await;
    assert!(matches!(refused, Err(MemoryError::QuotaExceeded { used: 60, adding: 60, limit: 100 })), "{refused:?}");
    let too_big = media.library.keep(upload(shop, "huge.bin", &[3; 101]), Some(100)).await;
    assert!(matches!(too_big, Err(MemoryError::QuotaExceeded { used: 60, adding: 101, limit: 100 })), "{too_big:?}");
    assert_eq!(objects(&media.objects_dir).len(), 1, "only the kept file's bytes");
}

async fn of_ten_uploads_at_once_under_a_quota_the_ones_that_fit_are_kept_and_no_others_bytes_stay(media: Library) {
    let store = media.database.store();
    let tenants = owner_with_tenants(&store, "cy@example.com", &["first", "second"]).await;
    media.library.keep(upload(tenants[0], "already.bin", &[1; 40]), Some(100)).await.expect("fits");
    let library = Arc::new(media.library.clone());
    let uploads = (0..10).map(|n| {
        let library = Arc::clone(&library);
        let tenant = tenants[n % 2];
        tokio::spawn(async move { library.keep(upload(tenant, &format!("f{n}"), &[2; 25]), Some(100)).await })
    });
    let mut kept = 0;
    for upload in uploads {
        match upload.await.expect("ran") {
            Ok(_) => kept += 1,
            Err(MemoryError::QuotaExceeded { .. }) => {}
            Err(other) => panic!("{other}"),
        }
    }
    assert_eq!(kept, 2, "60 bytes were left: two 25-byte files fit");
    assert_eq!(objects(&media.objects_dir).len(), 3, "the first file and the two that fit, nothing of the refused");
}

async fn files_kept_in_the_database_move_to_the_store_once_and_nothing_is_lost(media: Library) {
    let store = media.database.store();
    let [shop] = owner_with_tenants(&store, "di@example.com", &["shop"]).await[..] else { unreachable!("a tenant") };
    let olds: Vec<Vec<u8>> = (0..20_u8).map(|n| vec![n; 10 + usize::from(n)]).collect();
    for (n, content) in olds.iter().enumerate() {
        media.database.insert_file_in_database(shop, &format!("old-{n}.png"), content).await;
    }
    // Readable where they are before the move.
    let listed = boardroom_memory::MediaStore::media_files(store.as_ref(), shop).await.expect("listed");
    let (_, before) = media.library.read(shop, listed[3].id).await.expect("read").expect("present");
    assert_eq!(before.as_ref(), olds[3].as_slice());

    assert_eq!(media.library.move_database_files().await.expect("moved"), 20, "two batches and a part");
    assert_eq!(media.library.move_database_files().await.expect("moved again"), 0, "nothing moves twice");
    assert_eq!(objects(&media.objects_dir).len(), 20);
    for (file, content) in listed.iter().zip(&olds) {
        let (_, bytes) = media.library.read(shop, file.id).await.expect("read").expect("present");
        assert_eq!(bytes.as_ref(), content.as_slice(), "{}", file.name);
    }
    assert!(boardroom_memory::MediaStore::media_files_in_database(store.as_ref(), 100).await.expect("none").is_empty());
}

async fn bytes_no_record_names_are_swept_once_they_are_old(media: Library) {
    let store = media.database.store();
    let [shop] = owner_with_tenants(&store, "ed@example.com", &["shop"]).await[..] else { unreachable!("a tenant") };
    let kept = media.library.keep(upload(shop, "kept.png", b"kept"), None).await.expect("kept");
    // Leftovers as a crash between writing bytes and recording them leaves them.
    let leftovers = media.objects_dir.join(format!("tenants/{}", shop.0));
    std::fs::write(leftovers.join("old-leftover"), b"old").expect("a leftover");
    std::fs::write(leftovers.join("young-leftover"), b"young").expect("a leftover");
    let two_hours_ago = SystemTime::now() - Duration::from_secs(2 * 60 * 60);
    let aged = |path: PathBuf| {
        let file = std::fs::File::options().write(true).open(path).expect("the object");
        file.set_modified(two_hours_ago).expect("aged");
    };
    aged(leftovers.join("old-leftover"));
    // The kept file is as old: its record keeps it.
    let kept_object = objects(&media.objects_dir).into_iter().find(|key| !key.contains("leftover")).expect("kept");
    aged(media.objects_dir.join(&kept_object));

    assert_eq!(media.library.sweep_leftovers().await.expect("swept"), 1);
    let left: Vec<String> = objects(&media.objects_dir);
    assert_eq!(left.len(), 2, "{left:?}");
    assert!(left.iter().any(|key| key.ends_with("young-leftover")), "an upload may be on its way: {left:?}");
    let (_, bytes) = media.library.read(shop, kept.id).await.expect("read").expect("present");
    assert_eq!(bytes.as_ref(), b"kept");
}

#[tokio::test]
async fn a_bucket_that_does_not_answer_fails_the_upload_and_records_nothing() {
    let database = database(false).await;
    let store = database.store();
    let [shop] = owner_with_tenants(&store, "fa@example.com", &["shop"]).await[..] else { unreachable!("a tenant") };
    let options = vec![
        ("AWS_ACCESS_KEY_ID".to_owned(), "x".to_owned()),
        ("AWS_SECRET_ACCESS_KEY".to_owned(), "y".to_owned()),
        ("AWS_REGION".to_owned(), "us-east-1".to_owned()),
        // A port nothing listens on.
        ("AWS_ENDPOINT".to_owned(), "http://127.0.0.1:9".to_owned()),
        ("AWS_ALLOW_HTTP".to_owned(), "true".to_owned()),
    ];
    let library = MediaLibrary::in_bucket(store.clone(), "s3://media/files", options).expect("configured");
    let failed = library.keep(upload(shop, "logo.png", b"png"), None).await;
    assert!(matches!(&failed, Err(MemoryError::Media(message)) if message.contains("cannot write")), "{failed:?}");
    assert!(boardroom_memory::MediaStore::media_files(store.as_ref(), shop).await.expect("listed").is_empty());
    assert!(MediaLibrary::in_bucket(store.clone(), "https://example.com/x", Vec::new()).is_err());
    assert!(MediaLibrary::in_bucket(store, "s3:///nobucket", Vec::new()).is_err());
}
