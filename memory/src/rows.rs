//! What the SQLite and PostgreSQL backends share, so the two cannot drift apart: reading
//! rows into the model, naming refused writes, the column lists, and the small rules
//! (e-mail normalisation, timestamp precision, invite validity, sequence numbering).
//!
//! Money travels as exact text on both backends: SQLite stores it as text, PostgreSQL
//! as `NUMERIC` that the queries cast to and from text (`$n::numeric`, `amount::text`).
//! sqlx's own `Decimal` codec for PostgreSQL drops the scale of zero ("0.00" comes back
//! as "0"), and the text form is exact for every value, so both backends read money the
//! same way, through [`parse_money`].

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, SubsecRound, Utc};
use rust_decimal::Decimal;
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
// Money columns take the cast that reads them as text: "" on SQLite (already text),
// "::text" on PostgreSQL (see the module docs).
macro_rules! event_columns {
    ($money:literal) => {
        concat!(
            "tenant_id, seq, occurred_at, actor, kind, summary, data, revenue_impact",
            $money,
            " as revenue_impact"
        )
    };
}
macro_rules! ledger_columns {
    ($money:literal) => {
        concat!(
            "id, tenant_id, source, amount",
            $money,
            " as amount, category, transaction_id, metadata, recorded_at"
        )
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
pub(crate) use {
    checkpoint_columns, event_columns, invite_columns, ledger_columns, tenant_columns, user_columns,
};

/// Reads one column of any sqlx row, with errors as [`MemoryError::Corrupt`] naming it.
fn get<'r, R, T>(row: &'r R, name: &str) -> MemoryResult<T>
where
    R: Row,
    for<'n> &'n str: ColumnIndex<R>,
    T: Decode<'r, R::Database> + Type<R::Database>,
{
    row.try_get(name)
        .map_err(|error| MemoryError::Corrupt(format!("column {name}: {error}")))
}

/// Parses money stored as text; anything but an exact decimal is corruption.
pub(crate) fn parse_money(text: &str) -> MemoryResult<Decimal> {
    Decimal::from_str_exact(text)
        .map_err(|error| MemoryError::Corrupt(format!("money {text:?}: {error}")))
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
    fn json(&self, name: &str) -> MemoryResult<Value>;
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
    for<'r> DateTime<Utc>: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> Json<Value>: Decode<'r, R::Database> + Type<R::Database>,
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
    fn json(&self, name: &str) -> MemoryResult<Value> {
        get::<_, Json<Value>>(self, name).map(|json| json.0)
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

// ---- rules both backends follow ----

/// How e-mail addresses are stored and looked up: trimmed and lower-cased.
pub(crate) fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// Timestamps are kept to the microsecond: PostgreSQL's precision, applied on SQLite
/// too so both backends hand back exactly what they store.
pub(crate) fn stored_time(at: DateTime<Utc>) -> DateTime<Utc> {
    at.trunc_subsecs(6)
}

/// The role `create_user_first_is_admin` grants: admin for the very first account only.
pub(crate) fn first_user_role(users_exist: bool) -> Role {
    if users_exist { Role::User } else { Role::Admin }
}

/// Why an invite cannot be used at `now`, or `None` when it can.
pub(crate) fn invite_refusal(invite: &Invite, now: DateTime<Utc>) -> Option<InviteRejection> {
    if !invite.is_active {
        Some(InviteRejection::Inactive)
    } else if invite
        .expires_at
        .is_some_and(|expires| expires <= stored_time(now))
    {
        Some(InviteRejection::Expired)
    } else if invite.uses_remaining <= 0 {
        Some(InviteRejection::Exhausted)
    } else {
        None
    }
}

/// How a usage subject is keyed in `usage_counters`.
pub(crate) fn usage_key(subject: UsageSubject) -> (&'static str, i64) {
    match subject {
        UsageSubject::User(user) => ("user", user.0),
        UsageSubject::Tenant(tenant) => ("tenant", tenant.0),
    }
}

/// Turns a refused write into the error the trait promises: a unique violation is a
/// `Conflict` naming the duplicated thing, a foreign-key violation is a `NotFound`
/// naming the missing parent.
pub(crate) fn write_error(error: sqlx::Error, unique: &str, parent: &str) -> MemoryError {
    match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            MemoryError::Conflict(unique.to_owned())
        }
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
            MemoryError::NotFound(parent.to_owned())
        }
        _ => MemoryError::Database(error),
    }
}

/// `NotFound(what)` when an `UPDATE` touched no row.
pub(crate) fn expect_one(rows_affected: u64, what: &str) -> MemoryResult<()> {
    if rows_affected == 0 {
        Err(MemoryError::NotFound(what.to_owned()))
    } else {
        Ok(())
    }
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
        let last = last_seq.get(tenant).ok_or_else(|| {
            MemoryError::Corrupt(format!(
                "no sequence numbers were reserved for tenant {tenant}"
            ))
        })?;
        next.insert(*tenant, last - count + 1);
    }
    events
        .iter()
        .map(|event| {
            let seq = next.get_mut(&event.tenant_id).ok_or_else(|| {
                MemoryError::Corrupt(format!("tenant {} missing from the batch", event.tenant_id))
            })?;
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
        assert_eq!(
            parse_money("-0.10").map(|d| d.to_string()).ok().as_deref(),
            Some("-0.10")
        );
        assert!(matches!(parse_money("12abc"), Err(MemoryError::Corrupt(_))));
        assert!(matches!(parse_money(""), Err(MemoryError::Corrupt(_))));
    }
}
