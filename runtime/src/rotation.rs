//! `boardroom rotate-secrets`: re-seals every stored credential under the current
//! `SECRET_KEY`.
//!
//! To rotate the secret: start the server with the new `SECRET_KEY` and the old one as
//! `SECRET_KEY_PREVIOUS` (both open what they sealed), run `boardroom rotate-secrets`
//! with the same two, then drop `SECRET_KEY_PREVIOUS`. The command also moves values
//! sealed by the legacy (pre-HKDF) scheme to the current one. It is idempotent: what is
//! already sealed under the current secret is left alone, so a second run re-seals 0.
//!
//! Each store is read, re-sealed and written back on its own (`put_agent_memory` keeps
//! the row's id and `created_at`), so the command can run while the server serves: a
//! request sees either the old sealing or the new, and both open during the rotation.

use anyhow::Context;
use boardroom_memory::{SharedStore, TenantId};

use crate::config::Settings;
use crate::http::crypto::CredentialSealer;
use crate::http::routes::stores::{self, Reseal};

/// What a rotation did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RotationReport {
    /// Stored credentials re-sealed under the current secret.
    pub resealed: usize,
    /// Stored credentials already sealed under it, left alone.
    pub already_current: usize,
    /// Stored credentials neither `SECRET_KEY` nor `SECRET_KEY_PREVIOUS` opens, left as
    /// they are (the previous secret is missing or wrong).
    pub unreadable: usize,
}

impl RotationReport {
    /// Every stored credential looked at.
    pub fn total(&self) -> usize {
        self.resealed + self.already_current + self.unreadable
    }
}

/// Tenants read per page while collecting stores.
const TENANT_PAGE: i64 = 500;

/// Re-seals every stored credential under `settings.secret_key`, opening each with it
/// or `settings.secret_key_previous`. `progress(done, total)` is called once when the
/// stores have been counted (`done` 0) and after each store.
pub async fn rotate_secrets(
    settings: &Settings,
    store: &SharedStore,
    mut progress: impl FnMut(usize, usize),
) -> anyhow::Result<RotationReport> {
    let sealer = CredentialSealer::from_settings(settings);
    let mut found: Vec<(TenantId, String, serde_json::Value)> = Vec::new();
    let mut after = None;
    loop {
        let page = store.list_tenants(after, TENANT_PAGE).await.context("failed to list the businesses")?;
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        for tenant in &page {
            let rows = store
                .agent_memories(tenant.id, stores::STORES)
                .await
                .with_context(|| format!("failed to read the stores of business {}", tenant.id))?;
            found.extend(
                rows.into_iter()
                    .filter(|row| row.key.starts_with(stores::STORE_KEY_PREFIX))
                    .map(|row| (tenant.id, row.key, row.content)),
            );
        }
    }
    let total = found.len();
    progress(0, total);
    let mut report = RotationReport::default();
    for (done, (tenant, key, content)) in found.into_iter().enumerate() {
        match stores::reseal(tenant, content, &sealer)
            .with_context(|| format!("business {tenant}: {key} is not a stored store"))?
        {
            Reseal::Current => report.already_current += 1,
            Reseal::Unreadable => {
                tracing::warn!(tenant = %tenant, store = %key, "stored credentials open under no configured secret");
                report.unreadable += 1;
            }
            Reseal::Resealed(content) => {
                store
                    .put_agent_memory(tenant, stores::STORES, &key, content, None)
                    .await
                    .with_context(|| format!("failed to write business {tenant}'s {key}"))?;
                report.resealed += 1;
            }
        }
        progress(done + 1, total);
    }
    Ok(report)
}
