//! The schema's history, as each database applies it at start-up.
//!
//! The migrations are the files under `migrations/sqlite/` and `migrations/postgres/`,
//! embedded by `build.rs`, which also expands their `-- include: shared/<name>.sql`
//! lines: statements that read the same on both databases are written once, in
//! `migrations/shared/`. They are handed to sqlx as a [`Migrator`], which records each
//! applied migration with the SHA-384 of its text and refuses to start on a database
//! whose recorded text differs from the shipped one. So a shipped migration never
//! changes, not even its comments; its tests pin every shipped checksum. A change to the
//! schema is a new migration in both dialect folders.

use std::borrow::Cow;

use sqlx::AssertSqlSafe;
use sqlx::SqlSafeStr;
use sqlx::migrate::{Migration, MigrationType, Migrator};

/// One migration as shipped: its version and description (as sqlx names them from the
/// file name) and its text with includes expanded.
pub(crate) struct ShippedMigration {
    pub(crate) version: i64,
    pub(crate) description: &'static str,
    pub(crate) sql: &'static str,
}

include!(concat!(env!("OUT_DIR"), "/migrations.rs"));

/// The migrator for one dialect's shipped migrations.
pub(crate) fn migrator(shipped: &[ShippedMigration]) -> Migrator {
    let migrations = shipped
        .iter()
        .map(|m| {
            Migration::new(
                m.version,
                Cow::Borrowed(m.description),
                MigrationType::Simple,
                AssertSqlSafe(m.sql).into_sql_str(),
                // The convention sqlx's own loader follows for statements that cannot
                // run in a transaction.
                m.sql.starts_with("-- no-transaction"),
            )
        })
        .collect();
    Migrator::with_migrations(migrations)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SHA-384 of every migration ever shipped, as the databases that applied it have
    /// recorded it. Append a line per new migration; never change one.
    const SHIPPED_SQLITE: [(i64, &str); 9] = [
        (1, "cbbf4df6e16b72a5f5f314426165cafb2684cfca9ca14de9d0b4b17cd0b4aed0e10fc44fbb865986eb3c87c87b36136a"),
        (2, "519bc7b36ce7de6aa0b4437738ee6039fbb2c3d5c9f84b38da0353f7917b5a06414a9db5bc5bc6fc841c098361ebd0dc"),
        (3, "3346f1f4a60354ca1e4075c57088ece29be117d1958100301c8a49adc9b92333dc7fb5e52b2942f8e04693c2063126a3"),
        (4, "54e0b3f6fc2ce24c2a8540c9205d5a2c90e7a657cbe37511b57fbb6acf24c0d0fe25151b69c0475c8cfa8bd356c351cb"),
        (5, "b26691cf8ccf6a615e9db8364ee457c980ac8ae5a3c40f29f351fcf83287a824ef04a677e2f1db95da006a477efee815"),
        (6, "a1918bc3bd58847ecfa96a4c3f1d454c6574ac479e0845a64dbb2085bd8900e12f611becada34e7cc4160d985db15434"),
        (7, "4f114cea3acd04ce9ab2aabe542948a49d4e91e5d88bbf32a8cb1d84718da67b330dd3b599e5290ba335fca3b31fa617"),
        (8, "bc01ac54fdb5831e888cd589a7d4b8f1ce70e2b703a71920c07e92757825fa6c335af18d7f54a583fa21da6be938dabe"),
        (9, "21e25ed01ed1907e9cca11d34f176d96423c0ea3ddc28616fc1d453f5a83855627767281cfa9ac8a4232f37671125905"),
    ];
    const SHIPPED_POSTGRES: [(i64, &str); 9] = [
        (1, "b52e9b0fb1c00a72f118322952d80d7592a4aa0a7c994469709fc0882dc538f872a5c29ab10b99e8d36efd33bfe4607e"),
        (2, "05eb073a4d8adb6cd54d64068d313b345629a436640f37f38b9f9a80d87bd3ef634d082d630209032818d2a941ce35e5"),
        (3, "966a538d7b243b8a42a2a872c4f981b19167c6bac0bdca8ec8a7ff890448fe071dfa0f87712840a566ff315476a7627b"),
        (4, "f3ff25782586ec014d3adee2e32c978693a1aa36f1b572415a3ad75fc4aff98c8d9b2faa7f2d237654a772aca4decae7"),
        (5, "e6b795d6d46febf90bdc13ceee41dffadccc3fc72e6e8f1be1f1de8d8a94a7cdbbc1ad6aed2a040b66f1190dd0b1d5ca"),
        (6, "96bc87960b0d76e54fa9342b21c2069970f1a39a831feeb0259e9683c7ed9bdb4c4cc909943e7983f913c14970f906b5"),
        (7, "d6b270b1e0b5290385c1432b96f94216f1963948d8da494d89913894af4bfeb3960883e4243c03b40affb0ee5ac94f76"),
        (8, "0665779e34d0dcf301a90c56e27a01c27a9b348edd95fb10466e5a207f9dace7dacdaeb1865bfdd67aa32c6f050943ba"),
        (9, "7fc71c564744706782c12708ddbe9d6631760be3abaebe7c8a21a5c80f1fccc77127e0e036d449a8241abbdae196214c"),
    ];

    fn assert_unchanged(dialect: &str, shipped: &[ShippedMigration], pinned: &[(i64, &str)]) {
        let migrator = migrator(shipped);
        for (version, checksum) in pinned {
            let migration = migrator
                .iter()
                .find(|m| m.version == *version)
                .unwrap_or_else(|| panic!("{dialect} migration {version} is gone; databases have applied it"));
            assert_eq!(
                hex::encode(&migration.checksum),
                *checksum,
                "{dialect} migration {version} changed after it shipped: databases that applied it would refuse \
                 to start. Put the change in a new migration."
            );
        }
    }

    #[test]
    fn shipped_migrations_keep_the_text_databases_applied() {
        assert_unchanged("sqlite", SQLITE, &SHIPPED_SQLITE);
        assert_unchanged("postgres", POSTGRES, &SHIPPED_POSTGRES);
    }

    #[test]
    fn both_dialects_ship_the_same_versions_in_order() {
        let versions = |list: &[ShippedMigration]| list.iter().map(|m| (m.version, m.description)).collect::<Vec<_>>();
        assert_eq!(versions(SQLITE), versions(POSTGRES));
        assert!(versions(SQLITE).windows(2).all(|pair| pair[0].0 < pair[1].0));
    }

    #[test]
    fn includes_are_expanded_before_sqlx_sees_the_text() {
        let swarm_work = SQLITE.iter().find(|m| m.version == 2).expect("migration 2");
        assert!(!swarm_work.sql.contains("-- include:"));
        assert!(swarm_work.sql.contains("create unique index market_insights_niche_idx"));
    }
}
