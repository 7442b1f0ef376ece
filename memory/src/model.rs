//! The platform's data model: ids, tiers, users, tenants, events, ledger rows and the rest.
//!
//! Every row that belongs to a business carries its [`TenantId`]; rows that belong to a
//! person carry a [`UserId`]. Money is [`Decimal`] everywhere, never a float.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;
use std::str::FromStr;

use crate::MemoryError;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// A person with an account.
    UserId
);
id_type!(
    /// A business owned by a user; the unit of isolation for swarms, events and data.
    TenantId
);

/// A subscription tier; it sets limits on the API and the tenant's swarm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Tier {
    /// The default tier of a new account.
    #[default]
    Free,
    /// The paid tier.
    Pro,
    /// No limits beyond the throttles an admin sets.
    Enterprise,
}

impl Tier {
    /// The files an account of this tier may keep, over all its businesses, in
    /// megabytes (`None`: no limit). Uploads and generated media count alike.
    pub const fn file_storage_mb(self) -> Option<u64> {
        match self {
            Self::Free => Some(100),
            Self::Pro => Some(1_024),
            Self::Enterprise => None,
        }
    }

    /// [`Tier::file_storage_mb`] in bytes, as a quota.
    pub const fn file_storage_bytes(self) -> Option<i64> {
        match self.file_storage_mb() {
            Some(mb) => Some(mb as i64 * 1024 * 1024),
            None => None,
        }
    }
}

/// What a user may do beyond their own tenants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Role {
    /// A tenant owner.
    #[default]
    User,
    /// May manage users, invites, tiers and every swarm.
    Admin,
}

macro_rules! text_enum {
    ($name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $name {
            /// The form stored in the database and shown in the API.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = MemoryError;
            fn from_str(text: &str) -> Result<Self, Self::Err> {
                match text {
                    $($text => Ok(Self::$variant),)+
                    other => Err(MemoryError::Corrupt(format!(
                        concat!("unknown ", stringify!($name), " {:?}"), other
                    ))),
                }
            }
        }
    };
}

text_enum!(Tier { Free => "free", Pro => "pro", Enterprise => "enterprise" });
text_enum!(Role { User => "user", Admin => "admin" });

/// A stored user account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct User {
    /// Its id.
    pub id: UserId,
    /// Unique, stored lower-case.
    pub email: String,
    /// Argon2id PHC string; never leaves the server.
    #[serde(skip_serializing)]
    pub password_hash: String,
    /// What the user may do.
    pub role: Role,
    /// The subscription tier.
    pub tier: Tier,
    /// When the account was created.
    pub created_at: DateTime<Utc>,
    /// The last successful login.
    pub last_login: Option<DateTime<Utc>>,
}

/// What is needed to create a user.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Unique e-mail address; stored lower-case.
    pub email: String,
    /// Argon2id PHC string.
    pub password_hash: String,
    /// The role to grant.
    pub role: Role,
    /// The starting tier.
    pub tier: Tier,
}

/// A stored tenant: one business with its own swarm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tenant {
    /// Its id.
    pub id: TenantId,
    /// The owner.
    pub user_id: UserId,
    /// Display name.
    pub name: String,
    /// Optional domain of the business.
    pub domain: Option<String>,
    /// Name of the personality profile the CEO plans under.
    pub personality: String,
    /// Free-form settings (autopilot interval, overrides...).
    pub settings: Value,
    /// Whether the tenant may run at all.
    pub is_active: bool,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// What is needed to create a tenant.
#[derive(Debug, Clone)]
pub struct NewTenant {
    /// The owner.
    pub user_id: UserId,
    /// Display name.
    pub name: String,
    /// Optional domain.
    pub domain: Option<String>,
    /// Personality profile name.
    pub personality: String,
    /// Free-form settings.
    pub settings: Value,
}

/// One thing that happened in a tenant's swarm, as persisted in the event log.
///
/// `seq` numbers start at 1 for each tenant and have no gaps and no duplicates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SwarmEvent {
    /// The tenant whose swarm acted.
    pub tenant_id: TenantId,
    /// Position in the tenant's log, from 1.
    pub seq: i64,
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
    /// Which actor acted (`ceo`, `pricing`, `swarm`, ...).
    pub actor: String,
    /// Dotted kind, e.g. `agent.started`, `agent.failed`, `swarm.escalated`.
    pub kind: String,
    /// One human line.
    pub summary: String,
    /// Structured details.
    pub data: Value,
    /// Money this action made (positive) or spent (negative), if any.
    pub revenue_impact: Option<Decimal>,
}

/// An event not yet given its sequence number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewEvent {
    /// The tenant whose swarm acted.
    pub tenant_id: TenantId,
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
    /// Which actor acted.
    pub actor: String,
    /// Dotted kind.
    pub kind: String,
    /// One human line.
    pub summary: String,
    /// Structured details.
    pub data: Value,
    /// Money made or spent, if any.
    pub revenue_impact: Option<Decimal>,
    /// The lease epoch of the swarm that wrote it (see [`Lease`]): the store refuses
    /// the event when the tenant's lease has moved on. `None`: not a swarm's write (an
    /// API request's, a tool's), never fenced. The event log stamps it for tenants this
    /// node runs ([`crate::EventLog::fence`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fence: Option<i64>,
}

impl NewEvent {
    /// An event happening now with no data and no revenue impact.
    pub fn now(
        tenant_id: TenantId,
        actor: impl Into<String>,
        kind: impl Into<String>,
        summary: impl Into<String>,
    ) -> Self {
        Self {
            tenant_id,
            occurred_at: Utc::now(),
            actor: actor.into(),
            kind: kind.into(),
            summary: summary.into(),
            data: Value::Null,
            revenue_impact: None,
            fence: None,
        }
    }

    /// Attaches structured details.
    pub fn with_data(mut self, data: Value) -> Self {
        self.data = data;
        self
    }

    /// Attaches a revenue impact.
    pub fn with_revenue_impact(mut self, amount: Decimal) -> Self {
        self.revenue_impact = Some(amount);
        self
    }
}

/// A row of the tenant's ledger (`profit_logs`): money in is positive, money out negative.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LedgerEntry {
    /// Its id.
    pub id: i64,
    /// Whose ledger.
    pub tenant_id: TenantId,
    /// Where the money came from or went (`sandbox`, `stripe`, `ads`...).
    pub source: String,
    /// Exact amount.
    pub amount: Decimal,
    /// `revenue`, `ad_spend`, `fee`, `refund`, `reinvestment`...
    pub category: String,
    /// The platform's transaction id, unique per tenant when present.
    pub transaction_id: Option<String>,
    /// Free-form details.
    pub metadata: Value,
    /// When it was booked.
    pub recorded_at: DateTime<Utc>,
}

/// A ledger row to record.
#[derive(Debug, Clone, PartialEq)]
pub struct NewLedgerEntry {
    /// Whose ledger.
    pub tenant_id: TenantId,
    /// Origin of the money.
    pub source: String,
    /// Exact amount.
    pub amount: Decimal,
    /// Category.
    pub category: String,
    /// The platform's transaction id; recording the same one twice is refused.
    pub transaction_id: Option<String>,
    /// Free-form details.
    pub metadata: Value,
    /// When it was booked.
    pub recorded_at: DateTime<Utc>,
}

/// A running total to bring the ledger up to, with
/// [`LedgerStore::record_ledger_total`](crate::LedgerStore::record_ledger_total): what a
/// platform reports cumulatively (all refunded on one charge so far) booked as the rows
/// that add up to it, however the reports arrive.
#[derive(Debug, Clone, PartialEq)]
pub struct NewLedgerTotal {
    /// Whose ledger.
    pub tenant_id: TenantId,
    /// Origin of the money.
    pub source: String,
    /// Category of the rows.
    pub category: String,
    /// What the total is of (`stripe:ch_…:refunded`): its rows' transaction ids are
    /// `{series}:{total}`, so the rows of a series are found by that prefix.
    pub series: String,
    /// The series' total now, signed as its rows are (money out negative). It only
    /// grows away from zero: a total nearer zero than what is booked is a stale report.
    pub total: Decimal,
    /// Free-form details of the row booked.
    pub metadata: Value,
    /// When it was booked.
    pub recorded_at: DateTime<Utc>,
}

/// An invite code for sign-up in private mode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Invite {
    /// Its id.
    pub id: i64,
    /// The code itself.
    pub code: String,
    /// The admin who made it.
    pub created_by: Option<UserId>,
    /// The last user who used it.
    pub used_by: Option<UserId>,
    /// How many more sign-ups it allows.
    pub uses_remaining: i32,
    /// After this it is void.
    pub expires_at: Option<DateTime<Utc>>,
    /// Whether an admin left it enabled.
    pub is_active: bool,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it was last used.
    pub used_at: Option<DateTime<Utc>>,
}

/// An invite to create.
#[derive(Debug, Clone)]
pub struct NewInvite {
    /// The code.
    pub code: String,
    /// The admin making it.
    pub created_by: Option<UserId>,
    /// How many sign-ups it allows.
    pub uses: i32,
    /// Optional expiry.
    pub expires_at: Option<DateTime<Utc>>,
}

/// Where the CEO is in its autopilot cycle, so a restarted process resumes there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Whose cycle.
    pub tenant_id: TenantId,
    /// Counts cycles from 1.
    pub cycle: i64,
    /// The step about to run or running.
    pub step: String,
    /// What earlier steps produced, for the later ones.
    pub state: Value,
    /// When it was written.
    pub updated_at: DateTime<Utc>,
}

/// The board minutes of one autopilot cycle: what the CEO tells the owner when the cycle
/// ends — the market, what was decided and why, and the money that moved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CycleReport {
    /// Whose cycle.
    pub tenant_id: TenantId,
    /// The cycle reported on; one report per tenant and cycle.
    pub cycle: i64,
    /// One line: the day's decision and result.
    pub headline: String,
    /// The minutes themselves: short paragraphs separated by blank lines.
    pub minutes: String,
    /// The facts the minutes were written from (the simulated `day`, `market`, `launch`,
    /// `marketing`, `price_moves`, `outcome`, `reinvestment`, `lessons`), money as exact
    /// decimal strings.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub data: Value,
    /// Who wrote the words: `offline` (composed from the agents' own reasons) or
    /// `llm:<model>`.
    pub source: String,
    /// When it was written.
    pub written_at: DateTime<Utc>,
}

/// What a usage counter counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UsageSubject {
    /// A user's API calls.
    User(UserId),
    /// A tenant's swarm (tokens, messages).
    Tenant(TenantId),
}

// ---- the swarm's work: products, campaigns, posts ----

/// The status of a deleted product. Deleting only marks a product (its sales and
/// campaigns keep pointing at it); a deleted product does not count against a limit
/// (see [`BusinessStore::create_product_within_limit`](crate::BusinessStore::create_product_within_limit)).
pub const DELETED_PRODUCT_STATUS: &str = "deleted";

/// A product the swarm made for a tenant, with its price and where it is listed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Product {
    /// Its id.
    pub id: i64,
    /// Whose product.
    pub tenant_id: TenantId,
    /// The tenant's store it is sold in, if any.
    pub store_id: Option<i64>,
    /// The market niche it was made for.
    pub niche: String,
    /// Title shown to buyers.
    pub title: String,
    /// Description shown to buyers.
    pub description: String,
    /// Free-form tags.
    pub tags: Vec<String>,
    /// Exact selling price.
    pub price: Decimal,
    /// Exact cost of one unit.
    pub cost: Decimal,
    /// ISO 4217 code, e.g. `USD`.
    pub currency: String,
    /// `draft`, `active`, `archived`...
    pub status: String,
    /// The platform's id once published.
    pub external_id: Option<String>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When its price, status or platform id last changed.
    pub updated_at: DateTime<Utc>,
}

/// A product to create.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewProduct {
    /// Whose product.
    pub tenant_id: TenantId,
    /// The tenant's store it is sold in; must be one of the tenant's stores.
    pub store_id: Option<i64>,
    /// The market niche it was made for.
    pub niche: String,
    /// Title shown to buyers.
    pub title: String,
    /// Description shown to buyers.
    pub description: String,
    /// Free-form tags.
    pub tags: Vec<String>,
    /// Exact selling price.
    pub price: Decimal,
    /// Exact cost of one unit.
    pub cost: Decimal,
    /// ISO 4217 code.
    pub currency: String,
    /// Starting status.
    pub status: String,
    /// The platform's id, when it is already published.
    pub external_id: Option<String>,
}

/// A marketing campaign and what it has spent so far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Campaign {
    /// Its id.
    pub id: i64,
    /// Whose campaign.
    pub tenant_id: TenantId,
    /// The tenant's product it promotes, if any.
    pub product_id: Option<i64>,
    /// Display name.
    pub name: String,
    /// Where it runs (`google_ads`, `meta_ads`, `email`...).
    pub channel: String,
    /// Exact budget.
    pub budget: Decimal,
    /// Exact total spent so far.
    pub spent: Decimal,
    /// `draft`, `active`, `paused`, `ended`...
    pub status: String,
    /// The platform's id once created there.
    pub external_id: Option<String>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// A campaign to create; it starts with nothing spent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewCampaign {
    /// Whose campaign.
    pub tenant_id: TenantId,
    /// The product it promotes; must be one of the tenant's products.
    pub product_id: Option<i64>,
    /// Display name.
    pub name: String,
    /// Where it runs.
    pub channel: String,
    /// Exact budget.
    pub budget: Decimal,
    /// Starting status.
    pub status: String,
    /// The platform's id, when already created there.
    pub external_id: Option<String>,
}

/// A social media post, scheduled or published.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SocialPost {
    /// Its id.
    pub id: i64,
    /// Whose post.
    pub tenant_id: TenantId,
    /// `x`, `instagram`, `linkedin`...
    pub platform: String,
    /// The text posted.
    pub content: String,
    /// What goes with the text: a picture or clip among the business's files
    /// (`/api/media/{id}?business_id=`), or an address elsewhere.
    pub media_urls: Vec<String>,
    /// When it is to go out.
    pub scheduled_time: Option<DateTime<Utc>>,
    /// `scheduled`, `posted`, `failed`...
    pub status: String,
    /// The platform's id once posted.
    pub external_id: Option<String>,
    /// When it went out: stamped on creation when the post is created with status
    /// `posted`.
    pub posted_at: Option<DateTime<Utc>>,
    /// Engagement as last measured (likes, shares, replies, weighted by the caller).
    pub engagement_score: i64,
}

/// A social media post to record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewSocialPost {
    /// Whose post.
    pub tenant_id: TenantId,
    /// The platform.
    pub platform: String,
    /// The text.
    pub content: String,
    /// What goes with the text (pictures, clips).
    pub media_urls: Vec<String>,
    /// When it is to go out.
    pub scheduled_time: Option<DateTime<Utc>>,
    /// Starting status; `posted` stamps `posted_at` with the creation time.
    pub status: String,
    /// The platform's id, when already posted.
    pub external_id: Option<String>,
}

// ---- what the swarm learns ----

/// Something an agent did and how it turned out, for later reflection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Experience {
    /// Its id.
    pub id: i64,
    /// Whose swarm acted.
    pub tenant_id: TenantId,
    /// What kind of action (`create_product`, `set_price`, `post`...).
    pub action_type: String,
    /// What the agent knew when it acted.
    pub context: Value,
    /// What happened.
    pub result: Value,
    /// Whether it worked.
    pub success: bool,
    /// Exact revenue it brought (negative for a loss).
    pub revenue: Decimal,
    /// What to do differently, in words.
    pub lessons: String,
    /// When it was recorded.
    pub created_at: DateTime<Utc>,
}

/// An experience to record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewExperience {
    /// Whose swarm acted.
    pub tenant_id: TenantId,
    /// What kind of action.
    pub action_type: String,
    /// What the agent knew.
    pub context: Value,
    /// What happened.
    pub result: Value,
    /// Whether it worked.
    pub success: bool,
    /// Exact revenue it brought.
    pub revenue: Decimal,
    /// What to do differently.
    pub lessons: String,
}

/// One outcome to fold into a tenant's pattern (see [`LearningStore::record_pattern_outcome`](crate::LearningStore::record_pattern_outcome)).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatternOutcome {
    /// What kind of pattern, e.g. an action type.
    pub pattern_type: String,
    /// Which one, e.g. a niche.
    pub pattern_key: String,
    /// Replaces the pattern's data.
    pub pattern_data: Value,
    /// Whether it worked.
    pub success: bool,
    /// Exact revenue it brought.
    pub revenue: Decimal,
}

/// How well one pattern (a niche, a price point, a posting time...) has worked: one row
/// per tenant, pattern type and key, updated by every recorded outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SuccessfulPattern {
    /// Its id.
    pub id: i64,
    /// Whose pattern.
    pub tenant_id: TenantId,
    /// The kind of pattern (`niche`, `price_point`, `post_time`...).
    pub pattern_type: String,
    /// Which pattern of that kind.
    pub pattern_key: String,
    /// The pattern's details as of its latest use.
    pub pattern_data: Value,
    /// How many outcomes were recorded.
    pub usage_count: i64,
    /// How many of them succeeded.
    pub success_count: i64,
    /// `success_count / usage_count`.
    pub success_rate: f64,
    /// Mean revenue per use: a running mean kept in exact decimals, rounded to 4 decimal
    /// places (half away from zero) after each use.
    pub avg_revenue: Decimal,
    /// When the latest outcome was recorded.
    pub last_used: DateTime<Utc>,
}

/// What the swarm knows about one market niche: one row per tenant and niche.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MarketInsight {
    /// Its id (kept when the insight is replaced).
    pub id: i64,
    /// Whose insight.
    pub tenant_id: TenantId,
    /// The niche.
    pub niche: String,
    /// Demand trends.
    pub trend_data: Value,
    /// How the tenant's products in the niche perform.
    pub performance_data: Value,
    /// Price points that work.
    pub optimal_pricing: Value,
    /// When to post or launch.
    pub best_times: Value,
    /// When it was last replaced.
    pub last_updated: DateTime<Utc>,
}

/// A market insight to write, replacing the tenant's insight on the same niche.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewMarketInsight {
    /// Whose insight.
    pub tenant_id: TenantId,
    /// The niche.
    pub niche: String,
    /// Demand trends.
    pub trend_data: Value,
    /// How products in the niche perform.
    pub performance_data: Value,
    /// Price points that work.
    pub optimal_pricing: Value,
    /// When to post or launch.
    pub best_times: Value,
}

/// One entry of an agent's key/value memory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentMemory {
    /// Its id (kept when the entry is replaced).
    pub id: i64,
    /// Whose swarm.
    pub tenant_id: TenantId,
    /// The agent that remembers (`pricing`, `seo`...).
    pub agent: String,
    /// The key, unique per tenant and agent.
    pub key: String,
    /// What is remembered.
    pub content: Value,
    /// How well acting on it went, exact, if scored.
    pub success_score: Option<Decimal>,
    /// When the key was first written.
    pub created_at: DateTime<Utc>,
    /// When the entry was last written or read by key.
    pub last_accessed: DateTime<Utc>,
}

// ---- LLM accounting ----

/// One LLM call to record, for token accounting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewLlmCall {
    /// Whose swarm called.
    pub tenant_id: TenantId,
    /// Which agent called.
    pub agent: String,
    /// The model that answered.
    pub model: String,
    /// Tokens sent (never negative).
    pub prompt_tokens: i64,
    /// Tokens received (never negative).
    pub completion_tokens: i64,
    /// `ok`, `error`, `timeout`...
    pub outcome: String,
}

/// A tenant's LLM calls summed for one agent and model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LlmTokenTotal {
    /// The agent.
    pub agent: String,
    /// The model.
    pub model: String,
    /// How many calls.
    pub calls: i64,
    /// Tokens sent in all of them.
    pub prompt_tokens: i64,
    /// Tokens received in all of them.
    pub completion_tokens: i64,
}

// ---- accounts: API tokens, sessions, access controls, tenant changes ----

/// An API token to store. The token itself is shown to its owner once and never kept:
/// only its hash is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewApiToken {
    /// The owner.
    pub user_id: UserId,
    /// A label the owner chose (`ci`, `laptop`...).
    pub name: String,
    /// Hash of the token, unique across all tokens; never leaves the server.
    #[serde(skip_serializing)]
    pub token_hash: String,
}

/// A stored API token, without its hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiToken {
    /// Its id.
    pub id: i64,
    /// The owner.
    pub user_id: UserId,
    /// The owner's label.
    pub name: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last authenticated a request, if ever.
    pub last_used_at: Option<DateTime<Utc>>,
    /// When its owner revoked it; a revoked token authenticates nothing.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A server-side session: what a browser's session cookie points at.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionRecord {
    /// The session id (the cookie's value, or a hash of it).
    pub id: String,
    /// The logged-in user, `None` before login.
    pub user_id: Option<UserId>,
    /// Whatever the web layer keeps in the session.
    pub data: Value,
    /// From this instant on the session is gone (kept to the microsecond).
    pub expires_at: DateTime<Utc>,
}

/// A per-user access rule (`ip_whitelist`, `session_timeout`...). A user has at most one
/// active control of each type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccessControl {
    /// Its id (kept when the value is replaced).
    pub id: i64,
    /// Whose rule.
    pub user_id: UserId,
    /// The kind of rule.
    pub control_type: String,
    /// The rule's value, in the form its type defines.
    pub control_value: String,
    /// Whether it is in force; removed controls are kept inactive.
    pub is_active: bool,
    /// When its current value was set.
    pub created_at: DateTime<Utc>,
}

/// Changes to a tenant: each `None` field is left as it is.
///
/// `domain` has two levels: `None` keeps the domain, `Some(None)` clears it and
/// `Some(Some(d))` sets it. In JSON an absent `domain` keeps it and `"domain": null`
/// clears it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TenantChanges {
    /// A new display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A new domain, or `Some(None)` to clear it.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "present")]
    pub domain: Option<Option<String>>,
    /// A new personality profile name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub personality: Option<String>,
    /// New settings, replacing the old ones whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<Value>,
}

/// Reads a field that is present (even as `null`) as `Some`; with `#[serde(default)]` an
/// absent field stays `None`.
fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tenant_changes_tell_an_absent_domain_from_a_null_one() {
        let keep: TenantChanges = serde_json::from_value(json!({"name": "Mugs"})).expect("absent");
        assert_eq!(keep, TenantChanges { name: Some("Mugs".into()), ..TenantChanges::default() });
        let clear: TenantChanges = serde_json::from_value(json!({"domain": null})).expect("null");
        assert_eq!(clear.domain, Some(None));
        let set: TenantChanges = serde_json::from_value(json!({"domain": "mugs.example"})).expect("set");
        assert_eq!(set.domain, Some(Some("mugs.example".into())));
        for changes in [keep, clear, set] {
            let again: TenantChanges =
                serde_json::from_value(serde_json::to_value(&changes).expect("serialize")).expect("deserialize");
            assert_eq!(again, changes, "round trip");
        }
    }

    #[test]
    fn a_new_api_token_never_serializes_its_hash() {
        let token = NewApiToken { user_id: UserId(1), name: "ci".into(), token_hash: "secret-hash".into() };
        assert_eq!(serde_json::to_value(&token).expect("serialize"), json!({"user_id": 1, "name": "ci"}));
    }
}

/// Platform-wide counts for the admin's analytics: everything is a count over all
/// tenants, the windowed ones since the `since` the caller chose.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlatformStats {
    /// Accounts.
    pub users: i64,
    /// Accounts with the admin role.
    pub admins: i64,
    /// Accounts on the free tier.
    pub free_users: i64,
    /// Accounts on the pro tier.
    pub pro_users: i64,
    /// Accounts on the enterprise tier.
    pub enterprise_users: i64,
    /// Accounts created since `since`.
    pub new_users: i64,
    /// Accounts that logged in since `since`.
    pub active_users: i64,
    /// Businesses (tenants).
    pub businesses: i64,
    /// Businesses not switched off.
    pub active_businesses: i64,
    /// Products of all businesses.
    pub products: i64,
    /// Connected stores of all businesses.
    pub stores: i64,
    /// Campaigns of all businesses.
    pub campaigns: i64,
    /// Swarm events since `since`.
    pub events: i64,
    /// LLM calls since `since`.
    pub llm_calls: i64,
    /// LLM tokens (prompt and completion) since `since`.
    pub llm_tokens: i64,
    /// API calls metered in the given month.
    pub api_calls: i64,
}

/// A file to keep for a business.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMediaFile {
    /// The business.
    pub tenant_id: TenantId,
    /// The file's name as uploaded.
    pub name: String,
    /// Its media type (`image/png`, …).
    pub content_type: String,
    /// Hex SHA-256 of the bytes, for clients to check downloads and spot duplicates.
    pub sha256: String,
    /// The bytes' size.
    pub size_bytes: i64,
    /// Where the bytes are kept in the media store, relative to its root.
    pub object_key: String,
}

/// Where a kept file's bytes are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaBytes {
    /// In the media store, under this key.
    Object(String),
    /// Still in the database (written before files moved to the media store, and not
    /// moved yet).
    Database(Vec<u8>),
}

/// A file whose bytes are still in the database, for the move to the media store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseMediaFile {
    /// Row id.
    pub id: i64,
    /// The business.
    pub tenant_id: TenantId,
    /// The bytes.
    pub content: Vec<u8>,
}

/// A kept file, without its bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MediaFile {
    /// Row id.
    pub id: i64,
    /// The business.
    pub tenant_id: TenantId,
    /// The file's name as uploaded.
    pub name: String,
    /// Its media type.
    pub content_type: String,
    /// Its size.
    pub size_bytes: i64,
    /// Hex SHA-256 of the bytes.
    pub sha256: String,
    /// When it was kept.
    pub created_at: DateTime<Utc>,
}

/// Where an approval request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ApprovalStatus {
    /// Waiting for the owner.
    Pending,
    /// The owner said yes; the swarm carries it out at its next chance.
    Approved,
    /// The owner said no.
    Rejected,
    /// Nobody answered before it expired.
    Expired,
    /// Approved and carried out.
    Done,
}

impl ApprovalStatus {
    /// The status as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
            Self::Expired => "expired",
            Self::Done => "done",
        }
    }

    /// The status named `text`, if it is one.
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Pending, Self::Approved, Self::Rejected, Self::Expired, Self::Done]
            .into_iter()
            .find(|status| status.as_str() == text)
    }
}

/// An action of the swarm that waits for its owner: its money is above the business's
/// approval threshold (see the spending guard in `boardroom-agents`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Approval {
    /// Its id.
    pub id: i64,
    /// Whose swarm asks.
    pub tenant_id: TenantId,
    /// What the action is (one per tenant): the same action asked for again finds this row.
    pub action_key: String,
    /// The kind of action: `ad_flight`.
    pub kind: String,
    /// One sentence for the owner.
    pub summary: String,
    /// The money the action commits.
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "140.00"))]
    pub amount: Decimal,
    /// What the agent expects from it.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub expected: Value,
    /// What is done once approved (the platform call's parameters).
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub action: Value,
    /// Where it stands.
    pub status: ApprovalStatus,
    /// When the swarm asked.
    pub requested_at: DateTime<Utc>,
    /// When it expires unanswered.
    pub expires_at: DateTime<Utc>,
    /// When the owner answered (or it expired, or was carried out).
    pub decided_at: Option<DateTime<Utc>>,
    /// Who answered.
    pub decided_by: Option<UserId>,
}

/// An approval to ask for.
#[derive(Debug, Clone, PartialEq)]
pub struct NewApproval {
    /// Whose swarm asks.
    pub tenant_id: TenantId,
    /// What the action is: see [`Approval::action_key`].
    pub action_key: String,
    /// The kind of action.
    pub kind: String,
    /// One sentence for the owner.
    pub summary: String,
    /// The money the action commits.
    pub amount: Decimal,
    /// What the agent expects from it.
    pub expected: Value,
    /// What is done once approved.
    pub action: Value,
    /// When the swarm asks.
    pub requested_at: DateTime<Utc>,
    /// When it expires unanswered.
    pub expires_at: DateTime<Utc>,
}

/// The owner's answer to an approval request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApprovalDecision {
    /// Go ahead.
    Approve,
    /// Do not.
    Reject,
}

/// A node's hold on a tenant's swarm: only the holder runs it. Times are milliseconds of
/// the database's clock (see `migrations/postgres/0012_swarm_leases.sql`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Lease {
    /// Whose swarm.
    pub tenant_id: TenantId,
    /// The node holding (or last holding) it.
    pub node: String,
    /// Grows by one at each fresh claim; a write carrying an older one is refused.
    pub epoch: i64,
    /// When it lapses unless renewed.
    pub expires_ms: i64,
    /// Whether it had not lapsed when read.
    pub live: bool,
}

/// What claiming a tenant's lease gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseClaim {
    /// The lease is this node's (newly, with a new epoch, or still, with the same one).
    Granted(Lease),
    /// Another node holds a live lease on the tenant.
    HeldElsewhere(Lease),
}

/// What a node says about itself at each heartbeat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeBeat {
    /// The node's name, unique in the cluster.
    pub name: String,
    /// Where other nodes and operators reach its HTTP API.
    pub address: String,
    /// How many swarms it is sized to run.
    pub capacity: i64,
    /// How many it runs now.
    pub swarms: i64,
}

/// A node as the cluster sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClusterNode {
    /// Its name.
    pub name: String,
    /// Where its HTTP API is reached.
    pub address: String,
    /// How many swarms it is sized to run.
    pub capacity: i64,
    /// How many it said it runs at its last heartbeat.
    pub swarms: i64,
    /// Live leases it holds now.
    pub leases: i64,
    /// Whether an operator asked it to hand its tenants over and take no new ones.
    pub draining: bool,
    /// When it (last) joined, database milliseconds.
    pub started_ms: i64,
    /// Its last heartbeat, database milliseconds.
    pub seen_ms: i64,
}
