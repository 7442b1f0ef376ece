//! The one storage interface, implemented by the SQLite and PostgreSQL backends.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::sync::Arc;

use crate::MemoryError;
use crate::model::*;

/// Result of every storage call.
pub type MemoryResult<T> = Result<T, MemoryError>;

/// Which database a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The embedded default: one SQLite file.
    Sqlite,
    /// Production: a PostgreSQL server.
    Postgres,
}

impl Backend {
    /// Lower-case name for health reports and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// Storage for everything Boardroom keeps. Both backends behave identically; the
/// conformance suite (`memory/tests/conformance.rs`) runs the same tests on each.
///
/// Every tenant-owned read takes the tenant id, so a caller can never read another
/// tenant's rows by id alone.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Which database this is.
    fn backend(&self) -> Backend;

    /// Round-trips a trivial query; used by `/health`.
    async fn ping(&self) -> MemoryResult<()>;

    /// Waits for in-flight queries and closes the pool.
    async fn close(&self);

    // ---- users ----

    /// Creates a user; `Conflict("email")` when the address is taken (case-insensitive).
    async fn create_user(&self, user: NewUser) -> MemoryResult<User>;
    /// Creates a user, making them admin if and only if no user exists yet. Atomic: two
    /// concurrent first sign-ups yield exactly one admin.
    async fn create_user_first_is_admin(&self, user: NewUser) -> MemoryResult<User>;
    /// Looks a user up by id.
    async fn user(&self, id: UserId) -> MemoryResult<Option<User>>;
    /// Looks a user up by e-mail (case-insensitive).
    async fn user_by_email(&self, email: &str) -> MemoryResult<Option<User>>;
    /// Users ordered by id, after `after` (exclusive), at most `limit`.
    async fn list_users(&self, after: Option<UserId>, limit: i64) -> MemoryResult<Vec<User>>;
    /// How many users exist.
    async fn count_users(&self) -> MemoryResult<i64>;
    /// Changes a user's role.
    async fn set_user_role(&self, id: UserId, role: Role) -> MemoryResult<()>;
    /// Changes a user's tier.
    async fn set_user_tier(&self, id: UserId, tier: Tier) -> MemoryResult<()>;
    /// Stamps a successful login.
    async fn touch_last_login(&self, id: UserId, at: DateTime<Utc>) -> MemoryResult<()>;

    // ---- tenants ----

    /// Creates a tenant for an existing user.
    async fn create_tenant(&self, tenant: NewTenant) -> MemoryResult<Tenant>;
    /// Looks a tenant up by id.
    async fn tenant(&self, id: TenantId) -> MemoryResult<Option<Tenant>>;
    /// All tenants ordered by id, after `after` (exclusive), at most `limit`.
    async fn list_tenants(&self, after: Option<TenantId>, limit: i64) -> MemoryResult<Vec<Tenant>>;
    /// One user's tenants, ordered by id.
    async fn tenants_of_user(&self, user: UserId) -> MemoryResult<Vec<Tenant>>;
    /// Enables or disables a tenant.
    async fn set_tenant_active(&self, id: TenantId, active: bool) -> MemoryResult<()>;

    // ---- event log ----

    /// Appends events in one transaction, giving each the next sequence number of its
    /// tenant. Numbers are gap-free and unique per tenant even when several processes
    /// append at once. Returns the stored events in input order.
    async fn append_events(&self, events: &[NewEvent]) -> MemoryResult<Vec<SwarmEvent>>;
    /// A tenant's events with `seq > after`, oldest first, at most `limit`.
    async fn events_after(
        &self,
        tenant: TenantId,
        after: i64,
        limit: i64,
    ) -> MemoryResult<Vec<SwarmEvent>>;
    /// The highest sequence number of a tenant (0 when it has no events).
    async fn last_event_seq(&self, tenant: TenantId) -> MemoryResult<i64>;

    // ---- ledger (profit_logs) ----

    /// Books a ledger row; `Conflict("transaction_id")` when the tenant already booked
    /// that transaction id, so a retried platform call never books twice.
    async fn record_ledger_entry(&self, entry: NewLedgerEntry) -> MemoryResult<LedgerEntry>;
    /// A tenant's ledger rows recorded in `[from, to)`, oldest first.
    async fn ledger_entries(
        &self,
        tenant: TenantId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> MemoryResult<Vec<LedgerEntry>>;

    // ---- invites ----

    /// Creates an invite; `Conflict("code")` when the code exists.
    async fn create_invite(&self, invite: NewInvite) -> MemoryResult<Invite>;
    /// Takes one use of a code for `user`, atomically: two concurrent callers can never
    /// both take the last use. Refused with `InviteRejected`.
    async fn consume_invite(
        &self,
        code: &str,
        user: UserId,
        now: DateTime<Utc>,
    ) -> MemoryResult<Invite>;
    /// Checks a code without using it.
    async fn check_invite(&self, code: &str, now: DateTime<Utc>) -> MemoryResult<Invite>;
    /// Invites ordered by id.
    async fn list_invites(&self) -> MemoryResult<Vec<Invite>>;

    // ---- autopilot checkpoints ----

    /// Writes (replaces) the tenant's checkpoint.
    async fn save_checkpoint(&self, checkpoint: &Checkpoint) -> MemoryResult<()>;
    /// Reads the tenant's checkpoint.
    async fn checkpoint(&self, tenant: TenantId) -> MemoryResult<Option<Checkpoint>>;

    // ---- usage counters ----

    /// Adds `amount` to a counter for a period (e.g. `api_calls`, `2026-11`) and returns
    /// the new total, atomically.
    async fn add_usage(
        &self,
        subject: UsageSubject,
        counter: &str,
        period: &str,
        amount: i64,
    ) -> MemoryResult<i64>;
    /// Reads a counter (0 when never written).
    async fn usage(&self, subject: UsageSubject, counter: &str, period: &str) -> MemoryResult<i64>;
}

/// A store shared across tasks.
pub type SharedStore = Arc<dyn Store>;
