//! Reading rows into the model, naming refused writes, the column lists, and the small
//! rules (e-mail normalisation, timestamp precision, invite validity, sequence
//! numbering) of the SQL store (`sql/`).
//!
//! Money is read back as exact text on both backends: SQLite stores it as text,
//! PostgreSQL as `NUMERIC` that the column lists cast to text (`cast(amount as text)`).
//! sqlx's own `Decimal` codec for PostgreSQL drops the scale of zero ("0.00" comes back
//! as "0"), and the text form is exact for every value, so both backends read money the
//! same way, through [`parse_money`].

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, SubsecRound, Utc};
use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::Value;
use sqlx::types::Json;
use sqlx::{ColumnIndex, Decode, Row, Type};

use crate::model::*;
use crate::{InviteRejection, MemoryError, MemoryResult};

// Column lists, as macros so they can be `concat!`ed into `&'static str` query text.

macro_rules! user_columns {
    () => {
        "id, email, password_hash, role, tier, created_at, last_login"
    };
}
macro_rules! tenant_columns {
    () => {
        "id, user_id, name, domain, personality, settings, is_active, created_at"
    };
}
// Money columns are read as text (see the module docs).
macro_rules! event_columns {
    () => {
        "tenant_id, seq, occurred_at, actor, kind, summary, data, cast(revenue_impact as text) as revenue_impact"
    };
}
macro_rules! ledger_columns {
    () => {
        "id, tenant_id, source, cast(amount as text) as amount, category, transaction_id, metadata, recorded_at"
    };
}
macro_rules! invite_columns {
    () => {
        "id, code, created_by, used_by, uses_remaining, expires_at, is_active, created_at, used_at"
    };
}
macro_rules! checkpoint_columns {
    () => {
        "tenant_id, cycle, step, state, updated_at"
    };
}
macro_rules! cycle_report_columns {
    () => {
        "tenant_id, cycle, headline, minutes, data, source, written_at"
    };
}
macro_rules! approval_columns {
    () => {
        "id, tenant_id, action_key, kind, summary, cast(amount as text) as amount, expected, action, status, \
         requested_at, expires_at, decided_at, decided_by"
    };
}
macro_rules! product_columns {
    () => {
        "id, tenant_id, store_id, niche, title, description, tags, cast(price as text) as price, \
         cast(cost as text) as cost, currency, status, external_id, created_at, updated_at"
    };
}
macro_rules! campaign_columns {
    () => {
        "id, tenant_id, product_id, name, channel, cast(budget as text) as budget, \
         cast(spent as text) as spent, status, external_id, created_at"
    };
}
macro_rules! social_post_columns {
    () => {
        "id, tenant_id, platform, content, media_urls, scheduled_time, status, external_id, posted_at, engagement_score"
    };
}
macro_rules! experience_columns {
    () => {
        "id, tenant_id, action_type, context, result, success, \
         cast(revenue_generated as text) as revenue_generated, lessons_learned, created_at"
    };
}
macro_rules! pattern_columns {
    () => {
        "id, tenant_id, pattern_type, pattern_key, pattern_data, usage_count, success_count, \
         success_rate, cast(avg_revenue as text) as avg_revenue, last_used"
    };
}
macro_rules! market_insight_columns {
    () => {
        "id, tenant_id, niche, trend_data, performance_data, optimal_pricing, best_times, last_updated"
    };
}
macro_rules! agent_memory_columns {
    () => {
        "id, tenant_id, agent_type, memory_type, content, cast(success_score as text) as success_score, \
         created_at, last_accessed"
    };
}
macro_rules! api_token_columns {
    () => {
        "id, user_id, name, created_at, last_used_at, revoked_at"
    };
}
macro_rules! session_columns {
    () => {
        "id, user_id, data, expires_at"
    };
}
macro_rules! access_control_columns {
    () => {
        "id, user_id, control_type, control_value, is_active, created_at"
    };
}
pub(crate) use {
    access_control_columns, agent_memory_columns, api_token_columns, approval_columns, campaign_columns,
    checkpoint_columns, cycle_report_columns, event_columns, experience_columns, invite_columns, ledger_columns,
    market_insight_columns, pattern_columns, product_columns, session_columns, social_post_columns, tenant_columns,
    user_columns,
};

/// Reads one column of any sqlx row, with errors as [`MemoryError::Corrupt`] naming it.
fn get<'r, R, T>(row: &'r R, name: &str) -> MemoryResult<T>
where
    R: Row,
    for<'n> &'n str: ColumnIndex<R>,
    T: Decode<'r, R::Database> + Type<R::Database>,
{
    row.try_get(name).map_err(|error| MemoryError::Corrupt(format!("column {name}: {error}")))
}

/// Parses money stored as text; anything but an exact decimal is corruption.
pub(crate) fn parse_money(text: &str) -> MemoryResult<Decimal> {
    Decimal::from_str_exact(text).map_err(|error| MemoryError::Corrupt(format!("money {text:?}: {error}")))
}

/// Typed access to the columns the model is made of, for any sqlx row type.
pub(crate) trait ModelRow {
    fn int(&self, name: &str) -> MemoryResult<i64>;
    fn opt_int(&self, name: &str) -> MemoryResult<Option<i64>>;
    fn int32(&self, name: &str) -> MemoryResult<i32>;
    fn text(&self, name: &str) -> MemoryResult<String>;
    fn opt_text(&self, name: &str) -> MemoryResult<Option<String>>;
    fn time(&self, name: &str) -> MemoryResult<DateTime<Utc>>;
    fn opt_time(&self, name: &str) -> MemoryResult<Option<DateTime<Utc>>>;
    fn flag(&self, name: &str) -> MemoryResult<bool>;
    fn opt_flag(&self, name: &str) -> MemoryResult<Option<bool>>;
    fn float(&self, name: &str) -> MemoryResult<f64>;
    fn json(&self, name: &str) -> MemoryResult<Value>;
    fn opt_json(&self, name: &str) -> MemoryResult<Option<Value>>;
    fn bytes(&self, name: &str) -> MemoryResult<Vec<u8>>;
    /// A money column selected as text (see the module docs).
    fn money(&self, name: &str) -> MemoryResult<Decimal> {
        parse_money(&self.text(name)?)
    }
    /// A nullable money column selected as text.
    fn opt_money(&self, name: &str) -> MemoryResult<Option<Decimal>> {
        self.opt_text(name)?.as_deref().map(parse_money).transpose()
    }
}

impl<R> ModelRow for R
where
    R: Row,
    for<'n> &'n str: ColumnIndex<R>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i32: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> bool: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> f64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> DateTime<Utc>: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> Json<Value>: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> Vec<u8>: Decode<'r, R::Database> + Type<R::Database>,
{
    fn int(&self, name: &str) -> MemoryResult<i64> {
        get(self, name)
    }
    fn opt_int(&self, name: &str) -> MemoryResult<Option<i64>> {
        get(self, name)
    }
    fn int32(&self, name: &str) -> MemoryResult<i32> {
        get(self, name)
    }
    fn text(&self, name: &str) -> MemoryResult<String> {
        get(self, name)
    }
    fn opt_text(&self, name: &str) -> MemoryResult<Option<String>> {
        get(self, name)
    }
    fn time(&self, name: &str) -> MemoryResult<DateTime<Utc>> {
        get(self, name)
    }
    fn opt_time(&self, name: &str) -> MemoryResult<Option<DateTime<Utc>>> {
        get(self, name)
    }
    fn flag(&self, name: &str) -> MemoryResult<bool> {
        get(self, name)
    }
    fn opt_flag(&self, name: &str) -> MemoryResult<Option<bool>> {
        get(self, name)
    }
    fn float(&self, name: &str) -> MemoryResult<f64> {
        get(self, name)
    }
    fn json(&self, name: &str) -> MemoryResult<Value> {
        get::<_, Json<Value>>(self, name).map(|json| json.0)
    }
    fn opt_json(&self, name: &str) -> MemoryResult<Option<Value>> {
        get::<_, Option<Json<Value>>>(self, name).map(|json| json.map(|json| json.0))
    }
    fn bytes(&self, name: &str) -> MemoryResult<Vec<u8>> {
        get(self, name)
    }
}

// ---- rows into the model ----

pub(crate) fn user(row: &impl ModelRow) -> MemoryResult<User> {
    Ok(User {
        id: UserId(row.int("id")?),
        email: row.text("email")?,
        password_hash: row.text("password_hash")?,
        role: row.text("role")?.parse()?,
        tier: row.text("tier")?.parse()?,
        created_at: row.time("created_at")?,
        last_login: row.opt_time("last_login")?,
    })
}

pub(crate) fn tenant(row: &impl ModelRow) -> MemoryResult<Tenant> {
    Ok(Tenant {
        id: TenantId(row.int("id")?),
        user_id: UserId(row.int("user_id")?),
        name: row.text("name")?,
        domain: row.opt_text("domain")?,
        personality: row.text("personality")?,
        settings: row.json("settings")?,
        is_active: row.flag("is_active")?,
        created_at: row.time("created_at")?,
    })
}

pub(crate) fn event(row: &impl ModelRow) -> MemoryResult<SwarmEvent> {
    Ok(SwarmEvent {
        tenant_id: TenantId(row.int("tenant_id")?),
        seq: row.int("seq")?,
        occurred_at: row.time("occurred_at")?,
        actor: row.text("actor")?,
        kind: row.text("kind")?,
        summary: row.text("summary")?,
        data: row.json("data")?,
        revenue_impact: row.opt_money("revenue_impact")?,
    })
}

pub(crate) fn ledger_entry(row: &impl ModelRow) -> MemoryResult<LedgerEntry> {
    Ok(LedgerEntry {
        id: row.int("id")?,
        tenant_id: TenantId(row.int("tenant_id")?),
        source: row.text("source")?,
        amount: row.money("amount")?,
        category: row.text("category")?,
        transaction_id: row.opt_text("transaction_id")?,
        metadata: row.json("metadata")?,
        recorded_at: row.time("recorded_at")?,
    })
}

pub(crate) fn invite(row: &impl ModelRow) -> MemoryResult<Invite> {
    Ok(Invite {
        id: row.int("id")?,
        code: row.text("code")?,
        created_by: row.opt_int("created_by")?.map(UserId),
        used_by: row.opt_int("used_by")?.map(UserId),
        uses_remaining: row.int32("uses_remaining")?,
        expires_at: row.opt_time("expires_at")?,
        is_active: row.flag("is_active")?,
        created_at: row.time("created_at")?,
        used_at: row.opt_time("used_at")?,
    })
}

pub(crate) fn checkpoint(row: &impl ModelRow) -> MemoryResult<Checkpoint> {
    Ok(Checkpoint {
        tenant_id: TenantId(row.int("tenant_id")?),
        cycle: row.int("cycle")?,
        step: row.text("step")?,
        state: row.json("state")?,
        updated_at: row.time("updated_at")?,
    })
}

pub(crate) fn cycle_report(row: &impl ModelRow) -> MemoryResult<CycleReport> {
    Ok(CycleReport {
        tenant_id: TenantId(row.int("tenant_id")?),
        cycle: row.int("cycle")?,
        headline: row.text("headline")?,
        minutes: row.text("minutes")?,
        data: row.json("data")?,
        source: row.text("source")?,
        written_at: row.time("written_at")?,
    })
}

pub(crate) fn approval(row: &impl ModelRow) -> MemoryResult<Approval> {
    let status = row.text("status")?;
    Ok(Approval {
        id: row.int("id")?,
        tenant_id: TenantId(row.int("tenant_id")?),
        action_key: row.text("action_key")?,
        kind: row.text("kind")?,
        summary: row.text("summary")?,
        amount: row.money("amount")?,
        expected: row.json("expected")?,
        action: row.json("action")?,
        status: ApprovalStatus::parse(&status)
            .ok_or_else(|| MemoryError::Corrupt(format!("approval status {status:?}")))?,
        requested_at: row.time("requested_at")?,
        expires_at: row.time("expires_at")?,
        decided_at: row.opt_time("decided_at")?,
        decided_by: row.opt_int("decided_by")?.map(UserId),
    })
}

pub(crate) fn product(row: &impl ModelRow) -> MemoryResult<Product> {
    Ok(Product {
        id: row.int("id")?,
        tenant_id: TenantId(row.int("tenant_id")?),
        store_id: row.opt_int("store_id")?,
        niche: row.text("niche")?,
        title: row.text("title")?,
        description: row.opt_text("description")?.unwrap_or_default(),
        tags: tags(row.json("tags")?)?,
        price: row.money("price")?,
        cost: row.opt_money("cost")?.unwrap_or(Decimal::ZERO),
        currency: row.text("currency")?,
        status: row.text("status")?,
        external_id: row.opt_text("external_id")?,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
    })
}

/// Tags are stored as a JSON array of strings.
fn tags(value: Value) -> MemoryResult<Vec<String>> {
    serde_json::from_value(value).map_err(|error| MemoryError::Corrupt(format!("product tags: {error}")))
}

pub(crate) fn campaign(row: &impl ModelRow) -> MemoryResult<Campaign> {
    Ok(Campaign {
        id: row.int("id")?,
        tenant_id: TenantId(row.int("tenant_id")?),
        product_id: row.opt_int("product_id")?,
        name: row.text("name")?,
        channel: row.text("channel")?,
        budget: row.money("budget")?,
        spent: row.money("spent")?,
        status: row.text("status")?,
        external_id: row.opt_text("external_id")?,
        created_at: row.time("created_at")?,
    })
}

pub(crate) fn social_post(row: &impl ModelRow) -> MemoryResult<SocialPost> {
    Ok(SocialPost {
        id: row.int("id")?,
        tenant_id: TenantId(row.int("tenant_id")?),
        platform: row.text("platform")?,
        content: row.text("content")?,
        media_urls: serde_json::from_value(row.json("media_urls")?)
            .map_err(|error| MemoryError::Corrupt(format!("a post's media: {error}")))?,
        scheduled_time: row.opt_time("scheduled_time")?,
        status: row.text("status")?,
        external_id: row.opt_text("external_id")?,
        posted_at: row.opt_time("posted_at")?,
        engagement_score: row.int("engagement_score")?,
    })
}

pub(crate) fn experience(row: &impl ModelRow) -> MemoryResult<Experience> {
    Ok(Experience {
        id: row.int("id")?,
        tenant_id: TenantId(row.int("tenant_id")?),
        action_type: row.text("action_type")?,
        context: row.opt_json("context")?.unwrap_or(Value::Null),
        result: row.opt_json("result")?.unwrap_or(Value::Null),
        success: row.opt_flag("success")?.unwrap_or(false),
        revenue: row.opt_money("revenue_generated")?.unwrap_or(Decimal::ZERO),
        lessons: row.opt_text("lessons_learned")?.unwrap_or_default(),
        created_at: row.time("created_at")?,
    })
}

pub(crate) fn pattern(row: &impl ModelRow) -> MemoryResult<SuccessfulPattern> {
    Ok(SuccessfulPattern {
        id: row.int("id")?,
        tenant_id: TenantId(row.int("tenant_id")?),
        pattern_type: row.text("pattern_type")?,
        pattern_key: row.text("pattern_key")?,
        pattern_data: row.opt_json("pattern_data")?.unwrap_or(Value::Null),
        usage_count: row.int("usage_count")?,
        success_count: row.int("success_count")?,
        success_rate: row.float("success_rate")?,
        avg_revenue: row.money("avg_revenue")?,
        last_used: row.time("last_used")?,
    })
}

pub(crate) fn market_insight(row: &impl ModelRow) -> MemoryResult<MarketInsight> {
    let json = |name| row.opt_json(name).map(|value| value.unwrap_or(Value::Null));
    Ok(MarketInsight {
        id: row.int("id")?,
        tenant_id: TenantId(row.int("tenant_id")?),
        niche: row.text("niche")?,
        trend_data: json("trend_data")?,
        performance_data: json("performance_data")?,
        optimal_pricing: json("optimal_pricing")?,
        best_times: json("best_times")?,
        last_updated: row.time("last_updated")?,
    })
}

pub(crate) fn agent_memory(row: &impl ModelRow) -> MemoryResult<AgentMemory> {
    Ok(AgentMemory {
        id: row.int("id")?,
        tenant_id: TenantId(row.int("tenant_id")?),
        agent: row.text("agent_type")?,
        key: row.text("memory_type")?,
        content: memory_content(&row.text("content")?)?,
        success_score: row.opt_money("success_score")?,
        created_at: row.time("created_at")?,
        last_accessed: row.time("last_accessed")?,
    })
}

/// `agent_memory.content` is a text column on both backends (0001 made it so) that
/// holds JSON text; this reads it back.
fn memory_content(text: &str) -> MemoryResult<Value> {
    serde_json::from_str(text).map_err(|error| MemoryError::Corrupt(format!("agent memory content: {error}")))
}

pub(crate) fn platform_stats(row: &impl ModelRow) -> MemoryResult<PlatformStats> {
    Ok(PlatformStats {
        users: row.int("users")?,
        admins: row.int("admins")?,
        free_users: row.int("free_users")?,
        pro_users: row.int("pro_users")?,
        enterprise_users: row.int("enterprise_users")?,
        new_users: row.int("new_users")?,
        active_users: row.int("active_users")?,
        businesses: row.int("businesses")?,
        active_businesses: row.int("active_businesses")?,
        products: row.int("products")?,
        stores: row.int("stores")?,
        campaigns: row.int("campaigns")?,
        events: row.int("events")?,
        llm_calls: row.int("llm_calls")?,
        llm_tokens: row.int("llm_tokens")?,
        api_calls: row.int("api_calls")?,
    })
}

/// The columns of a [`MediaFile`] (its bytes are selected only when asked for).
macro_rules! media_columns {
    () => {
        "id, tenant_id, name, content_type, size_bytes, sha256, created_at"
    };
}
pub(crate) use media_columns;

pub(crate) fn media_file(row: &impl ModelRow) -> MemoryResult<MediaFile> {
    Ok(MediaFile {
        id: row.int("id")?,
        tenant_id: TenantId(row.int("tenant_id")?),
        name: row.text("name")?,
        content_type: row.text("content_type")?,
        size_bytes: row.int("size_bytes")?,
        sha256: row.text("sha256")?,
        created_at: row.time("created_at")?,
    })
}

pub(crate) fn llm_token_total(row: &impl ModelRow) -> MemoryResult<LlmTokenTotal> {
    Ok(LlmTokenTotal {
        agent: row.text("agent")?,
        model: row.text("model")?,
        calls: row.int("calls")?,
        prompt_tokens: row.int("prompt_tokens")?,
        completion_tokens: row.int("completion_tokens")?,
    })
}

pub(crate) fn api_token(row: &impl ModelRow) -> MemoryResult<ApiToken> {
    Ok(ApiToken {
        id: row.int("id")?,
        user_id: UserId(row.int("user_id")?),
        name: row.text("name")?,
        created_at: row.time("created_at")?,
        last_used_at: row.opt_time("last_used_at")?,
        revoked_at: row.opt_time("revoked_at")?,
    })
}

pub(crate) fn session(row: &impl ModelRow) -> MemoryResult<SessionRecord> {
    Ok(SessionRecord {
        id: row.text("id")?,
        user_id: row.opt_int("user_id")?.map(UserId),
        data: row.json("data")?,
        expires_at: row.time("expires_at")?,
    })
}

pub(crate) fn access_control(row: &impl ModelRow) -> MemoryResult<AccessControl> {
    Ok(AccessControl {
        id: row.int("id")?,
        user_id: UserId(row.int("user_id")?),
        control_type: row.text("control_type")?,
        control_value: row.text("control_value")?,
        is_active: row.flag("is_active")?,
        created_at: row.time("created_at")?,
    })
}

// ---- rules both backends follow ----

/// How e-mail addresses are stored and looked up: trimmed and lower-cased.
pub(crate) fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// Timestamps are kept to the microsecond: PostgreSQL's precision, applied on SQLite
/// too so both backends hand back exactly what they store. They are also clamped to the
/// years 1 to 9999: chrono reaches far wider (`DateTime::<Utc>::MIN_UTC` is in year
/// -262143), PostgreSQL refuses a timestamp before 4713 BC ("timestamp out of range"),
/// and SQLite's text timestamps only sort correctly with four-digit years. So an
/// "all time" range written as `MIN_UTC..MAX_UTC` works on both backends.
pub(crate) fn stored_time(at: DateTime<Utc>) -> DateTime<Utc> {
    at.clamp(earliest_stored_time(), latest_stored_time()).trunc_subsecs(6)
}

/// The earliest instant the store keeps: 0001-01-01T00:00:00Z.
fn earliest_stored_time() -> DateTime<Utc> {
    DateTime::from_timestamp(-62_135_596_800, 0).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// The latest instant the store keeps: 9999-12-31T23:59:59.999999Z.
fn latest_stored_time() -> DateTime<Utc> {
    DateTime::from_timestamp(253_402_300_799, 999_999_000).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// The role `create_user_first_is_admin` grants: admin for the very first account only.
pub(crate) fn first_user_role(admin_exists: bool) -> Role {
    if admin_exists { Role::User } else { Role::Admin }
}

/// Why an invite cannot be used at `now`, or `None` when it can.
pub(crate) fn invite_refusal(invite: &Invite, now: DateTime<Utc>) -> Option<InviteRejection> {
    if !invite.is_active {
        Some(InviteRejection::Inactive)
    } else if invite.expires_at.is_some_and(|expires| expires <= stored_time(now)) {
        Some(InviteRejection::Expired)
    } else if invite.uses_remaining <= 0 {
        Some(InviteRejection::Exhausted)
    } else {
        None
    }
}

/// `usage_counters.subject_kind` of a user's counters.
pub(crate) const USER_USAGE: &str = "user";
/// `usage_counters.subject_kind` of a tenant's counters.
pub(crate) const TENANT_USAGE: &str = "tenant";

/// How a usage subject is keyed in `usage_counters`.
pub(crate) fn usage_key(subject: UsageSubject) -> (&'static str, i64) {
    match subject {
        UsageSubject::User(user) => (USER_USAGE, user.0),
        UsageSubject::Tenant(tenant) => (TENANT_USAGE, tenant.0),
    }
}

/// Turns a refused write into the error the trait promises: a unique violation is a
/// `Conflict` naming the duplicated thing, a foreign-key violation is a `NotFound`
/// naming the missing parent.
pub(crate) fn write_error(error: sqlx::Error, unique: &str, parent: &str) -> MemoryError {
    match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() => MemoryError::Conflict(unique.to_owned()),
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => MemoryError::NotFound(parent.to_owned()),
        _ => MemoryError::Database(error),
    }
}

/// Why an insert guarded by "the parent belongs to this tenant" wrote nothing: the tenant
/// itself is missing, or the parent (`store`, `product`) is not one of the tenant's.
pub(crate) fn missing_parent(tenant_exists: bool, parent: &str) -> MemoryError {
    MemoryError::NotFound(if tenant_exists { parent } else { "tenant" }.to_owned())
}

/// Refuses ([`MemoryError::LimitReached`]) one more of `what` when the tenant already
/// has `count` of them and may have at most `limit`.
pub(crate) fn within_limit(count: i64, limit: u64, what: &str) -> MemoryResult<()> {
    // A count is never negative; were it, it would be under any limit.
    if u64::try_from(count).unwrap_or(0) >= limit {
        return Err(MemoryError::LimitReached { what: what.to_owned(), limit });
    }
    Ok(())
}

/// `posted_at` of a new social post: a post created as already `posted` went out now.
pub(crate) fn posted_at_on_creation(status: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    (status == "posted").then_some(now)
}

/// `a + b`, exactly, or `OutOfRange(what)`.
pub(crate) fn add_money(a: Decimal, b: Decimal, what: &str) -> MemoryResult<Decimal> {
    a.checked_add(b).ok_or_else(|| MemoryError::OutOfRange(what.to_owned()))
}

/// A pattern's counts after one more recorded outcome.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct PatternStats {
    pub(crate) usage_count: i64,
    pub(crate) success_count: i64,
    pub(crate) success_rate: f64,
    pub(crate) avg_revenue: Decimal,
}

/// Decimal places of a pattern's mean revenue.
const AVG_REVENUE_DP: u32 = 4;

/// Folds one outcome into a pattern's counts (`usage_count` 0 for a new pattern). The
/// mean is a running mean in exact decimals, `(avg × (n − 1) + revenue) / n`, rounded to
/// [`AVG_REVENUE_DP`] places half away from zero; the rate is a ratio of exact counts.
pub(crate) fn next_pattern_stats(
    usage_count: i64,
    success_count: i64,
    avg_revenue: Decimal,
    success: bool,
    revenue: Decimal,
) -> MemoryResult<PatternStats> {
    let out_of_range = || MemoryError::OutOfRange("pattern usage".to_owned());
    let usage_count = usage_count.checked_add(1).ok_or_else(out_of_range)?;
    let success_count = success_count + i64::from(success);
    let out_of_range = || MemoryError::OutOfRange("pattern avg_revenue".to_owned());
    let avg_revenue = avg_revenue
        .checked_mul(Decimal::from(usage_count - 1))
        .and_then(|total| total.checked_add(revenue))
        .and_then(|total| total.checked_div(Decimal::from(usage_count)))
        .ok_or_else(out_of_range)?
        .round_dp_with_strategy(AVG_REVENUE_DP, RoundingStrategy::MidpointAwayFromZero);
    Ok(PatternStats {
        usage_count,
        success_count,
        // Both counts are far below 2^53, so each converts exactly and the quotient is
        // the correctly rounded ratio (7 of 10 gives exactly 0.7).
        success_rate: success_count as f64 / usage_count as f64,
        avg_revenue,
    })
}

/// The order `patterns` lists in: success rate, then mean revenue, both highest first,
/// then oldest first. Sorted here, not in SQL: SQLite's money is text.
pub(crate) fn rank_patterns(patterns: &mut [SuccessfulPattern]) {
    patterns.sort_by(|a, b| {
        b.success_rate
            .total_cmp(&a.success_rate)
            .then_with(|| b.avg_revenue.cmp(&a.avg_revenue))
            .then_with(|| a.id.cmp(&b.id))
    });
}

/// Sums ledger amounts per category, exactly, ordered by category (byte order).
pub(crate) fn ledger_totals(
    amounts: impl IntoIterator<Item = (String, Decimal)>,
) -> MemoryResult<Vec<(String, Decimal)>> {
    let mut totals: BTreeMap<String, Decimal> = BTreeMap::new();
    for (category, amount) in amounts {
        let total = totals.entry(category).or_insert(Decimal::ZERO);
        *total = add_money(*total, amount, "ledger total")?;
    }
    Ok(totals.into_iter().collect())
}

/// The `domain` column after `changes`: whether to write it, and the value to write
/// (`None` writes null), bound into `case when $2 then $3 else domain end`.
pub(crate) fn domain_change(changes: &TenantChanges) -> (bool, Option<&str>) {
    match &changes.domain {
        None => (false, None),
        Some(domain) => (true, domain.as_deref()),
    }
}

/// `NotFound(what)` when an `UPDATE` touched no row.
pub(crate) fn expect_one(rows_affected: u64, what: &str) -> MemoryResult<()> {
    if rows_affected == 0 { Err(MemoryError::NotFound(what.to_owned())) } else { Ok(()) }
}

/// How many events each tenant of a batch appends, in tenant order: reserving the
/// numbers tenant by tenant in one order is what keeps concurrent PostgreSQL appenders
/// from deadlocking on each other's `event_sequences` rows.
pub(crate) fn events_per_tenant(events: &[NewEvent]) -> Vec<(TenantId, i64)> {
    let mut counts = BTreeMap::new();
    for event in events {
        *counts.entry(event.tenant_id).or_insert(0_i64) += 1;
    }
    counts.into_iter().collect()
}

/// Numbers a batch given each tenant's last reserved number (`last_seq` after the
/// reservation of `counts`): a tenant's events get consecutive numbers in input order.
/// Returns the events in input order.
pub(crate) fn number_events(
    events: &[NewEvent],
    counts: &[(TenantId, i64)],
    last_seq: &HashMap<TenantId, i64>,
) -> MemoryResult<Vec<SwarmEvent>> {
    let mut next = HashMap::with_capacity(counts.len());
    for (tenant, count) in counts {
        let last = last_seq
            .get(tenant)
            .ok_or_else(|| MemoryError::Corrupt(format!("no sequence numbers were reserved for tenant {tenant}")))?;
        next.insert(*tenant, last - count + 1);
    }
    events
        .iter()
        .map(|event| {
            let seq = next
                .get_mut(&event.tenant_id)
                .ok_or_else(|| MemoryError::Corrupt(format!("tenant {} missing from the batch", event.tenant_id)))?;
            let numbered = SwarmEvent {
                tenant_id: event.tenant_id,
                seq: *seq,
                occurred_at: stored_time(event.occurred_at),
                actor: event.actor.clone(),
                kind: event.kind.clone(),
                summary: event.summary.clone(),
                data: event.data.clone(),
                revenue_impact: event.revenue_impact,
            };
            *seq += 1;
            Ok(numbered)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_text_must_be_an_exact_decimal() {
        assert_eq!(parse_money("-0.10").map(|d| d.to_string()).ok().as_deref(), Some("-0.10"));
        assert!(matches!(parse_money("12abc"), Err(MemoryError::Corrupt(_))));
        assert!(matches!(parse_money(""), Err(MemoryError::Corrupt(_))));
    }

    fn money(text: &str) -> Decimal {
        parse_money(text).expect("decimal")
    }

    #[test]
    fn a_pattern_mean_is_a_running_mean_rounded_to_four_places_half_away_from_zero() {
        let first = next_pattern_stats(0, 0, Decimal::ZERO, true, money("10.00")).expect("first");
        assert_eq!((first.usage_count, first.success_count, first.success_rate), (1, 1, 1.0));
        assert_eq!(first.avg_revenue, money("10"));
        let second = next_pattern_stats(1, 1, first.avg_revenue, false, money("0")).expect("2nd");
        assert_eq!((second.usage_count, second.success_count), (2, 1));
        assert_eq!(second.success_rate, 0.5);
        assert_eq!(second.avg_revenue, money("5"));
        let third = next_pattern_stats(2, 1, second.avg_revenue, false, money("0")).expect("3rd");
        assert_eq!(third.avg_revenue.to_string(), "3.3333");
        // 0.00005 is a midpoint at four places: away from zero on both sides.
        let up = next_pattern_stats(0, 0, Decimal::ZERO, true, money("0.00005")).expect("up");
        assert_eq!(up.avg_revenue.to_string(), "0.0001");
        let down = next_pattern_stats(0, 0, Decimal::ZERO, true, money("-0.00005")).expect("down");
        assert_eq!(down.avg_revenue.to_string(), "-0.0001");
        assert!(matches!(next_pattern_stats(1, 0, Decimal::MAX, true, Decimal::MAX), Err(MemoryError::OutOfRange(_))));
    }

    #[test]
    fn ledger_totals_are_exact_per_category_in_byte_order() {
        let totals = ledger_totals([
            ("revenue".to_owned(), money("0.10")),
            ("ad_spend".to_owned(), money("-5")),
            ("revenue".to_owned(), money("0.20")),
            ("Zed".to_owned(), money("1")),
        ])
        .expect("totals");
        let texts: Vec<(&str, String)> =
            totals.iter().map(|(category, total)| (category.as_str(), total.to_string())).collect();
        assert_eq!(texts, vec![("Zed", "1".to_owned()), ("ad_spend", "-5".to_owned()), ("revenue", "0.30".to_owned())]);
        assert!(matches!(
            ledger_totals([("x".to_owned(), Decimal::MAX), ("x".to_owned(), Decimal::ONE)]),
            Err(MemoryError::OutOfRange(_))
        ));
    }
}
