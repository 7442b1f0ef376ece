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
