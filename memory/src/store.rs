//! The storage interfaces, one per concern, implemented once over both databases
//! (`sql/`).
//!
//! A caller asks for what it uses: the session layer needs an [`AccountStore`], the
//! event log an [`EventStore`]. [`Store`] is all of them together, what
//! [`SharedStore`] carries; an `Arc<dyn Store>` coerces to any one of them
//! (`Arc<dyn EventStore>`), and methods of every concern can be called on it directly.
//!
//! | interface | what it keeps |
//! |---|---|
//! | [`PlatformStore`] | the database itself (backend, ping, close), platform settings, webhook deliveries, platform-wide counts |
//! | [`AccountStore`] | users, API tokens, sessions, access controls, invites |
//! | [`TenantStore`] | tenants (businesses) |
//! | [`EventStore`] | the swarm event log |
//! | [`LedgerStore`] | the ledger and autopilot checkpoints |
//! | [`ReportStore`] | the CEO's board minutes, one per autopilot cycle |
//! | [`ApprovalStore`] | the spending guard's approval queue |
//! | [`BusinessStore`] | products, campaigns, social posts, adapter state |
//! | [`LearningStore`] | experiences, patterns, market insights, agent memory |
//! | [`MediaStore`] | media files |
//! | [`MeteringStore`] | usage counters and LLM calls |
//! | [`ClusterStore`] | the nodes of a cluster and their leases on tenants' swarms |
//!
//! Both backends behave identically; the conformance suite (`memory/tests/conformance.rs`)
//! runs the same tests on each. Every tenant-owned read takes the tenant id, so a caller
//! can never read another tenant's rows by id alone.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::Value;
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

/// Everything Boardroom keeps: every interface of this module together. Implemented by
/// every type that implements them all; nothing implements it by hand.
pub trait Store:
    PlatformStore
    + AccountStore
    + TenantStore
    + EventStore
    + LedgerStore
    + ReportStore
    + ApprovalStore
    + BusinessStore
    + LearningStore
    + MediaStore
    + MeteringStore
    + ClusterStore
{
}

impl<T> Store for T where
    T: PlatformStore
        + AccountStore
        + TenantStore
        + EventStore
        + LedgerStore
        + ReportStore
        + ApprovalStore
        + BusinessStore
        + LearningStore
        + MediaStore
        + MeteringStore
        + ClusterStore
        + ?Sized
{
}

/// The cluster: which node runs each tenant's swarm (its lease), and the nodes
/// themselves. Every time is the database's clock in milliseconds, so nodes need not
/// agree on the time; durations are milliseconds too.
#[async_trait]
pub trait ClusterStore: Send + Sync + 'static {
    /// Claims `tenant`'s lease for `node` until `ttl_ms` from now. Granted when nobody
    /// holds a live lease (the epoch then grows by one) or `node` holds it already (the
    /// same epoch, renewed); otherwise answers who holds it. A tenant that does not
    /// exist is `NotFound`.
    async fn claim_lease(&self, tenant: TenantId, node: &str, ttl_ms: i64) -> MemoryResult<LeaseClaim>;

    /// Renews every lease that still names `node` until `ttl_ms` from now and answers
    /// them: the live ones, and those that lapsed but no node has claimed since (their
    /// epoch unchanged, so nobody else wrote under them). One another node claimed, or
    /// one handed back, is not renewed.
    async fn renew_leases(&self, node: &str, ttl_ms: i64) -> MemoryResult<Vec<Lease>>;

    /// Hands back `node`'s lease on `tenant` at `epoch` (it lapses now, its epoch
    /// kept). Answers whether it was still held.
    async fn release_lease(&self, tenant: TenantId, node: &str, epoch: i64) -> MemoryResult<bool>;

    /// Hands back every lease `node` holds; answers how many.
    async fn release_leases(&self, node: &str) -> MemoryResult<u64>;

    /// The tenant's lease as it stands, live or lapsed; `None` if never claimed.
    async fn lease(&self, tenant: TenantId) -> MemoryResult<Option<Lease>>;

    /// Every live lease, by node then tenant.
    async fn live_leases(&self) -> MemoryResult<Vec<Lease>>;

    /// Active tenants with autopilot on that no node holds a live lease on, lowest id
    /// first, at most `limit`.
    async fn unleased_autopilot_tenants(&self, limit: i64) -> MemoryResult<Vec<TenantId>>;

    /// Records a node joining (again): its row afresh, not draining, started now.
    async fn join_cluster(&self, beat: &NodeBeat) -> MemoryResult<()>;

    /// A node's heartbeat: updates its row (re-creating it if an operator forgot it)
    /// and answers whether it is asked to drain.
    async fn node_heartbeat(&self, beat: &NodeBeat) -> MemoryResult<bool>;

    /// A node leaving on purpose: hands back its leases and forgets its row. Answers
    /// how many leases it held.
    async fn leave_cluster(&self, node: &str) -> MemoryResult<u64>;

    /// Asks a node to drain (or stop draining). Answers whether the node is known.
    async fn set_node_draining(&self, node: &str, draining: bool) -> MemoryResult<bool>;

    /// The database's clock now and every known node, by name.
    async fn cluster_nodes(&self) -> MemoryResult<(i64, Vec<ClusterNode>)>;
}

/// The database as a whole, and what belongs to the platform rather than to a user or
/// a tenant.
#[async_trait]
pub trait PlatformStore: Send + Sync + 'static {
    /// Which database this is.
    fn backend(&self) -> Backend;

    /// Round-trips a trivial query; used by `/health`.
    async fn ping(&self) -> MemoryResult<()>;

    /// Waits for in-flight queries and closes the pool.
    async fn close(&self);

    /// Writes (replaces) a platform-wide setting, e.g. the run-time private-mode toggle.
    async fn set_platform_setting(&self, key: &str, value: &Value) -> MemoryResult<()>;
    /// Reads a platform-wide setting; `None` when never written.
    async fn platform_setting(&self, key: &str) -> MemoryResult<Option<Value>>;

    /// Remembers that `provider` delivered `delivery_id` at `received_at`; `true` when it
    /// was new, `false` when it was already remembered. One atomic insert: of any number
    /// of concurrent calls with the same id (in any number of processes) exactly one
    /// answers `true`. Deliveries remembered more than [`WEBHOOK_DELIVERY_RETENTION`]
    /// before `received_at` are forgotten first (the platforms stop retrying long before).
    async fn record_webhook_delivery(
        &self,
        provider: &str,
        delivery_id: &str,
        received_at: DateTime<Utc>,
    ) -> MemoryResult<bool>;
    /// Forgets a delivery, so the platform's retry is handled (when handling it failed).
    async fn forget_webhook_delivery(&self, provider: &str, delivery_id: &str) -> MemoryResult<()>;

    /// Counts over the whole platform; windowed counts start at `since`, API calls are
    /// those metered in `period` (`YYYY-MM`).
    async fn platform_stats(&self, since: DateTime<Utc>, period: &str) -> MemoryResult<PlatformStats>;
}

/// Users and how they sign in: accounts, API tokens, sessions, access controls, invites.
#[async_trait]
pub trait AccountStore: Send + Sync + 'static {
    // ---- users ----

    /// Creates a user; `Conflict("email")` when the address is taken (case-insensitive).
    async fn create_user(&self, user: NewUser) -> MemoryResult<User>;
    /// Creates a user, making them admin if and only if no admin exists yet — the first
    /// person to sign up runs the platform; accounts the system makes for itself (the
    /// demo tenant's owner, owners created from the command line) are plain users and
    /// do not take that place. Atomic: two concurrent first sign-ups yield exactly one
    /// admin.
    async fn create_user_first_is_admin(&self, user: NewUser) -> MemoryResult<User>;
    /// Looks a user up by id.
    async fn user(&self, id: UserId) -> MemoryResult<Option<User>>;
    /// Looks a user up by e-mail (case-insensitive).
    async fn user_by_email(&self, email: &str) -> MemoryResult<Option<User>>;
    /// Users ordered by id, after `after` (exclusive), at most `limit`.
    async fn list_users(&self, after: Option<UserId>, limit: i64) -> MemoryResult<Vec<User>>;
    /// How many users exist.
    async fn count_users(&self) -> MemoryResult<i64>;
    /// Whether any user is an admin.
    async fn admin_exists(&self) -> MemoryResult<bool>;
    /// Changes a user's role.
    async fn set_user_role(&self, id: UserId, role: Role) -> MemoryResult<()>;
    /// Changes a user's tier.
    async fn set_user_tier(&self, id: UserId, tier: Tier) -> MemoryResult<()>;
    /// Stamps a successful login.
    async fn touch_last_login(&self, id: UserId, at: DateTime<Utc>) -> MemoryResult<()>;
    /// Replaces a user's password hash (an Argon2id PHC string); `NotFound("user")` when
    /// there is no such user.
    async fn set_user_password_hash(&self, id: UserId, hash: &str) -> MemoryResult<()>;
    /// Deletes a user and, in the same transaction, everything that is theirs: tenants
    /// (with all their rows, see [`TenantStore::delete_tenant`]), API tokens, sessions,
    /// access controls and usage counters. Invites they made or used stay, without the
    /// link. `NotFound("user")` when there is no such user.
    async fn delete_user(&self, id: UserId) -> MemoryResult<()>;

    // ---- API tokens ----

    /// Stores a token (by its hash), stamped now. `Conflict("token")` when a token with
    /// the same hash exists, `NotFound("user")` when the owner does not exist.
    async fn create_api_token(&self, token: NewApiToken) -> MemoryResult<ApiToken>;
    /// The token with this hash, unless it has been revoked: what authenticates a request.
    async fn api_token_by_hash(&self, token_hash: &str) -> MemoryResult<Option<ApiToken>>;
    /// One user's tokens, revoked ones included (see [`ApiToken::revoked_at`]), ordered
    /// by id.
    async fn api_tokens(&self, user: UserId) -> MemoryResult<Vec<ApiToken>>;
    /// Revokes one of `user`'s tokens, stamped now. `NotFound("token")` when the user has
    /// no such token or it is already revoked.
    async fn revoke_api_token(&self, user: UserId, id: i64) -> MemoryResult<()>;
    /// Stamps a token's last use; `NotFound("token")` when there is no such token.
    async fn touch_api_token(&self, id: i64, at: DateTime<Utc>) -> MemoryResult<()>;

    // ---- sessions ----

    /// Writes a session, replacing the one with the same id (its `created_at` is kept).
    /// `NotFound("user")` when `user_id` names no user.
    async fn save_session(&self, session: &SessionRecord) -> MemoryResult<()>;
    /// The session with this id unless it has expired (`expires_at <= now`).
    async fn load_session(&self, id: &str, now: DateTime<Utc>) -> MemoryResult<Option<SessionRecord>>;
    /// Deletes a session; deleting one that does not exist is not an error (logging out
    /// twice is fine).
    async fn delete_session(&self, id: &str) -> MemoryResult<()>;
    /// Deletes every session expired at `now` (`expires_at <= now`); returns how many.
    async fn delete_expired_sessions(&self, now: DateTime<Utc>) -> MemoryResult<u64>;
    /// Deletes all of a user's sessions (logs them out everywhere); returns how many.
    async fn delete_user_sessions(&self, user: UserId) -> MemoryResult<u64>;

    // ---- access controls ----

    /// Sets the user's control of `control_type` to `control_value`, replacing the
    /// active one of that type (which keeps its id; `created_at` is stamped now), so a
    /// user has at most one active control per type. Atomic. `NotFound("user")` when
    /// there is no such user.
    async fn set_access_control(
        &self,
        user: UserId,
        control_type: &str,
        control_value: &str,
    ) -> MemoryResult<AccessControl>;
    /// The user's active controls, ordered by type (byte order).
    async fn access_controls(&self, user: UserId) -> MemoryResult<Vec<AccessControl>>;
    /// Deactivates the user's control of `control_type`; `NotFound("access_control")`
    /// when the user has no active control of that type.
    async fn remove_access_control(&self, user: UserId, control_type: &str) -> MemoryResult<()>;

    // ---- invites ----

    /// Creates an invite; `Conflict("code")` when the code exists.
    async fn create_invite(&self, invite: NewInvite) -> MemoryResult<Invite>;
    /// Takes one use of a code for `user`, atomically: two concurrent callers can never
    /// both take the last use. Refused with `InviteRejected`.
    async fn consume_invite(&self, code: &str, user: UserId, now: DateTime<Utc>) -> MemoryResult<Invite>;
    /// Checks a code without using it.
    async fn check_invite(&self, code: &str, now: DateTime<Utc>) -> MemoryResult<Invite>;
    /// Invites ordered by id.
    async fn list_invites(&self) -> MemoryResult<Vec<Invite>>;
}

/// Re-addresses a platform adapter's saved state (`platform`, the state) to another
/// tenant, for [`TenantStore::create_tenant_copy`]; the adapters know its format.
pub type RehomeAdapterState = dyn Fn(TenantId, &str, Value) -> MemoryResult<Option<Value>> + Send + Sync;

/// Tenants: the businesses users own.
#[async_trait]
pub trait TenantStore: Send + Sync + 'static {
    /// Creates a tenant for an existing user, with no limit on how many the user has
    /// (what the system makes: the demo tenant, `boardroom tenant create`): see
    /// [`TenantStore::create_tenant_within_limit`].
    async fn create_tenant(&self, tenant: NewTenant) -> MemoryResult<Tenant> {
        self.create_tenant_within_limit(tenant, None).await
    }
    /// Creates a tenant unless its user already has `limit` tenants (what a tier
    /// counts); then [`MemoryError::LimitReached`](crate::MemoryError::LimitReached)
    /// naming `businesses`, and nothing is written. The count and the insert are one
    /// transaction under a lock per user, so concurrent creations cannot squeeze past
    /// the limit. `None` is unlimited. `NotFound("user")` when the user does not exist.
    async fn create_tenant_within_limit(&self, tenant: NewTenant, limit: Option<u64>) -> MemoryResult<Tenant>;
    /// Like [`TenantStore::create_tenant_within_limit`], and the new tenant starts as a
    /// copy of `source` as its last completed cycle left it: products (not attached to
    /// a store), campaigns, social posts, the ledger, market insights, experiences,
    /// patterns, the board minutes (cycle reports), agent memory (but not the owner's price pins, which name the source's
    /// product ids), each platform adapter's state as `rehome` re-addresses it to the
    /// new tenant, and the checkpoint of that cycle. Not copied: the event log, media,
    /// LLM calls, stores, usage. One transaction: the copy is whole or absent.
    /// `Busy` when `source` is in the middle of a cycle (its rows would be half a
    /// cycle's); the source's next cycle waits for the copy. `rehome` answering `None`
    /// leaves that state out.
    async fn create_tenant_copy(
        &self,
        tenant: NewTenant,
        limit: Option<u64>,
        source: TenantId,
        rehome: &RehomeAdapterState,
    ) -> MemoryResult<Tenant>;
    /// Looks a tenant up by id.
    async fn tenant(&self, id: TenantId) -> MemoryResult<Option<Tenant>>;
    /// All tenants ordered by id, after `after` (exclusive), at most `limit`.
    async fn list_tenants(&self, after: Option<TenantId>, limit: i64) -> MemoryResult<Vec<Tenant>>;
    /// One user's tenants, ordered by id.
    async fn tenants_of_user(&self, user: UserId) -> MemoryResult<Vec<Tenant>>;
    /// Enables or disables a tenant.
    async fn set_tenant_active(&self, id: TenantId, active: bool) -> MemoryResult<()>;
    /// One user's tenants ordered by id, after `after` (exclusive), at most `limit`.
    async fn tenants_of_user_page(
        &self,
        user: UserId,
        after: Option<TenantId>,
        limit: i64,
    ) -> MemoryResult<Vec<Tenant>>;
    /// Applies `changes` to one of `owner`'s tenants and returns it as it now is.
    /// `NotFound("tenant")` when there is no such tenant or it is not `owner`'s (nothing
    /// is changed then).
    async fn update_tenant(&self, id: TenantId, owner: UserId, changes: TenantChanges) -> MemoryResult<Tenant>;
    /// Deletes one of `owner`'s tenants with everything that is the tenant's (events and
    /// their numbering, ledger, products, stores, campaigns, posts, experiences,
    /// patterns, insights, agent memory, checkpoint, adapter state, LLM calls, usage
    /// counters), in one transaction. `NotFound("tenant")` when there is no such tenant
    /// or it is not `owner`'s (nothing is deleted then).
    async fn delete_tenant(&self, id: TenantId, owner: UserId) -> MemoryResult<()>;
}

/// The swarm event log: gap-free, per-tenant numbered events.
#[async_trait]
pub trait EventStore: Send + Sync + 'static {
    /// Appends events in one transaction, giving each the next sequence number of its
    /// tenant. Numbers are gap-free and unique per tenant even when several processes
    /// append at once. Returns the stored events in input order.
    async fn append_events(&self, events: &[NewEvent]) -> MemoryResult<Vec<SwarmEvent>> {
        self.append_events_and_checkpoints(events, &[]).await
    }
    /// Appends events as [`EventStore::append_events`] does and, in the same
    /// transaction, writes (replaces) each checkpoint, in order: an autopilot step's
    /// checkpoint and the events that report it commit together or not at all, so a
    /// crash can neither lose the event of a step that is done nor leave an event for a
    /// step that is not.
    async fn append_events_and_checkpoints(
        &self,
        events: &[NewEvent],
        checkpoints: &[Checkpoint],
    ) -> MemoryResult<Vec<SwarmEvent>>;
    /// A tenant's events with `seq > after`, oldest first, at most `limit`.
    async fn events_after(&self, tenant: TenantId, after: i64, limit: i64) -> MemoryResult<Vec<SwarmEvent>>;
    /// The highest sequence number of a tenant (0 when it has no events).
    async fn last_event_seq(&self, tenant: TenantId) -> MemoryResult<i64>;
}

/// Money booked (the ledger, `profit_logs`) and where each autopilot cycle stands.
#[async_trait]
pub trait LedgerStore: Send + Sync + 'static {
    /// Books a ledger row; `Conflict("transaction_id")` when the tenant already booked
    /// that transaction id, so a retried platform call never books twice.
    async fn record_ledger_entry(&self, entry: NewLedgerEntry) -> MemoryResult<LedgerEntry>;
    /// Brings a series of rows up to `total.total`: books, as one row, what the total
    /// adds to the rows of `total.series` booked before (`None` when it adds nothing: the
    /// same total again, or a stale one nearer zero). Reading what was booked and booking
    /// the difference are one transaction under a lock per tenant, so concurrent reports
    /// of one growing total (Stripe's `amount_refunded`, delivered out of order) book
    /// exactly the largest, once. `NotFound("tenant")` when the tenant does not exist.
    async fn record_ledger_total(&self, total: NewLedgerTotal) -> MemoryResult<Option<LedgerEntry>>;
    /// A tenant's ledger rows recorded in `[from, to)`, oldest first.
    async fn ledger_entries(
        &self,
        tenant: TenantId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> MemoryResult<Vec<LedgerEntry>>;
    /// The tenant's ledger rows recorded in `[from, to)`, summed exactly per category,
    /// ordered by category (byte order). Categories without rows are absent.
    async fn ledger_totals(
        &self,
        tenant: TenantId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> MemoryResult<Vec<(String, Decimal)>>;

    /// Writes (replaces) the tenant's autopilot checkpoint.
    async fn save_checkpoint(&self, checkpoint: &Checkpoint) -> MemoryResult<()>;
    /// Reads the tenant's autopilot checkpoint.
    async fn checkpoint(&self, tenant: TenantId) -> MemoryResult<Option<Checkpoint>>;
}

/// The CEO's board minutes: one report per tenant and autopilot cycle, newest first.
#[async_trait]
pub trait ReportStore: Send + Sync + 'static {
    /// Writes the report of `report.cycle`, replacing one already written for the same
    /// tenant and cycle (a cycle resumed after a crash writes its report again; it never
    /// has two). `NotFound("tenant")` when the tenant does not exist.
    async fn save_cycle_report(&self, report: &CycleReport) -> MemoryResult<()>;
    /// The tenant's reports of cycles before `before` (all when `None`), newest cycle
    /// first, at most `limit`.
    async fn cycle_reports(&self, tenant: TenantId, before: Option<i64>, limit: i64) -> MemoryResult<Vec<CycleReport>>;
}

/// The spending guard's approval queue: actions of a swarm that wait for their owner.
#[async_trait]
pub trait ApprovalStore: Send + Sync + 'static {
    /// Asks for an approval, unless the tenant already asked for the same action
    /// (`action_key`): then that request is returned as it stands, whatever its status,
    /// and `false` says nothing new was asked. `NotFound("tenant")` when the tenant does
    /// not exist.
    async fn request_approval(&self, approval: NewApproval) -> MemoryResult<(Approval, bool)>;
    /// The tenant's approval requests, newest first, at most `limit`; only those with
    /// `status` when given.
    async fn approvals(
        &self,
        tenant: TenantId,
        status: Option<ApprovalStatus>,
        limit: i64,
    ) -> MemoryResult<Vec<Approval>>;
    /// The tenant whose swarm asked for approval `id`, if there is such a request. The
    /// caller checks that tenant is one it may act on before anything else.
    async fn approval_tenant(&self, id: i64) -> MemoryResult<Option<TenantId>>;
    /// Records the owner's answer to a pending request of `tenant` at `now`.
    /// Atomic: of two answers at once, one is recorded and the other finds it
    /// [`ApprovalAnswer::TooLate`]; so does an answer after the request expired (which
    /// marks it expired). `NotFound("approval")` when the tenant has no such request.
    async fn decide_approval(
        &self,
        tenant: TenantId,
        id: i64,
        decision: ApprovalDecision,
        by: UserId,
        now: DateTime<Utc>,
    ) -> MemoryResult<ApprovalAnswer>;
    /// Marks the tenant's pending requests that expired by `now` as expired, and
    /// returns them (each is returned by one call only).
    async fn expire_approvals(&self, tenant: TenantId, now: DateTime<Utc>) -> MemoryResult<Vec<Approval>>;
    /// Marks an approved request as carried out; `false` when it was not approved (or
    /// already done), so an action is only ever counted done once.
    async fn complete_approval(&self, tenant: TenantId, id: i64) -> MemoryResult<bool>;
}

/// What answering an approval request came to.
#[derive(Debug, Clone, PartialEq)]
pub enum ApprovalAnswer {
    /// The answer was recorded: the request as it now is.
    Recorded(Approval),
    /// The request was no longer pending (answered, expired or carried out): as it is.
    TooLate(Approval),
}

/// What a tenant's swarm sells and says: products, campaigns, social posts, and the
/// state its platform adapters keep.
#[async_trait]
pub trait BusinessStore: Send + Sync + 'static {
    // ---- products ----

    /// Creates a product with no limit on how many the tenant has: see
    /// [`BusinessStore::create_product_within_limit`].
    async fn create_product(&self, product: NewProduct) -> MemoryResult<Product> {
        self.create_product_within_limit(product, None).await
    }
    /// Creates a product unless the tenant already has `limit` products that are not
    /// `deleted` (what a tier counts); then
    /// [`MemoryError::LimitReached`](crate::MemoryError::LimitReached) and nothing is
    /// written. The count and the insert are one transaction under a lock per tenant, so
    /// concurrent creations cannot squeeze past the limit. `None` is unlimited.
    /// `NotFound("tenant")` when the tenant does not exist, `NotFound("store")` when
    /// `store_id` is not one of the tenant's stores.
    async fn create_product_within_limit(&self, product: NewProduct, limit: Option<u64>) -> MemoryResult<Product>;
    /// The tenant's products, ordered by id.
    async fn products(&self, tenant: TenantId) -> MemoryResult<Vec<Product>>;
    /// One of the tenant's products (`None` for another tenant's id).
    async fn product(&self, tenant: TenantId, id: i64) -> MemoryResult<Option<Product>>;
    /// Sets a product's price and stamps `updated_at`; `NotFound("product")` when the
    /// tenant has no such product.
    async fn update_product_price(&self, tenant: TenantId, id: i64, price: Decimal) -> MemoryResult<Product>;
    /// Records the platform's id of a published product and stamps `updated_at`;
    /// `NotFound("product")` when the tenant has no such product.
    async fn set_product_external_id(&self, tenant: TenantId, id: i64, external_id: &str) -> MemoryResult<()>;
    /// Changes a product's status and stamps `updated_at`; `NotFound("product")` when the
    /// tenant has no such product.
    async fn set_product_status(&self, tenant: TenantId, id: i64, status: &str) -> MemoryResult<()>;

    // ---- campaigns ----

    /// Creates a campaign with no limit on how many the tenant has: see
    /// [`BusinessStore::create_campaign_within_limit`].
    async fn create_campaign(&self, campaign: NewCampaign) -> MemoryResult<Campaign> {
        self.create_campaign_within_limit(campaign, None).await
    }
    /// Creates a campaign with nothing spent, unless the tenant already has `limit`
    /// campaigns (of any status); then
    /// [`MemoryError::LimitReached`](crate::MemoryError::LimitReached) and nothing is
    /// written. The count and the insert are one transaction under a lock per tenant, so
    /// concurrent creations cannot squeeze past the limit. `None` is unlimited.
    /// `NotFound("tenant")` when the tenant does not exist, `NotFound("product")` when
    /// `product_id` is not one of its products.
    async fn create_campaign_within_limit(&self, campaign: NewCampaign, limit: Option<u64>) -> MemoryResult<Campaign>;
    /// The tenant's campaigns, ordered by id.
    async fn campaigns(&self, tenant: TenantId) -> MemoryResult<Vec<Campaign>>;
    /// Adds `amount` to a campaign's spend, exactly and atomically (concurrent calls
    /// never lose an addition), and returns the campaign as it now is.
    /// `NotFound("campaign")` when the tenant has no such campaign.
    async fn add_campaign_spend(&self, tenant: TenantId, id: i64, amount: Decimal) -> MemoryResult<Campaign>;
    /// Changes a campaign's status; `NotFound("campaign")` when the tenant has no such
    /// campaign.
    async fn set_campaign_status(&self, tenant: TenantId, id: i64, status: &str) -> MemoryResult<()>;

    // ---- social posts ----

    /// Records a social post (with engagement 0). `NotFound("tenant")` when the tenant
    /// does not exist.
    async fn create_social_post(&self, post: NewSocialPost) -> MemoryResult<SocialPost>;
    /// The tenant's latest posts, newest (highest id) first, at most `limit`.
    async fn social_posts(&self, tenant: TenantId, limit: i64) -> MemoryResult<Vec<SocialPost>>;
    /// Sets a post's engagement score; `NotFound("post")` when the tenant has no such
    /// post.
    async fn set_post_engagement(&self, tenant: TenantId, id: i64, score: i64) -> MemoryResult<()>;

    // ---- adapter state ----

    /// Writes (replaces) what the tenant's adapter for `platform` keeps between calls.
    /// `NotFound("tenant")` when the tenant does not exist.
    async fn save_adapter_state(&self, tenant: TenantId, platform: &str, state: &Value) -> MemoryResult<()>;
    /// Reads what the tenant's adapter for `platform` saved; `None` when nothing.
    async fn adapter_state(&self, tenant: TenantId, platform: &str) -> MemoryResult<Option<Value>>;

    // ---- platform accounts ----

    /// Links an account on `platform` (a shop's domain, a Stripe account id) to the
    /// tenant, through its connected store `store_id`; linking it again to the same
    /// tenant updates the store. `Conflict("account")` when another tenant has it;
    /// `NotFound("tenant")` when the tenant does not exist.
    async fn link_platform_account(
        &self,
        platform: &str,
        account: &str,
        tenant: TenantId,
        store_id: &str,
        at: DateTime<Utc>,
    ) -> MemoryResult<()>;
    /// The tenant an account on `platform` is linked to, if any.
    async fn platform_account_tenant(&self, platform: &str, account: &str) -> MemoryResult<Option<TenantId>>;
}

/// What the swarm learns: experiences and the patterns folded from them, market
/// insights, and each agent's key-value memory.
#[async_trait]
pub trait LearningStore: Send + Sync + 'static {
    // ---- experiences and patterns ----

    /// Records what an agent did and how it went. `NotFound("tenant")` when the tenant
    /// does not exist.
    async fn record_experience(&self, experience: NewExperience) -> MemoryResult<Experience>;
    /// Records an experience and folds its outcome into its pattern (as
    /// [`LearningStore::record_pattern_outcome`] does) in one transaction, once per
    /// tenant and `key`: a second call with a key already recorded writes nothing and
    /// answers `None`, so a step retried after a crash cannot record its experience
    /// twice. `NotFound("tenant")` when the tenant does not exist.
    async fn record_experience_once(
        &self,
        key: &str,
        experience: NewExperience,
        outcome: PatternOutcome,
    ) -> MemoryResult<Option<SuccessfulPattern>>;
    /// The tenant's experiences, newest first, only of `action_type` when given, at most
    /// `limit`.
    async fn experiences(
        &self,
        tenant: TenantId,
        action_type: Option<&str>,
        limit: i64,
    ) -> MemoryResult<Vec<Experience>>;
    /// Folds one outcome into the tenant's pattern `(pattern_type, pattern_key)`, creating
    /// it on first use: one more use, one more success if `success`, `pattern_data`
    /// replaced, the running mean revenue updated (see [`SuccessfulPattern::avg_revenue`])
    /// and `last_used` stamped. Atomic: concurrent outcomes are all counted.
    /// `NotFound("tenant")` when the tenant does not exist.
    async fn record_pattern_outcome(
        &self,
        tenant: TenantId,
        pattern_type: &str,
        pattern_key: &str,
        pattern_data: Value,
        success: bool,
        revenue: Decimal,
    ) -> MemoryResult<SuccessfulPattern>;
    /// The tenant's patterns, only of `pattern_type` when given, best first (success rate,
    /// then mean revenue, both descending; then oldest first), at most `limit`.
    async fn patterns(
        &self,
        tenant: TenantId,
        pattern_type: Option<&str>,
        limit: i64,
    ) -> MemoryResult<Vec<SuccessfulPattern>>;

    // ---- market insights ----

    /// Writes the tenant's insight on a niche, replacing the earlier one (which keeps its
    /// id). `NotFound("tenant")` when the tenant does not exist.
    async fn upsert_market_insight(&self, insight: NewMarketInsight) -> MemoryResult<MarketInsight>;
    /// The tenant's market insights, ordered by niche (byte order).
    async fn market_insights(&self, tenant: TenantId) -> MemoryResult<Vec<MarketInsight>>;

    // ---- agent memory ----

    /// Writes `key` of `agent`'s memory, replacing content and score of an earlier write
    /// (which keeps its id and `created_at`) and stamping `last_accessed`.
    /// `NotFound("tenant")` when the tenant does not exist.
    async fn put_agent_memory(
        &self,
        tenant: TenantId,
        agent: &str,
        key: &str,
        content: Value,
        success_score: Option<Decimal>,
    ) -> MemoryResult<AgentMemory>;
    /// Reads `key` of `agent`'s memory and stamps its `last_accessed` (so this read is a
    /// write); `None` when never written.
    async fn agent_memory(&self, tenant: TenantId, agent: &str, key: &str) -> MemoryResult<Option<AgentMemory>>;
    /// All of `agent`'s memory, ordered by key (byte order), without stamping
    /// `last_accessed`.
    async fn agent_memories(&self, tenant: TenantId, agent: &str) -> MemoryResult<Vec<AgentMemory>>;
    /// Writes a new `key` into `agent`'s memory (stamped now, no score) unless the keys
    /// of `agent`'s memory that start with `counted_prefix` already number `limit`; then
    /// [`MemoryError::LimitReached`](crate::MemoryError::LimitReached) naming `agent`,
    /// and nothing is written. This is how a business's connected stores (namespace
    /// `stores`, keys `store:<id>`) are kept within its tier. The count and the insert
    /// are one transaction under a lock per tenant, so concurrent writers cannot squeeze
    /// past the limit. `None` is unlimited. `Conflict("agent_memory")` when `key` is
    /// already written, `NotFound("tenant")` when the tenant does not exist.
    async fn add_agent_memory_within_limit(
        &self,
        tenant: TenantId,
        agent: &str,
        key: &str,
        content: Value,
        counted_prefix: &str,
        limit: Option<u64>,
    ) -> MemoryResult<AgentMemory>;
    /// Forgets `key` of `agent`'s memory; whether it was written.
    async fn forget_agent_memory(&self, tenant: TenantId, agent: &str, key: &str) -> MemoryResult<bool>;
}

/// Files a tenant keeps, within its owner's storage quota: their records. The bytes
/// are in the media store ([`MediaLibrary`](crate::MediaLibrary) keeps both in step).
#[async_trait]
pub trait MediaStore: Send + Sync + 'static {
    /// Records a file whose bytes are already in the media store. With a `quota_bytes`,
    /// refuses ([`MemoryError::QuotaExceeded`](crate::MemoryError::QuotaExceeded)) a file
    /// that would take the total of the tenant owner's files, over all their tenants,
    /// past it; concurrent records cannot both squeeze under the quota.
    /// `NotFound("tenant")` for a missing tenant.
    async fn create_media_file(&self, file: NewMediaFile, quota_bytes: Option<i64>) -> MemoryResult<MediaFile>;
    /// A tenant's files, oldest first, without their bytes.
    async fn media_files(&self, tenant: TenantId) -> MemoryResult<Vec<MediaFile>>;
    /// One of a tenant's files and where its bytes are.
    async fn media_file_bytes(&self, tenant: TenantId, id: i64) -> MemoryResult<Option<(MediaFile, MediaBytes)>>;
    /// Deletes one of a tenant's files and returns where its bytes were, for the caller
    /// to delete them; `NotFound("file")` when it has no such file.
    async fn delete_media_file(&self, tenant: TenantId, id: i64) -> MemoryResult<MediaBytes>;
    /// Bytes the files of all of `user`'s tenants take.
    async fn media_bytes_of_user(&self, user: UserId) -> MemoryResult<i64>;
    /// Up to `limit` files whose bytes are still in the database, lowest id first.
    async fn media_files_in_database(&self, limit: i64) -> MemoryResult<Vec<DatabaseMediaFile>>;
    /// Points a file whose bytes were in the database at `object_key` and drops them
    /// from the database, in one statement; `false` when it had moved already (or is
    /// gone).
    async fn media_file_moved(&self, id: i64, object_key: &str) -> MemoryResult<bool>;
    /// Whether any file points at `object_key`.
    async fn media_object_in_use(&self, object_key: &str) -> MemoryResult<bool>;
}

/// What is counted against a tier: usage counters and LLM calls.
#[async_trait]
pub trait MeteringStore: Send + Sync + 'static {
    /// Adds `amount` to a counter for a period (e.g. `api_calls`, `2026-11`) and returns
    /// the new total, atomically.
    async fn add_usage(&self, subject: UsageSubject, counter: &str, period: &str, amount: i64) -> MemoryResult<i64>;
    /// Reads a counter (0 when never written).
    async fn usage(&self, subject: UsageSubject, counter: &str, period: &str) -> MemoryResult<i64>;

    /// Records one LLM call, stamped now. `NotFound("tenant")` when the tenant does not
    /// exist.
    async fn record_llm_call(&self, call: NewLlmCall) -> MemoryResult<()>;
    /// The tenant's LLM calls recorded at or after `since`, summed per agent and model,
    /// ordered by agent then model (byte order).
    async fn llm_token_totals(&self, tenant: TenantId, since: DateTime<Utc>) -> MemoryResult<Vec<LlmTokenTotal>>;
}

/// How long a webhook delivery id is remembered: longer than the platforms retry
/// (Stripe 3 days, Shopify 2 days).
pub const WEBHOOK_DELIVERY_RETENTION: chrono::TimeDelta = chrono::TimeDelta::days(7);

/// A store shared across tasks.
pub type SharedStore = Arc<dyn Store>;
