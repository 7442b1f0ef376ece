//! The demo business: "Demo Business", created on a database without any business so a
//! fresh install shows a swarm at work from its first second, owned by a system account
//! nobody can log in as.
//!
//! Nobody owns it, so the first account (the admin) is let into it as if it did (see
//! `http::routes::owned_business`): the admin's dashboard shows it, with its history,
//! the moment the admin signs in, without it counting against the admin's tier.

use anyhow::Context;
use boardroom_memory::{MemoryResult, NewTenant, NewUser, Role, SharedStore, Tenant, Tier};
use serde_json::json;

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
