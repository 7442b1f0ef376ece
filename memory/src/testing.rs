//! Fresh, private databases for tests (feature `testing`).
//!
//! Each call gives a database no other test sees, and its guard removes it on drop.
//! PostgreSQL tests never pass silently without a server: [`fresh_postgres`] panics
//! with the command that starts one.

use std::path::PathBuf;
use std::time::Duration;

use sqlx::postgres::PgConnection;
use sqlx::{AssertSqlSafe, Connection};
use uuid::Uuid;

use crate::{PostgresStore, SqliteStore};

/// Environment variable naming the PostgreSQL server tests create their databases on.
pub const TEST_POSTGRES_URL_VAR: &str = "TEST_POSTGRES_URL";
/// Used when [`TEST_POSTGRES_URL_VAR`] is not set.
pub const DEFAULT_TEST_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
/// How to start the local server when it is down.
const START_COMMAND: &str = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start";

/// A PostgreSQL database made for one test; dropped (`WITH (FORCE)`) with the guard.
#[derive(Debug)]
pub struct TestPostgres {
    /// URL of the database, for opening more connections (e.g. a second "process").
    pub url: String,
    /// A store connected to it, migrations applied.
    pub store: PostgresStore,
    admin_url: String,
    name: String,
}

/// A temporary SQLite file made for one test; deleted (with its WAL files) on drop.
#[derive(Debug)]
pub struct TestSqlite {
    /// `sqlite://…` URL of the file.
    pub url: String,
    /// A store connected to it, migrations applied.
    pub store: SqliteStore,
    path: PathBuf,
}

/// How long to wait for the server before declaring it unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

fn unreachable_postgres(admin_url: &str, error: &dyn std::fmt::Display) -> ! {
    panic!(
        "PostgreSQL is not reachable at {admin_url} ({error}); these tests need it. \
         Start it with `{START_COMMAND}`, or point {TEST_POSTGRES_URL_VAR} at a server."
    )
}

fn admin_url() -> String {
    std::env::var(TEST_POSTGRES_URL_VAR).unwrap_or_else(|_| DEFAULT_TEST_POSTGRES_URL.to_owned())
}

/// `url` with its database name replaced by `database` (user, host and parameters kept).
fn with_database(url: &str, database: &str) -> String {
    let (base, params) = match url.split_once('?') {
        Some((base, params)) => (base, Some(params)),
        None => (url, None),
    };
    let authority = base.find("://").map_or(0, |at| at + 3);
    let path = base[authority..].find('/').map_or(base.len(), |at| authority + at);
    let mut out = format!("{}/{}", &base[..path], database);
    if let Some(params) = params {
        out.push('?');
        out.push_str(params);
    }
    out
}

/// Creates an empty database `boardroom_test_<uuid>` on the server named by
/// `TEST_POSTGRES_URL` (default [`DEFAULT_TEST_POSTGRES_URL`]) and connects a
/// [`PostgresStore`] to it.
///
/// # Panics
/// When PostgreSQL cannot be reached (the message names the URL and how to start the
/// server) or refuses to create the database.
pub async fn fresh_postgres() -> TestPostgres {
    let admin_url = admin_url();
    let connecting = tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect(&admin_url)).await;
    let mut admin = match connecting {
        Ok(Ok(admin)) => admin,
        Ok(Err(error)) => unreachable_postgres(&admin_url, &error),
        Err(_) => unreachable_postgres(&admin_url, &"no answer within 10 s"),
    };
    let name = format!("boardroom_test_{}", Uuid::new_v4().simple());
    // The name is ours (a fixed prefix and hex digits), so formatting it in is safe.
    sqlx::query(AssertSqlSafe(format!("create database \"{name}\"")))
        .execute(&mut admin)
        .await
        .unwrap_or_else(|error| panic!("PostgreSQL at {admin_url} refused to create database {name}: {error}"));
    let _ = admin.close().await;
    let url = with_database(&admin_url, &name);
    let store = PostgresStore::connect(&url)
        .await
        .unwrap_or_else(|error| panic!("could not open test database {url} on PostgreSQL: {error}"));
    TestPostgres { url, store, admin_url, name }
}

impl Drop for TestPostgres {
    fn drop(&mut self) {
        // Drop runs outside any async context we could await in (maybe during a panic),
        // so a helper thread with its own runtime does the work; best effort.
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        let cleanup = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
                return;
            };
            runtime.block_on(async move {
                if let Ok(mut admin) = PgConnection::connect(&admin_url).await {
                    let drop = format!("drop database if exists \"{name}\" with (force)");
                    if let Err(error) = sqlx::query(AssertSqlSafe(drop)).execute(&mut admin).await {
                        tracing::warn!(%error, database = %name, "could not drop test database");
                    }
                    let _ = admin.close().await;
                }
            });
        });
        let _ = cleanup.join();
    }
}

/// Creates a SQLite database in a new file under the system's temporary folder and
/// connects a [`SqliteStore`] to it.
///
/// # Panics
/// When the file cannot be created or migrated.
pub async fn fresh_sqlite() -> TestSqlite {
    let path = std::env::temp_dir().join(format!("boardroom_test_{}.sqlite3", Uuid::new_v4().simple()));
    let url = format!("sqlite://{}", path.display());
    let store =
        SqliteStore::connect(&url).await.unwrap_or_else(|error| panic!("could not open test database {url}: {error}"));
    TestSqlite { url, store, path }
}

impl Drop for TestSqlite {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut file = self.path.clone().into_os_string();
            file.push(suffix);
            let _ = std::fs::remove_file(file);
        }
    }
}

/// Creates a tenant named `name` with `personality` for a test, owned by a shared test
/// account (made on first use). Panics on storage errors: it is test set-up.
pub async fn create_tenant(store: &dyn crate::Store, name: &str, personality: &str) -> crate::TenantId {
    const OWNER: &str = "owner@example.com";
    let owner = match store.user_by_email(OWNER).await.expect("look up the test owner") {
        Some(user) => user,
        None => store
            .create_user(crate::NewUser {
                email: OWNER.into(),
                password_hash: "!".into(),
                role: crate::Role::User,
                tier: crate::Tier::Free,
            })
            .await
            .expect("create the test owner"),
    };
    let tenant = crate::NewTenant {
        user_id: owner.id,
        name: name.into(),
        domain: None,
        personality: personality.into(),
        settings: serde_json::json!({}),
    };
    store.create_tenant(tenant).await.expect("create a test tenant").id
}

/// An S3-compatible server in the test's own process (`s3s-fs`: the S3 REST protocol with
/// SigV4 signatures checked, objects as files under a temporary folder), with one bucket.
/// Stopped and its folder removed on drop.
pub struct LocalS3 {
    /// `s3://{bucket}/{prefix}`, as `MEDIA_URL` would name it.
    pub url: String,
    /// Where the bucket's objects lie on disk (one file per object, at its key).
    pub bucket_dir: PathBuf,
    root: PathBuf,
    endpoint: String,
    server: tokio::task::JoinHandle<()>,
}

/// The access key [`LocalS3`] accepts.
pub const LOCAL_S3_ACCESS_KEY: &str = "boardroom-test-access";
/// Its secret key.
pub const LOCAL_S3_SECRET_KEY: &str = "boardroom-test-secret";

impl LocalS3 {
    /// Starts a server on a free local port with a bucket named `media`, keys under
    /// `prefix`.
    ///
    /// # Panics
    /// When the folder or the port cannot be had: it is test set-up.
    pub async fn start(prefix: &str) -> Self {
        use hyper_util::rt::{TokioExecutor, TokioIo};
        use hyper_util::server::conn::auto::Builder;

        let root = std::env::temp_dir().join(format!("boardroom_s3_{}", Uuid::new_v4().simple()));
        let bucket_dir = root.join("media");
        std::fs::create_dir_all(&bucket_dir).expect("the local S3 server's bucket folder");
        let filesystem = s3s_fs::FileSystem::new(&root).expect("the local S3 server's folder");
        let mut service = s3s::service::S3ServiceBuilder::new(filesystem);
        service.set_auth(s3s::auth::SimpleAuth::from_single(LOCAL_S3_ACCESS_KEY, LOCAL_S3_SECRET_KEY));
        let service = service.build();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a free local port");
        let endpoint = format!("http://{}", listener.local_addr().expect("a bound address"));
        let server = tokio::spawn(async move {
            let http = Builder::new(TokioExecutor::new());
            while let Ok((socket, _)) = listener.accept().await {
                let connection = http.serve_connection(TokioIo::new(socket), service.clone()).into_owned();
                tokio::spawn(async move {
                    let _ = connection.await;
                });
            }
        });
        Self { url: format!("s3://media/{prefix}"), bucket_dir, root, endpoint, server }
    }

    /// The options a client of this server needs (as `AWS_*` variables would give them).
    pub fn options(&self) -> Vec<(String, String)> {
        [
            ("aws_access_key_id", LOCAL_S3_ACCESS_KEY),
            ("aws_secret_access_key", LOCAL_S3_SECRET_KEY),
            ("aws_region", "us-east-1"),
            ("aws_endpoint", self.endpoint.as_str()),
            ("aws_allow_http", "true"),
            ("aws_virtual_hosted_style_request", "false"),
        ]
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect()
    }
}

impl Drop for LocalS3 {
    fn drop(&mut self) {
        self.server.abort();
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn with_database_swaps_only_the_database_name() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "t1"),
            "postgres://postgres@127.0.0.1:5432/t1"
        );
        assert_eq!(with_database("postgres://u:p@db:5432", "t1"), "postgres://u:p@db:5432/t1");
        assert_eq!(
            with_database("postgresql://u@db/admin?sslmode=disable", "t1"),
            "postgresql://u@db/t1?sslmode=disable"
        );
    }
}
