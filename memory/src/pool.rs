//! How long a query waits for a database connection: the bound that turns a database
//! outage into a quick error instead of a hung request.

use std::time::Duration;

/// The default of [`PoolSettings::acquire_timeout`].
pub const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(2);

/// Connection-pool settings shared by both backends.
///
/// sqlx's default acquire time-out is 30 s, and while the server refuses connections
/// its pool keeps retrying to connect until that time-out: with the database down every
/// query (and every request waiting on one) hung for 30 s. A short time-out makes it
/// fail with [`sqlx::Error::PoolTimedOut`] instead, which the HTTP layer answers with
/// 503 and `Retry-After`; the next query after the database is back simply gets a new
/// connection, so the store recovers by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolSettings {
    /// Longest a query waits for a connection, including opening a new one: sqlx bounds
    /// each connection attempt (TCP connect, TLS, start-up, authentication) by what is
    /// left of this time, so it is also the connect time-out of new connections.
    pub acquire_timeout: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self { acquire_timeout: DEFAULT_ACQUIRE_TIMEOUT }
    }
}

/// Whether `error` means the database cannot be reached right now (it is down,
/// restarting, refusing or dropping connections, or locked by another process) rather
/// than that the query or its data is wrong: worth a 503 and a retry, not a 500.
pub fn is_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(database) => database.code().is_some_and(|code| unavailable_code(&code)),
        _ => false,
    }
}

/// PostgreSQL's connection exceptions (class 08), `admin_shutdown`, `crash_shutdown`
/// and `cannot_connect_now` (57P01–57P03); SQLite's `SQLITE_BUSY` and `SQLITE_LOCKED`
/// (primary codes 5 and 6, also as extended codes), its answer when another connection
/// holds the write lock past the busy time-out.
fn unavailable_code(code: &str) -> bool {
    if code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03") {
        return true;
    }
    // SQLite reports its (extended) code as a number of at most four digits whose low
    // byte is the primary code; SQLSTATEs always have five characters.
    code.len() < 5 && code.parse::<i32>().is_ok_and(|number| matches!(number & 0xff, 5 | 6))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outages_are_unavailable_and_query_mistakes_are_not() {
        assert!(is_unavailable(&sqlx::Error::PoolTimedOut));
        assert!(is_unavailable(&sqlx::Error::PoolClosed));
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert!(is_unavailable(&sqlx::Error::Io(refused)));
        assert!(!is_unavailable(&sqlx::Error::RowNotFound));
        assert!(!is_unavailable(&sqlx::Error::ColumnNotFound("id".into())));
        for code in ["08006", "08001", "57P01", "57P03", "5", "517", "6"] {
            assert!(unavailable_code(code), "{code}");
        }
        for code in ["23505", "23301", "42P01", "19", "2067"] {
            assert!(!unavailable_code(code), "{code}");
        }
    }
}
