//! One tenant's simulated world: its stores, products, campaigns and posts, the history
//! they produced, and the idempotency record, all in one serialisable [`WorldState`].

use std::collections::{BTreeMap, HashMap};

use boardroom_memory::TenantId;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::catalogue::{NicheModel, niches_for};
use super::model::{self, PostDay};
use super::money::{self, MAX_AMOUNT, MIN_DAILY_BUDGET, MIN_PRICE};
use super::random::{Draws, STREAM_DAY, STREAM_POST, STREAM_TENANT, mix, poisson_quantile};
use crate::{
    AdChannel, AdCreative, AdapterError, CampaignPerformance, CampaignRef, CampaignSpec, ChannelPerformance,
    IdempotencyKey, ListedProduct, MarketSnapshot, PerformanceReport, Platform, PostEngagement, PostPerformance,
    PostRef, PostSpec, ProductListing, ProductPerformance, PublishedPost, SocialNetwork, StoreRef,
};

/// The version of [`WorldState`]'s shape; an import of another version is refused.
const STATE_FORMAT: u32 = 1;

/// Simulated days an idempotency record is kept after its call. Stripe keeps keys for
/// 24 hours: long enough for any retry, short enough to bound storage. A sandbox day is
/// one autopilot step or more, so 90 days is comfortably "any retry" here.
const IDEMPOTENCY_RETENTION_DAYS: u32 = 90;

/// The most days one `advance` may cover: a guard against a runaway caller, not a model.
const MAX_ADVANCE_DAYS: u32 = 3_650;

/// The longest campaign the sandbox accepts.
const MAX_CAMPAIGN_DAYS: u32 = 365;

/// Where the sandbox's pretend web lives.
const BASE_URL: &str = "https://sandbox.boardroom.local";

fn rejected(message: impl Into<String>) -> AdapterError {
    AdapterError::rejected(Platform::Sandbox, message)
}

/// Everything that makes up a tenant's world. The niche catalogue is not in it: it is
/// recomputed from `seed`, and so is every random draw (see `random`), so the state holds
/// only integers, exact money and text, which survive any JSON round trip unchanged.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct WorldState {
    format: u32,
    tenant: TenantId,
    seed: u64,
    today: u32,
    stores: Vec<StoreState>,
    products: Vec<ProductState>,
    campaigns: Vec<CampaignState>,
    posts: Vec<PostState>,
    pending_refunds: Vec<PendingRefund>,
    idempotency: BTreeMap<String, IdempotencyRecord>,
}

impl WorldState {
    /// The tenant whose world this is.
    pub(super) fn tenant(&self) -> TenantId {
        self.tenant
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoreState {
    id: String,
    name: String,
    url: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct ProductState {
    id: String,
    url: String,
    store_id: String,
    niche: String,
    title: String,
    description: String,
    tags: Vec<String>,
    price: Decimal,
    unit_cost: Decimal,
    listed_day: u32,
    /// One record per simulated day since `listed_day`: `history[i]` is day
    /// `listed_day + i`.
    history: Vec<DayRecord>,
}

/// One product's day. Zero fields are left out of the JSON: most products sit idle on
/// most channels, and a year of history should stay small.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct DayRecord {
    #[serde(default, skip_serializing_if = "is_zero_count")]
    units: u64,
    #[serde(default, skip_serializing_if = "Decimal::is_zero")]
    gross: Decimal,
    #[serde(default, skip_serializing_if = "Decimal::is_zero")]
    fees: Decimal,
    #[serde(default, skip_serializing_if = "Decimal::is_zero")]
    cost_of_goods: Decimal,
    #[serde(default, skip_serializing_if = "is_zero_count")]
    refunded_units: u64,
    #[serde(default, skip_serializing_if = "Decimal::is_zero")]
    refunds: Decimal,
    #[serde(default, skip_serializing_if = "ChannelDay::is_empty")]
    search_ads: ChannelDay,
    #[serde(default, skip_serializing_if = "ChannelDay::is_empty")]
    social_ads: ChannelDay,
}

impl DayRecord {
    fn channel(&self, channel: AdChannel) -> &ChannelDay {
        match channel {
            AdChannel::SearchAds => &self.search_ads,
            AdChannel::SocialAds => &self.social_ads,
        }
    }

    fn channel_mut(&mut self, channel: AdChannel) -> &mut ChannelDay {
        match channel {
            AdChannel::SearchAds => &mut self.search_ads,
            AdChannel::SocialAds => &mut self.social_ads,
        }
    }
}

fn is_zero_count(count: &u64) -> bool {
    *count == 0
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct ChannelDay {
    #[serde(default, skip_serializing_if = "Decimal::is_zero")]
    spend: Decimal,
    #[serde(default, skip_serializing_if = "is_zero_count")]
    clicks: u64,
    #[serde(default, skip_serializing_if = "is_zero_count")]
    conversions: u64,
}

impl ChannelDay {
    fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct CampaignState {
    id: String,
    product_id: String,
    channel: AdChannel,
    daily_budget: Decimal,
    start_day: u32,
    /// The day after the last day it runs.
    end_day: u32,
}

impl CampaignState {
    fn runs_on(&self, day: u32) -> bool {
        self.start_day <= day && day < self.end_day
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct PostState {
    id: String,
    url: String,
    product_id: String,
    network: SocialNetwork,
    text: String,
    published_day: u32,
    /// First-day impressions, drawn when published; every later day follows from it.
    reach: u64,
}

impl PostState {
    fn on_day(&self, day: u32) -> PostDay {
        match day.checked_sub(self.published_day) {
            Some(age) => model::post_day(self.network, self.reach, age),
            None => PostDay::default(),
        }
    }

    /// Its numbers over days `from_day..end`, of which only its lifetime counts.
    fn over(&self, from_day: u32, end: u32) -> PostDay {
        let mut total = PostDay::default();
        let last = end.min(self.published_day.saturating_add(model::POST_LIFETIME_DAYS));
        for day in from_day.max(self.published_day)..last {
            let one = self.on_day(day);
            total.impressions += one.impressions;
            total.engagements += one.engagements;
            total.clicks += one.clicks;
        }
        total
    }
}

/// Refunds decided on a sale day and booked when they arrive.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct PendingRefund {
    product_id: String,
    due_day: u32,
    units: u64,
    amount: Decimal,
}

/// A side-effecting call as its idempotency record remembers it, parameters normalised
/// (prices rounded to cents) so that `10` and `10.00` are the same request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum Request {
    CreateStore { name: String },
    ListProduct(ProductListing),
    SetPrice { product_id: String, price: Decimal },
    LaunchCampaign(CampaignSpec),
    PublishPost(PostSpec),
}

impl Request {
    fn operation(&self) -> &'static str {
        match self {
            Self::CreateStore { .. } => "create_store",
            Self::ListProduct(_) => "list_product",
            Self::SetPrice { .. } => "set_price",
            Self::LaunchCampaign(_) => "launch_campaign",
            Self::PublishPost(_) => "publish_post",
        }
    }
}

/// What the first call with a key returned.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Outcome {
    Store(StoreRef),
    Product(ListedProduct),
    PriceSet,
    Campaign(CampaignRef),
    Post(PostRef),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct IdempotencyRecord {
    day: u32,
    request: Request,
    outcome: Outcome,
}

/// A tenant's world with its niches (derived from the seed) at hand.
#[derive(Debug)]
pub(super) struct World {
    state: WorldState,
    niches: Vec<NicheModel>,
}

impl World {
    /// A fresh world for `tenant` in a market seeded with `base_seed`.
    pub(super) fn new(base_seed: u64, tenant: TenantId) -> Self {
        // Tenants get their own seed, so their worlds differ, yet each is a pure
        // function of (base seed, tenant) and so stable across restarts.
        let seed = mix(&[base_seed, STREAM_TENANT, tenant.0 as u64]);
        Self {
            niches: niches_for(seed),
            state: WorldState {
                format: STATE_FORMAT,
                tenant,
                seed,
                today: 0,
                stores: Vec::new(),
                products: Vec::new(),
                campaigns: Vec::new(),
                posts: Vec::new(),
                pending_refunds: Vec::new(),
                idempotency: BTreeMap::new(),
            },
        }
    }

    /// A world restored from exported state, checked so that no later call can trip over
    /// a dangling reference.
    pub(super) fn restore(tenant: TenantId, state: WorldState) -> Result<Self, AdapterError> {
        if state.format != STATE_FORMAT {
            return Err(rejected(format!(
                "cannot import sandbox state of format {} (this version reads {STATE_FORMAT})",
                state.format
            )));
        }
        if state.tenant != tenant {
            return Err(rejected(format!("the sandbox state belongs to tenant {}, not tenant {tenant}", state.tenant)));
        }
        let world = Self { niches: niches_for(state.seed), state };
        world.check_consistency()?;
        Ok(world)
    }

    /// The same world, now the tenant `to`'s (see `SandboxMarket::rehome`).
    pub(super) fn rehomed(mut self, to: TenantId) -> Self {
        self.state.tenant = to;
        self
    }

    fn check_consistency(&self) -> Result<(), AdapterError> {
        let corrupt = |what: String| rejected(format!("corrupt sandbox state: {what}"));
        let state = &self.state;
        for product in &state.products {
            if self.niche(&product.niche).is_none() {
                return Err(corrupt(format!("product {} is in unknown niche '{}'", product.id, product.niche)));
            }
            if !state.stores.iter().any(|store| store.id == product.store_id) {
                return Err(corrupt(format!("product {} is in an unknown store", product.id)));
            }
            let price_ok = (MIN_PRICE..=MAX_AMOUNT).contains(&product.price);
            let cost_ok = (Decimal::ZERO..=MAX_AMOUNT).contains(&product.unit_cost);
            if !price_ok || !cost_ok {
                return Err(corrupt(format!("product {} has a price or unit cost out of range", product.id)));
            }
            let expected = state.today.checked_sub(product.listed_day);
            if expected != Some(product.history.len() as u32) {
                return Err(corrupt(format!("product {} has history that does not match its listing day", product.id)));
            }
        }
        let has_product = |id: &str| state.products.iter().any(|product| product.id == id);
        for campaign in &state.campaigns {
            let budget_ok = (MIN_DAILY_BUDGET..=MAX_AMOUNT).contains(&campaign.daily_budget);
            if !has_product(&campaign.product_id) || campaign.end_day < campaign.start_day || !budget_ok {
                return Err(corrupt(format!("campaign {} is inconsistent", campaign.id)));
            }
        }
        for post in &state.posts {
            if !has_product(&post.product_id) || post.published_day > state.today {
                return Err(corrupt(format!("post {} is inconsistent", post.id)));
            }
        }
        for refund in &state.pending_refunds {
            if !has_product(&refund.product_id) || refund.due_day < state.today {
                return Err(corrupt(format!("a pending refund of product {} is inconsistent", refund.product_id)));
            }
        }
        Ok(())
    }

    /// The state, for export.
    pub(super) fn state(&self) -> &WorldState {
        &self.state
    }

    /// The world's niches as its seed makes them, hidden parameters and all.
    pub(super) fn niche_models(&self) -> Vec<NicheModel> {
        niches_for(self.state.seed)
    }

    fn niche(&self, name: &str) -> Option<&NicheModel> {
        self.niches.iter().find(|niche| niche.spec.name == name)
    }

    fn product(&self, product_id: &str) -> Result<&ProductState, AdapterError> {
        self.state
            .products
            .iter()
            .find(|product| product.id == product_id)
            .ok_or_else(|| rejected(format!("no such product: '{product_id}'")))
    }

    /// An id unique within this world, readable, and carrying the tenant so an id passed
    /// to the wrong tenant is obviously wrong in logs.
    fn new_id(&self, kind: &str, number: usize) -> String {
        format!("sbx_t{}_{kind}_{number}", self.state.tenant)
    }

    /// The market as the tenant sees it today.
    pub(super) fn snapshot(&self) -> MarketSnapshot {
        MarketSnapshot {
            today: self.state.today,
            niches: self.niches.iter().map(|niche| niche.snapshot(self.state.today)).collect(),
        }
    }

    /// Runs `act` unless `key` was used before: then the first outcome is replayed if the
    /// request is the same, and refused if it is not.
    fn idempotent(
        &mut self,
        key: &IdempotencyKey,
        request: Request,
        act: impl FnOnce(&mut Self) -> Result<Outcome, AdapterError>,
    ) -> Result<Outcome, AdapterError> {
        if let Some(record) = self.state.idempotency.get(key.as_str()) {
            if record.request == request {
                return Ok(record.outcome.clone());
            }
            return Err(rejected(format!(
                "idempotency_error: key {key} was already used for a {} request with different \
                 parameters; retry with the original parameters or use a new key",
                record.request.operation()
            )));
        }
        // Failed calls leave no record (as with Stripe's validation errors), so a
        // corrected retry with the same key goes through.
        let outcome = act(self)?;
        self.state.idempotency.insert(
            key.as_str().to_owned(),
            IdempotencyRecord { day: self.state.today, request, outcome: outcome.clone() },
        );
        Ok(outcome)
    }

    /// Opens a store.
    pub(super) fn create_store(&mut self, name: &str, key: &IdempotencyKey) -> Result<StoreRef, AdapterError> {
        let name = name.trim();
        if name.is_empty() {
            return Err(rejected("store name must not be empty"));
        }
        if name.chars().count() > 100 {
            return Err(rejected("store name must be at most 100 characters"));
        }
        let request = Request::CreateStore { name: name.to_owned() };
        let outcome = self.idempotent(key, request, |world| {
            let id = world.new_id("store", world.state.stores.len() + 1);
            let url =
                format!("{BASE_URL}/t{}/stores/{}-{}", world.state.tenant, slug(name), world.state.stores.len() + 1);
            world.state.stores.push(StoreState { id: id.clone(), name: name.to_owned(), url: url.clone() });
            Ok(Outcome::Store(StoreRef { store_id: id, url }))
        })?;
        match outcome {
            Outcome::Store(store) => Ok(store),
            other => Err(mismatched_record(key, &other)),
        }
    }

    /// Lists a product.
    pub(super) fn list_product(
        &mut self,
        listing: &ProductListing,
        key: &IdempotencyKey,
    ) -> Result<ListedProduct, AdapterError> {
        let price = checked_price(listing.price)?;
        if listing.unit_cost < Decimal::ZERO {
            return Err(rejected(format!("unit cost must not be negative (got {})", listing.unit_cost)));
        }
        if listing.unit_cost > MAX_AMOUNT {
            return Err(rejected(format!("unit cost must be at most {MAX_AMOUNT}")));
        }
        let title = listing.title.trim();
        if title.is_empty() {
            return Err(rejected("product title must not be empty"));
        }
        if title.chars().count() > 200 {
            return Err(rejected("product title must be at most 200 characters"));
        }
        if self.niche(&listing.niche).is_none() {
            return Err(rejected(format!("no such niche: '{}' (the market snapshot lists the niches)", listing.niche)));
        }
        if !self.state.stores.iter().any(|store| store.id == listing.store_id) {
            return Err(rejected(format!("no such store: '{}'", listing.store_id)));
        }
        let normalised = ProductListing {
            title: title.to_owned(),
            price,
            unit_cost: money::round_cents(listing.unit_cost),
            ..listing.clone()
        };
        let outcome = self.idempotent(key, Request::ListProduct(normalised.clone()), |world| {
            let id = world.new_id("prod", world.state.products.len() + 1);
            let url = format!("{BASE_URL}/t{}/products/{id}", world.state.tenant);
            world.state.products.push(ProductState {
                id: id.clone(),
                url: url.clone(),
                store_id: normalised.store_id,
                niche: normalised.niche,
                title: normalised.title,
                description: normalised.description,
                tags: normalised.tags,
                price: normalised.price,
                unit_cost: normalised.unit_cost,
                listed_day: world.state.today,
                history: Vec::new(),
            });
            Ok(Outcome::Product(ListedProduct { product_id: id, url }))
        })?;
        match outcome {
            Outcome::Product(product) => Ok(product),
            other => Err(mismatched_record(key, &other)),
        }
    }

    /// Changes a product's price from today on.
    pub(super) fn set_price(
        &mut self,
        product_id: &str,
        price: Decimal,
        key: &IdempotencyKey,
    ) -> Result<(), AdapterError> {
        let price = checked_price(price)?;
        self.product(product_id)?;
        let request = Request::SetPrice { product_id: product_id.to_owned(), price };
        let outcome = self.idempotent(key, request, |world| {
            if let Some(product) = world.state.products.iter_mut().find(|product| product.id == product_id) {
                product.price = price;
            }
            Ok(Outcome::PriceSet)
        })?;
        match outcome {
            Outcome::PriceSet => Ok(()),
            other => Err(mismatched_record(key, &other)),
        }
    }

    /// Starts a campaign today.
    pub(super) fn launch_campaign(
        &mut self,
        spec: &CampaignSpec,
        key: &IdempotencyKey,
    ) -> Result<CampaignRef, AdapterError> {
        if spec.daily_budget <= Decimal::ZERO {
            return Err(rejected(format!("daily budget must be greater than zero (got {})", spec.daily_budget)));
        }
        let daily_budget = money::round_cents(spec.daily_budget);
        if daily_budget < MIN_DAILY_BUDGET {
            return Err(rejected(format!(
                "daily budget must be at least {MIN_DAILY_BUDGET} (got {})",
                spec.daily_budget
            )));
        }
        if daily_budget > MAX_AMOUNT {
            return Err(rejected(format!("daily budget must be at most {MAX_AMOUNT}")));
        }
        if spec.days == 0 {
            return Err(rejected("a campaign must run for at least one day (got 0)"));
        }
        if spec.days > MAX_CAMPAIGN_DAYS {
            return Err(rejected(format!(
                "a campaign may run for at most {MAX_CAMPAIGN_DAYS} days (got {})",
                spec.days
            )));
        }
        self.product(&spec.product_id)?;
        // The copy is for real ad platforms: no one reads a simulated ad, and a key
        // replayed with the copy rewritten (a price changed in between) is the same flight.
        let normalised = CampaignSpec { daily_budget, creative: AdCreative::default(), ..spec.clone() };
        let outcome = self.idempotent(key, Request::LaunchCampaign(normalised.clone()), |world| {
            let id = world.new_id("cmp", world.state.campaigns.len() + 1);
            let start_day = world.state.today;
            world.state.campaigns.push(CampaignState {
                id: id.clone(),
                product_id: normalised.product_id,
                channel: normalised.channel,
                daily_budget: normalised.daily_budget,
                start_day,
                end_day: start_day.saturating_add(normalised.days),
            });
            Ok(Outcome::Campaign(CampaignRef { campaign_id: id }))
        })?;
        match outcome {
            Outcome::Campaign(campaign) => Ok(campaign),
            other => Err(mismatched_record(key, &other)),
        }
    }

    /// Publishes a post today.
    pub(super) fn publish_post(&mut self, post: &PostSpec, key: &IdempotencyKey) -> Result<PostRef, AdapterError> {
        let text = post.text.trim();
        if text.is_empty() {
            return Err(rejected("post text must not be empty"));
        }
        let limit = post.network.max_text_chars();
        let length = text.chars().count();
        if length > limit {
            return Err(rejected(format!(
                "post text is {length} characters; {:?} accepts at most {limit}",
                post.network
            )));
        }
        self.product(&post.product_id)?;
        let normalised = PostSpec { text: text.to_owned(), ..post.clone() };
        let outcome = self.idempotent(key, Request::PublishPost(normalised.clone()), |world| {
            let number = world.state.posts.len() + 1;
            let id = world.new_id("post", number);
            let network = normalised.network;
            let mut draws = Draws::new(&[world.state.seed, STREAM_POST, number as u64]);
            let reach = model::post_reach(network, draws.normal());
            let url = format!("{BASE_URL}/t{}/{}/posts/{id}", world.state.tenant, network_slug(network));
            world.state.posts.push(PostState {
                id: id.clone(),
                url: url.clone(),
                product_id: normalised.product_id,
                network,
                text: normalised.text,
                published_day: world.state.today,
                reach,
            });
            Ok(Outcome::Post(PostRef { post_id: id, url }))
        })?;
        match outcome {
            Outcome::Post(post) => Ok(post),
            other => Err(mismatched_record(key, &other)),
        }
    }

    /// Lets `days` days pass.
    pub(super) fn advance(&mut self, days: u32) -> Result<(), AdapterError> {
        if days > MAX_ADVANCE_DAYS {
            return Err(rejected(format!("advance covers at most {MAX_ADVANCE_DAYS} days per call (got {days})")));
        }
        let end =
            self.state.today.checked_add(days).ok_or_else(|| rejected("the sandbox calendar cannot run that far"))?;
        for day in self.state.today..end {
            self.simulate_day(day);
            self.state.today = day + 1;
        }
        let today = self.state.today;
        self.state.idempotency.retain(|_, record| record.day.saturating_add(IDEMPOTENCY_RETENTION_DAYS) > today);
        Ok(())
    }

    /// Simulates `day` for every product, then books the refunds that arrive on it.
    fn simulate_day(&mut self, day: u32) {
        // Pass 1 (read-only): what each product sells. Pass 2: write it down. Splitting
        // them keeps the borrow of campaigns, posts and niches apart from the products.
        let records: Vec<(DayRecord, Option<PendingRefund>)> =
            (0..self.state.products.len()).map(|index| self.product_day(index, day)).collect();
        for (product, (record, refund)) in self.state.products.iter_mut().zip(records) {
            product.history.push(record);
            if let Some(refund) = refund {
                self.state.pending_refunds.push(refund);
            }
        }
        let (due, pending): (Vec<PendingRefund>, Vec<PendingRefund>) =
            self.state.pending_refunds.drain(..).partition(|refund| refund.due_day == day);
        self.state.pending_refunds = pending;
        for refund in due {
            let Some(product) = self.state.products.iter_mut().find(|product| product.id == refund.product_id) else {
                continue;
            };
            let index = day.saturating_sub(product.listed_day) as usize;
            if let Some(record) = product.history.get_mut(index) {
                record.refunded_units += refund.units;
                record.refunds += refund.amount;
            }
        }
    }

    /// One product's sales on `day`, and the refund they will bring later.
    ///
    /// The draws are taken in a fixed order and always all taken, whatever the inputs,
    /// so a change to one input (a price, a budget) moves only what it should.
    fn product_day(&self, index: usize, day: u32) -> (DayRecord, Option<PendingRefund>) {
        let mut record = DayRecord::default();
        let Some(product) = self.state.products.get(index) else {
            return (record, None);
        };
        let Some(niche) = self.niche(&product.niche) else {
            return (record, None);
        };
        let mut draws = Draws::new(&[self.state.seed, STREAM_DAY, u64::from(day), index as u64]);

        let ratio = money::to_f64(product.price) / money::to_f64(niche.reference_price).max(0.01);
        let price_factor = model::price_response(ratio, niche.spec.elasticity);
        let quality = model::listing_quality(product.tags.len(), &product.description);
        let season = model::weekly_season(niche.spec, day)
            * model::yearly_season(niche.spec, day)
            * model::trend_growth(niche.trend, day);
        let noise = draws.between(1.0 - model::DAILY_NOISE, 1.0 + model::DAILY_NOISE);
        let siblings = self.state.products.iter().filter(|other| other.niche == product.niche).count();
        // Everything that moves all of this product's buyers alike.
        let appeal = season * price_factor * quality * noise;

        let organic = niche.demand * model::market_share(niche.competition, siblings) * appeal;
        let mut units = draws.poisson(organic);

        for channel in AdChannel::ALL {
            let spend: Decimal = self
                .state
                .campaigns
                .iter()
                .filter(|campaign| {
                    campaign.product_id == product.id && campaign.channel == channel && campaign.runs_on(day)
                })
                .map(|campaign| campaign.daily_budget)
                .sum();
            let click_noise = draws.between(1.0 - model::DAILY_NOISE, 1.0 + model::DAILY_NOISE);
            let conversion_draw = draws.uniform();
            if spend.is_zero() {
                continue;
            }
            // Campaigns on one product and channel pool their budgets: two campaigns of
            // 100 saturate like one of 200.
            let spend_f = money::to_f64(spend);
            let clicks = (model::ad_clicks(channel, niche, spend_f) * click_noise).round() as u64;
            let buyers = model::ad_buyers(channel, niche, spend_f) * appeal;
            let conversions = poisson_quantile(buyers, conversion_draw).min(clicks);
            *record.channel_mut(channel) = ChannelDay { spend, clicks, conversions };
            units = units.saturating_add(conversions);
        }

        let post_clicks: u64 = self
            .state
            .posts
            .iter()
            .filter(|post| post.product_id == product.id)
            .map(|post| post.on_day(day).clicks)
            .sum();
        let social = post_clicks as f64 * model::POST_CLICK_CONVERSION * price_factor * quality;
        units = units.saturating_add(draws.poisson(social));

        let unit_count = Decimal::from(units);
        record.units = units;
        record.gross = product.price * unit_count;
        record.fees = money::payment_fee(product.price) * unit_count;
        record.cost_of_goods = product.unit_cost * unit_count;

        // Refunds: each unit is returned with the niche's rate (a Poisson draw stands in
        // for the binomial; the rates are small), arriving a few days later at the price
        // paid. Card fees are not returned, as with Stripe.
        let refund_draw = draws.uniform();
        let delay_draw = draws.uniform();
        let refunded = poisson_quantile(units as f64 * niche.spec.refund_rate, refund_draw).min(units);
        let refund = (refunded > 0).then(|| {
            let (shortest, longest) = model::REFUND_DELAY_DAYS;
            let spread = f64::from(longest - shortest + 1);
            let delay = shortest + ((delay_draw * spread) as u32).min(longest - shortest);
            PendingRefund {
                product_id: product.id.clone(),
                due_day: day.saturating_add(delay),
                units: refunded,
                amount: product.price * Decimal::from(refunded),
            }
        });
        (record, refund)
    }

    /// What happened on days `from_day..to_day`.
    pub(super) fn report(&self, from_day: u32, to_day: u32) -> Result<PerformanceReport, AdapterError> {
        if from_day > to_day {
            return Err(rejected(format!("report range is empty: from_day {from_day} is after to_day {to_day}")));
        }
        // Only days that have happened have numbers.
        let end = to_day.min(self.state.today);
        let products = self.state.products.iter().map(|product| product_performance(product, from_day, end)).collect();
        let campaigns = self
            .state
            .campaigns
            .iter()
            .map(|campaign| {
                let first = from_day.max(campaign.start_day);
                let last = end.min(campaign.end_day);
                let days = last.saturating_sub(first);
                CampaignPerformance {
                    campaign_id: campaign.id.clone(),
                    product_id: campaign.product_id.clone(),
                    channel: campaign.channel,
                    daily_budget: campaign.daily_budget,
                    start_day: campaign.start_day,
                    end_day: campaign.end_day,
                    spend: campaign.daily_budget * Decimal::from(days),
                }
            })
            .collect();
        let posts = self
            .state
            .posts
            .iter()
            .map(|post| {
                let total = post.over(from_day, end);
                PostPerformance {
                    post_id: post.id.clone(),
                    product_id: post.product_id.clone(),
                    network: post.network,
                    published_day: post.published_day,
                    impressions: total.impressions,
                    engagements: total.engagements,
                    clicks: total.clicks,
                }
            })
            .collect();
        Ok(PerformanceReport {
            platform: Platform::Sandbox,
            from_day,
            to_day,
            today: self.state.today,
            products,
            campaigns,
            posts,
        })
    }
}

impl World {
    /// What each of `wanted` has drawn from its publishing to today.
    pub(super) fn post_engagement(&self, wanted: &[PublishedPost]) -> Vec<PostEngagement> {
        self.state
            .posts
            .iter()
            .filter(|post| wanted.iter().any(|one| one.post_id == post.id && one.network == post.network))
            .map(|post| {
                let total = post.over(post.published_day, self.state.today);
                PostEngagement {
                    post_id: post.id.clone(),
                    network: post.network,
                    impressions: total.impressions,
                    engagements: total.engagements,
                    clicks: total.clicks,
                }
            })
            .collect()
    }
}

/// Sums a product's history over `from_day..end`.
fn product_performance(product: &ProductState, from_day: u32, end: u32) -> ProductPerformance {
    let first = from_day.saturating_sub(product.listed_day) as usize;
    let last = end.saturating_sub(product.listed_day) as usize;
    let days = product.history.get(first..last.max(first)).unwrap_or(&[]);
    let mut channels: HashMap<AdChannel, ChannelDay> = HashMap::new();
    let mut total = DayRecord::default();
    for record in days {
        total.units += record.units;
        total.gross += record.gross;
        total.fees += record.fees;
        total.cost_of_goods += record.cost_of_goods;
        total.refunded_units += record.refunded_units;
        total.refunds += record.refunds;
        for channel in AdChannel::ALL {
            let day = record.channel(channel);
            let sum = channels.entry(channel).or_default();
            sum.spend += day.spend;
            sum.clicks += day.clicks;
            sum.conversions += day.conversions;
        }
    }
    ProductPerformance {
        product_id: product.id.clone(),
        niche: product.niche.clone(),
        price: product.price,
        units_sold: total.units,
        gross_revenue: total.gross,
        refunded_units: total.refunded_units,
        refunds: total.refunds,
        payment_fees: total.fees,
        cost_of_goods: total.cost_of_goods,
        channels: AdChannel::ALL
            .iter()
            .map(|&channel| {
                let sum = channels.remove(&channel).unwrap_or_default();
                ChannelPerformance { channel, spend: sum.spend, clicks: sum.clicks, conversions: sum.conversions }
            })
            .collect(),
    }
}

/// `price` rounded to cents, or why it cannot be a price.
fn checked_price(price: Decimal) -> Result<Decimal, AdapterError> {
    if price <= Decimal::ZERO {
        return Err(rejected(format!("price must be greater than zero (got {price})")));
    }
    let rounded = money::round_cents(price);
    if rounded < MIN_PRICE {
        return Err(rejected(format!("price must be at least {MIN_PRICE}, the smallest card charge (got {price})")));
    }
    if rounded > MAX_AMOUNT {
        return Err(rejected(format!("price must be at most {MAX_AMOUNT} (got {price})")));
    }
    Ok(rounded)
}

/// A record whose request matched but whose outcome is of another kind can only come
/// from a hand-edited import; refuse rather than guess.
fn mismatched_record(key: &IdempotencyKey, outcome: &Outcome) -> AdapterError {
    rejected(format!("idempotency_error: the record for key {key} holds an unexpected {outcome:?}"))
}

/// A URL-safe form of a name: lowercase letters and digits, dashes between words.
fn slug(name: &str) -> String {
    let mut slug = String::new();
    for character in name.chars().flat_map(char::to_lowercase) {
        if character.is_ascii_alphanumeric() {
            slug.push(character);
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    let slug = slug.trim_end_matches('-');
    if slug.is_empty() { "store".to_owned() } else { slug.to_owned() }
}

/// A network's name in sandbox URLs.
fn network_slug(network: SocialNetwork) -> &'static str {
    match network {
        SocialNetwork::X => "x",
        SocialNetwork::LinkedIn => "linkedin",
        SocialNetwork::Reddit => "reddit",
        SocialNetwork::TikTok => "tiktok",
        SocialNetwork::YouTube => "youtube",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_url_safe() {
        assert_eq!(slug("  Focus & Flow Studio!! "), "focus-flow-studio");
        assert_eq!(slug("!!!"), "store");
    }
}
