//! The sandbox market: a seeded, deterministic simulated market every tenant acts on until
//! it connects real accounts.
//!
//! Each tenant has its own world (its own seed, derived from the market's seed and the
//! tenant id), with a catalogue of twelve niches of digital goods. A day of a product's
//! sales is
//!
//! ```text
//! buyers = niche demand × weekly and yearly season × trend growth
//!        × price response × share left by competition × listing quality × noise
//!        + ad buyers (diminishing returns per channel) + post click-throughs
//! ```
//!
//! drawn as Poisson counts, with card fees (2.9 % + 0.30) on every sale and refunds a few
//! days later. Same seed and same calls give the same reports, to the cent.
//!
//! ## Layout
//! - `random`: seed mixing, ChaCha8 streams, Poisson and normal quantiles.
//! - `catalogue`: the twelve niches and each world's variation of them.
//! - `model`: the demand, ad and post formulas with their constants.
//! - `money`: fees and the float-to-cents boundary.
//! - `world`: one tenant's state, the idempotency record, the daily simulation, reports.
//! - `truth`: the hidden parameters as the benchmark's oracle reads them, and its plan.

mod catalogue;
mod model;
mod money;
mod random;
mod truth;
mod world;

pub use self::truth::{OracleProduct, WorldTruth};

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use boardroom_memory::TenantId;
use dashmap::DashMap;
use rust_decimal::Decimal;
use serde_json::Value;

use self::world::{World, WorldState};
use crate::{
    AdapterError, CampaignRef, CampaignSpec, IdempotencyKey, ListedProduct, MarketSnapshot, Marketplace,
    PerformanceReport, Platform, PostEngagement, PostRef, PostSpec, ProductListing, PublishedPost, StoreRef,
};

/// The simulated market: one deterministic world per tenant.
///
/// Worlds are created on a tenant's first call. The market is `Send + Sync`: tenants'
/// worlds sit in a [`DashMap`], each behind its own [`Mutex`], so tenants never wait for
/// one another and one tenant's calls apply one at a time (which is also what makes a
/// concurrent retry with the same idempotency key safe). The mutex is a `std` one: no
/// call holds it across an `.await`, and the work under it is short, pure computation.
///
/// The snapshot shows each niche's demand, competition, prices and trend; what it does
/// not show (price elasticity, refund rate, the weekly and yearly seasons, how ads and
/// posts convert) the swarm has to learn from its reports, as it would on a real market.
///
/// The caller persists a world with [`SandboxMarket::export`] and restores it, in this
/// or another process, with [`SandboxMarket::import`]; the restored world continues
/// exactly as the original would have.
pub struct SandboxMarket {
    seed: u64,
    worlds: DashMap<TenantId, Arc<Mutex<World>>>,
}

impl SandboxMarket {
    /// A market whose tenants' worlds all derive from `seed`.
    pub fn new(seed: u64) -> Self {
        Self { seed, worlds: DashMap::new() }
    }

    /// The seed this market was made with.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// What the simulator knows about the tenant's world and no agent reads: its true
    /// demand curves, seasons and ad and post response, for the benchmark's oracle. Not
    /// part of [`Marketplace`], so a swarm, which holds a market only as one, cannot
    /// reach it.
    pub fn truth(&self, tenant: TenantId) -> WorldTruth {
        self.with_world(tenant, |world| WorldTruth::new(world.niche_models()))
    }

    /// The tenant's whole world (seed, day, stores, products, campaigns, posts, history,
    /// pending refunds and idempotency record) as JSON, or `None` if the tenant has not
    /// used the market yet.
    pub fn export(&self, tenant: TenantId) -> Option<Value> {
        let world = self.worlds.get(&tenant).map(|entry| Arc::clone(entry.value()))?;
        let world = lock(&world);
        // The state is plain data (strings, integers, decimals, string-keyed maps), which
        // serde_json always encodes; `ok()` only satisfies the signature.
        serde_json::to_value(world.state()).ok()
    }

    /// Replaces the tenant's world with one exported earlier (possibly by another
    /// market, with another seed: the world carries its own). Refused, leaving the
    /// current world as it was, if the state is malformed, of another format, or belongs
    /// to another tenant.
    pub fn import(&self, tenant: TenantId, state: Value) -> Result<(), AdapterError> {
        let state: WorldState = serde_json::from_value(state)
            .map_err(|error| AdapterError::rejected(Platform::Sandbox, format!("malformed sandbox state: {error}")))?;
        let restored = World::restore(tenant, state)?;
        // Swap the contents of an existing world in place rather than replacing its
        // `Arc`, so a call already holding the old handle cannot act on a world that is
        // no longer the tenant's.
        let slot = self.world(tenant);
        *lock(&slot) = restored;
        Ok(())
    }

    /// An exported world made over to tenant `to`: the same seed, day, listings,
    /// campaigns, history and idempotency record, so the copy's market goes on where
    /// the original's was. The ids handed out so far keep naming the original tenant;
    /// the copy's new ones name `to`, so none can collide. Refused like
    /// [`SandboxMarket::import`] if the state is malformed or of another format.
    pub fn rehome(state: Value, to: TenantId) -> Result<Value, AdapterError> {
        let state: WorldState = serde_json::from_value(state)
            .map_err(|error| AdapterError::rejected(Platform::Sandbox, format!("malformed sandbox state: {error}")))?;
        let world = World::restore(state.tenant(), state)?.rehomed(to);
        serde_json::to_value(world.state())
            .map_err(|error| AdapterError::rejected(Platform::Sandbox, format!("sandbox state not encoded: {error}")))
    }

    /// Drops the tenant's world from memory and returns its exported state (for a
    /// tenant whose swarm is passivated). `None` if it had no world. Call it once the
    /// tenant's swarm has stopped: a call that lands afterwards starts a fresh world,
    /// and one racing with the removal may act on the state just exported.
    pub fn remove(&self, tenant: TenantId) -> Option<Value> {
        let state = self.export(tenant)?;
        self.worlds.remove(&tenant);
        Some(state)
    }

    /// The tenant's world, created on first use. The map's shard lock is released before
    /// the world's own lock is taken, so a long `advance` blocks only its own tenant.
    fn world(&self, tenant: TenantId) -> Arc<Mutex<World>> {
        let entry = self.worlds.entry(tenant).or_insert_with(|| Arc::new(Mutex::new(World::new(self.seed, tenant))));
        Arc::clone(entry.value())
    }

    fn with_world<T>(&self, tenant: TenantId, act: impl FnOnce(&mut World) -> T) -> T {
        let world = self.world(tenant);
        let mut guard = lock(&world);
        act(&mut guard)
    }
}

/// Locks a world. Nothing under the lock panics by design (no `unwrap`, no unchecked
/// indexing, validation before mutation); should something still panic, carrying on
/// with the world as it stands beats refusing every later call of the tenant.
fn lock(world: &Mutex<World>) -> std::sync::MutexGuard<'_, World> {
    world.lock().unwrap_or_else(PoisonError::into_inner)
}

impl fmt::Debug for SandboxMarket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SandboxMarket").field("seed", &self.seed).field("tenants", &self.worlds.len()).finish()
    }
}

#[async_trait]
impl Marketplace for SandboxMarket {
    fn platform(&self) -> Platform {
        Platform::Sandbox
    }

    fn is_simulated(&self) -> bool {
        true
    }

    async fn market_snapshot(&self, tenant: TenantId) -> Result<MarketSnapshot, AdapterError> {
        Ok(self.with_world(tenant, |world| world.snapshot()))
    }

    async fn create_store(&self, tenant: TenantId, name: &str, key: &IdempotencyKey) -> Result<StoreRef, AdapterError> {
        self.with_world(tenant, |world| world.create_store(name, key))
    }

    async fn list_product(
        &self,
        tenant: TenantId,
        listing: &ProductListing,
        key: &IdempotencyKey,
    ) -> Result<ListedProduct, AdapterError> {
        self.with_world(tenant, |world| world.list_product(listing, key))
    }

    async fn set_price(
        &self,
        tenant: TenantId,
        product_id: &str,
        price: Decimal,
        key: &IdempotencyKey,
    ) -> Result<(), AdapterError> {
        self.with_world(tenant, |world| world.set_price(product_id, price, key))
    }

    async fn launch_campaign(
        &self,
        tenant: TenantId,
        spec: &CampaignSpec,
        key: &IdempotencyKey,
    ) -> Result<CampaignRef, AdapterError> {
        self.with_world(tenant, |world| world.launch_campaign(spec, key))
    }

    async fn publish_post(
        &self,
        tenant: TenantId,
        post: &PostSpec,
        key: &IdempotencyKey,
    ) -> Result<PostRef, AdapterError> {
        self.with_world(tenant, |world| world.publish_post(post, key))
    }

    async fn post_engagement(
        &self,
        tenant: TenantId,
        posts: &[PublishedPost],
    ) -> Result<Vec<PostEngagement>, AdapterError> {
        Ok(self.with_world(tenant, |world| world.post_engagement(posts)))
    }

    async fn advance(&self, tenant: TenantId, days: u32) -> Result<(), AdapterError> {
        self.with_world(tenant, |world| world.advance(days))
    }

    async fn report(&self, tenant: TenantId, from_day: u32, to_day: u32) -> Result<PerformanceReport, AdapterError> {
        self.with_world(tenant, |world| world.report(from_day, to_day))
    }

    async fn export_state(&self, tenant: TenantId) -> Option<Value> {
        self.export(tenant)
    }

    async fn import_state(&self, tenant: TenantId, state: Value) -> Result<(), AdapterError> {
        self.import(tenant, state)
    }

    fn rehome_state(&self, state: Value, to: TenantId) -> Result<Value, AdapterError> {
        Self::rehome(state, to)
    }
}
