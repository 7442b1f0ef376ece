//! The demo business: "Demo Business", created on a database without any business so a
//! fresh install shows a swarm at work from its first second, owned by a system account
//! nobody can log in as.
//!
//! Nobody owns it, so the first account (the admin) is let into it as if it did (see
//! `http::routes::owned_business`): the admin's dashboard shows it, with its history,
//! the moment the admin signs in, without it counting against the admin's tier.
//!
//! Any owner can start a business from a copy of it ([`start_from_demo`]): the same
//! products, market, ledger and lessons as the demo's last completed day, from which
//! the copy goes its own way.

use std::time::Duration;

use anyhow::Context;
use boardroom_memory::{
    MemoryError, MemoryResult, NewEvent, NewTenant, NewUser, Role, SharedStore, Tenant, TenantId, Tier,
};
use serde_json::{Value, json};

use crate::http::AppState;

/// The system account that owns the demo business.
const DEMO_OWNER: &str = "demo@localhost";

/// On a database without any business, creates "Demo Business" (CoachTy, autopilot on,
/// a cycle a minute, on the sandbox market).
pub(crate) async fn ensure(state: &AppState) -> anyhow::Result<()> {
    if !state.store.list_tenants(None, 1).await?.is_empty() {
        return Ok(());
    }
    let owner = match state.store.user_by_email(DEMO_OWNER).await? {
        Some(user) => user,
        None => {
            // Not a valid PHC string: nobody can log in as the demo owner.
            // A system account: enterprise, so its minute-long cycle is within its tier.
            let user = NewUser {
                email: DEMO_OWNER.into(),
                password_hash: "!".into(),
                role: Role::User,
                tier: Tier::Enterprise,
            };
            state.store.create_user(user).await?
        }
    };
    let tenant = NewTenant {
        user_id: owner.id,
        name: "Demo Business".into(),
        domain: None,
        personality: "coachty".into(),
        settings: json!({ "autopilot": true, "autopilot_interval_secs": 60, "demo": true }),
    };
    let tenant = state.store.create_tenant(tenant).await.context("failed to create the demo tenant")?;
    tracing::info!(tenant = %tenant.id, "created the demo tenant (autopilot on, sandbox market)");
    Ok(())
}

/// The demo business, if this installation has one.
pub(crate) async fn find(store: &SharedStore) -> MemoryResult<Option<Tenant>> {
    let Some(owner) = store.user_by_email(DEMO_OWNER).await? else { return Ok(None) };
    let tenants = store.tenants_of_user_page(owner.id, None, 10).await?;
    Ok(tenants.into_iter().find(is_marked_demo))
}

/// Whether `tenant` is the demo business: marked so, and owned by the system account
/// (an owner's own business marked "demo" is not).
pub(crate) async fn is_demo(store: &SharedStore, tenant: &Tenant) -> MemoryResult<bool> {
    if !is_marked_demo(tenant) {
        return Ok(false);
    }
    Ok(store.user(tenant.user_id).await?.is_some_and(|owner| owner.email == DEMO_OWNER))
}

fn is_marked_demo(tenant: &Tenant) -> bool {
    tenant.settings["demo"] == true
}

/// How long a copy waits for the demo to finish the cycle it is in (a cycle takes a
/// second or two; a copy is taken between two).
const COPY_PATIENCE: Duration = Duration::from_secs(15);

/// Why a business could not start from the demo.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CopyError {
    /// This installation runs no demo business.
    #[error("this installation runs no demo business")]
    NoDemo,
    /// The demo stayed in the middle of a cycle for the whole wait.
    #[error("the demo business is in the middle of a cycle; try again in a moment")]
    Busy,
    /// The store refused or failed.
    #[error(transparent)]
    Store(#[from] MemoryError),
}

/// Creates `new` as a copy of the demo business as its last completed cycle left it
/// (see `TenantStore::create_tenant_copy`), within `limit` businesses of its owner,
/// and opens its log with where it started from.
pub(crate) async fn start_from_demo(state: &AppState, new: NewTenant, limit: Option<u64>) -> Result<Tenant, CopyError> {
    let demo = find(&state.store).await?.ok_or(CopyError::NoDemo)?;
    let market = state.services.market.clone();
    let platform = market.platform();
    // The state of the market this installation runs; another platform's (saved before
    // a change of configuration) means nothing to it and is left out.
    let rehome = move |to: TenantId, saved_for: &str, world: Value| -> MemoryResult<Option<Value>> {
        if !serde_json::to_value(platform).is_ok_and(|name| name == saved_for) {
            return Ok(None);
        }
        market.rehome_state(world, to).map(Some).map_err(|error| MemoryError::Corrupt(error.to_string()))
    };
    let deadline = tokio::time::Instant::now() + COPY_PATIENCE;
    let copy = loop {
        match state.store.create_tenant_copy(new.clone(), limit, demo.id, &rehome).await {
            Err(MemoryError::Busy(_)) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(MemoryError::Busy(_)) => return Err(CopyError::Busy),
            other => break other?,
        }
    };
    let day = state.store.checkpoint(copy.id).await?.map_or(0, |checkpoint| checkpoint.cycle);
    let products = state.store.products(copy.id).await?.len();
    let event = NewEvent::now(
        copy.id,
        "api",
        "business.started_from_demo",
        format!(
            "Started as a copy of {} after simulated day {day}: {products} products, their campaigns, posts, \
             ledger and lessons",
            demo.name
        ),
    )
    .with_data(json!({ "demo": demo.id, "day": day, "products": products }));
    if let Err(error) = state.events.append(event).await {
        tracing::warn!(%error, tenant = %copy.id, "the copy's first event was not recorded");
    }
    tracing::info!(tenant = %copy.id, demo = %demo.id, day, "business started from the demo");
    Ok(copy)
}
