use thiserror::Error;

use crate::model::TenantId;

/// Everything the storage layer can fail with.
#[derive(Debug, Error)]
pub enum MemoryError {
    /// The database could not be reached or refused the query.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Applying migrations failed.
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// A unique constraint refused the row; the string names what was duplicated.
    #[error("{0} already exists")]
    Conflict(String),
    /// What the call needs is in use (a business in the middle of a cycle); nothing was
    /// written, and the same call a moment later may succeed. The string names what.
    #[error("{0} is busy; try again in a moment")]
    Busy(String),
    /// The referenced row does not exist (or belongs to someone else).
    #[error("{0} not found")]
    NotFound(String),
    /// A stored value could not be read back (bad decimal text, unknown enum...).
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// An invite code cannot be used; the string says why.
    #[error("invite code rejected: {0}")]
    InviteRejected(InviteRejection),
    /// `DATABASE_URL` is neither SQLite nor PostgreSQL, or malformed.
    #[error("unsupported database url {0:?}: expected sqlite:… or postgres://…")]
    UnsupportedUrl(String),
    /// The event log has shut down and accepts no more events.
    #[error("the event log is closed")]
    EventLogClosed,
    /// Events the log could not write (the database stayed unreachable until it had
    /// to close, or refused them); the message says whether the journal kept them.
    #[error("events not written: {0}")]
    Unwritten(String),
    /// The event journal could not be read or written.
    #[error("event journal: {0}")]
    Journal(String),
    /// Exact decimal arithmetic (a campaign's spend, a pattern's mean revenue, a ledger
    /// total) left the range of [`rust_decimal::Decimal`]; the string names what. Nothing
    /// was written.
    #[error("{0} is out of the exact decimal range")]
    OutOfRange(String),
    /// The media store (the folder or bucket that holds files' bytes) could not be
    /// used; the message says which file and why.
    #[error("media store: {0}")]
    Media(String),
    /// Keeping a file would take its owner's files past their storage quota. Nothing
    /// was written.
    #[error("storing {adding} more bytes would exceed the quota of {limit} bytes ({used} used)")]
    QuotaExceeded {
        /// Bytes the owner's files take now.
        used: i64,
        /// Bytes the file would add.
        adding: i64,
        /// The quota.
        limit: i64,
    },
    /// Creating one more row would take what a tenant has past the limit it was asked
    /// to stay within (a tier's products, stores or campaigns per business). Nothing was
    /// written.
    #[error("the limit of {limit} {what} is reached")]
    LimitReached {
        /// What is counted: `products`, `campaigns`, or the agent-memory namespace
        /// (`stores`).
        what: String,
        /// The limit.
        limit: u64,
    },
    /// A swarm's write carried a lease epoch that is no longer the tenant's current one:
    /// another node (or a later claim by this one) runs the tenant now. Nothing was
    /// written; the writer should let the swarm go.
    #[error("tenant {tenant}'s swarm lease moved on from epoch {epoch}: this node no longer runs it")]
    Fenced {
        /// The tenant.
        tenant: TenantId,
        /// The epoch the refused write carried.
        epoch: i64,
    },
}

/// Why an invite code was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum InviteRejection {
    /// No such code.
    #[error("unknown code")]
    Unknown,
    /// An admin disabled it.
    #[error("code is disabled")]
    Inactive,
    /// Every use has been taken.
    #[error("code has no uses left")]
    Exhausted,
    /// Past its expiry.
    #[error("code has expired")]
    Expired,
}
