//! The adapter actor: one per connected account (tenant × platform), supervised in the
//! tenant's swarm like its agents.
//!
//! A business that sells on a real platform reaches it through one actor, and each of
//! its connected marketing channels (X, TikTok, Google Ads, …) through one of its own
//! ([`AccountOpener::channels`]), so a channel that panics, stalls or is throttled
//! touches neither the shop nor the other channels. An actor is
//! spawned by the first call that needs it (not when the swarm starts: a swarm that only
//! answers the dashboard never opens its credentials), linked to the swarm, restarted one
//! for one when it fails (counted in the swarm's restart intensity, like an agent), and
//! stopped with the swarm when it is passivated or shut down.
//!
//! - **Credentials** are opened only in the actor's start ([`AccountOpener::open`]): the
//!   market it builds holds them; nothing else in the swarm does.
//! - **Calls** arrive already admitted by the tenant's throttle (the
//!   [`GuardedMarket`](crate::throttle::GuardedMarket) in front of [`ActorMarket`]), so
//!   the mailbox holds at most the tenant's platform calls in flight even though ractor's
//!   mailboxes are unbounded. Each call runs as its own task under the actor, so a slow
//!   platform call does not queue the next; a call that panics fails the actor, whose
//!   supervisor starts a new one (the caller gets an `unavailable` error, never a hang).
//! - **State** (`idle`, `working`, `throttled`, `circuit_open`, `restarting`) is
//!   published on the live view's feed as the node's colour, and kept for its snapshot.
//! - **Saved state** (a live market's day marks, the products it listed) is restored in
//!   the actor's start, so a restarted actor goes on from the last checkpoint.
//!
//! Lifecycle events: `adapter.started`, `adapter.failed`, `adapter.restarted`.

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use boardroom_adapters::{
    AdChannel, AdapterError, CampaignDay, CampaignRef, CampaignSpec, ChannelStatus, CircuitState, IdempotencyKey,
    ListedProduct, MarketSnapshot, Marketplace, PerformanceReport, Platform, PostEngagement, PostRef, PostSpec,
    ProductListing, PublishedPost, SocialNetwork, StoreRef,
};
use boardroom_memory::{EventLog, NewEvent, SharedStore, TenantId};
use chrono::NaiveDate;
use futures::FutureExt;
use futures::future::BoxFuture;
use ractor::{Actor, ActorCell, ActorProcessingErr, ActorRef};
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinSet;

use crate::activity::{Activity, ActivityFeed, adapter_node};

/// How long a stopping adapter lets its calls in flight finish before cutting them off.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Opens one connected account: unseals its credentials and builds the market that
/// speaks to the platform with them. Called in the adapter actor's start, and again at
/// each restart; its failure (credentials that no longer open, an account gone) is what
/// the calls that needed the actor answer with.
#[async_trait]
pub trait AccountOpener: Send + Sync {
    /// The platform the account is on.
    fn platform(&self) -> Platform;

    /// Unseals the credentials and builds the market.
    async fn open(&self) -> Result<Arc<dyn Marketplace>, AdapterError>;

    /// The business's connected marketing accounts in front of this one, each opened by
    /// an adapter actor of its own (tenant × channel): a panic or a slow platform there
    /// touches neither the selling account nor the other channels.
    fn channels(&self) -> Vec<Arc<dyn AccountOpener>> {
        Vec::new()
    }
}

/// What a swarm acts on, as chosen when it starts (see
/// [`TenantMarkets`](crate::TenantMarkets)).
pub enum SwarmMarket {
    /// A market shared by every tenant that chose it (the sandbox, or a dry run over it):
    /// no account, no adapter actor.
    Shared(Arc<dyn Marketplace>),
    /// The tenant's own connected account, reached through its adapter actor.
    Account(Arc<dyn AccountOpener>),
}

/// An adapter's state, as the live view colours its node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AdapterState {
    /// Not started yet (no call has needed it), or started and waiting for work.
    Idle,
    /// Calls are in flight.
    Working,
    /// The platform asked us to slow down on the last call.
    Throttled,
    /// The platform kept failing: its circuit breaker refuses calls for a while.
    CircuitOpen,
    /// It failed and a new actor is being started.
    Restarting,
}

/// How a call ended, for the adapter's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Done,
    RateLimited,
}

impl Outcome {
    fn of<T>(result: &Result<T, AdapterError>) -> Self {
        match result {
            Err(AdapterError::RateLimited { .. }) => Self::RateLimited,
            _ => Self::Done,
        }
    }
}

/// One platform call, owned, to run against the opened market.
type Job = Box<dyn FnOnce(Arc<dyn Marketplace>) -> BoxFuture<'static, Outcome> + Send>;

/// What the adapter actor handles.
enum AdapterMessage {
    /// Run a call.
    Call(Job),
    /// A call's task ended.
    Finished(Outcome),
    /// A call's task panicked: the actor fails, and its supervisor starts a new one.
    Panicked(String),
}

/// Where the adapter's actor stands.
#[derive(Clone)]
enum Running {
    /// Not started: the next call starts it.
    Down,
    /// Up.
    Up(ActorRef<AdapterMessage>),
    /// The swarm is stopped: calls fail at once.
    Closed(&'static str),
}

/// The part of a tenant's adapter that outlives its actors: the account's opener, the
/// supervisor to link to, and the state the live view reads.
pub(crate) struct AdapterSlot {
    tenant: TenantId,
    platform: Platform,
    node: Arc<str>,
    opener: Arc<dyn AccountOpener>,
    running: Mutex<Running>,
    /// The swarm actor that supervises the adapter (set by each swarm as it starts).
    supervisor: Mutex<Option<ActorCell>>,
    /// Only one start at a time.
    starting: tokio::sync::Mutex<()>,
    shown: watch::Sender<AdapterState>,
    /// The opened market while an actor runs, for its circuit's state.
    opened: Mutex<Option<Arc<dyn Marketplace>>>,
    /// Why the account last refused to open (its credentials no longer open, it was
    /// disconnected), until it opens.
    refused: Mutex<Option<String>>,
    store: SharedStore,
    events: EventLog,
    activity: ActivityFeed,
}

/// What an adapter's slot needs from the swarm's services.
pub(crate) struct AdapterServices {
    pub(crate) store: SharedStore,
    pub(crate) events: EventLog,
    pub(crate) activity: ActivityFeed,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Each value is replaced whole under the lock: a panic elsewhere cannot leave it
    // half-written.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl AdapterSlot {
    pub(crate) fn new(tenant: TenantId, opener: Arc<dyn AccountOpener>, services: AdapterServices) -> Self {
        let platform = opener.platform();
        Self {
            tenant,
            platform,
            node: adapter_node(platform),
            opener,
            running: Mutex::new(Running::Closed("the swarm has not started")),
            supervisor: Mutex::new(None),
            starting: tokio::sync::Mutex::new(()),
            shown: watch::Sender::new(AdapterState::Idle),
            opened: Mutex::new(None),
            refused: Mutex::new(None),
            store: services.store,
            events: services.events,
            activity: services.activity,
        }
    }

    /// The node's name on the live view (`market:shopify`).
    pub(crate) fn node(&self) -> &Arc<str> {
        &self.node
    }

    /// The platform the account is on.
    pub(crate) fn platform(&self) -> Platform {
        self.platform
    }

    /// The adapter's state now: its circuit's when that is open.
    pub(crate) fn state(&self) -> AdapterState {
        if self.circuit_state() == Some(CircuitState::Open) {
            return AdapterState::CircuitOpen;
        }
        *self.shown.borrow()
    }

    /// The circuit breaker's state of the opened market (`None` before it is opened).
    pub(crate) fn circuit_state(&self) -> Option<CircuitState> {
        lock(&self.opened).as_ref().and_then(|market| market.circuit_state())
    }

    /// The actor's id while one runs.
    pub(crate) fn actor_id(&self) -> Option<ractor::ActorId> {
        match &*lock(&self.running) {
            Running::Up(actor) => Some(actor.get_id()),
            _ => None,
        }
    }

    /// A swarm started: the adapter is started under it when first needed.
    pub(crate) fn attach(&self, supervisor: ActorCell) {
        *lock(&self.supervisor) = Some(supervisor);
        *lock(&self.running) = Running::Down;
    }

    /// The swarm stopped (its children, the actor included, are stopped with it).
    pub(crate) fn close(&self, why: &'static str) {
        *lock(&self.supervisor) = None;
        *lock(&self.running) = Running::Closed(why);
        *lock(&self.opened) = None;
        self.show(AdapterState::Idle);
    }

    fn show(&self, state: AdapterState) {
        if self.shown.send_replace(state) != state {
            self.activity.publish(|| Activity::Adapter { adapter: self.node.clone(), state });
        }
    }

    async fn emit(&self, kind: &str, summary: String, data: Value) {
        let event = NewEvent::now(self.tenant, self.platform.as_str(), kind, summary).with_data(data);
        if let Err(error) = self.events.append(event).await {
            tracing::warn!(%error, tenant = %self.tenant, "adapter lifecycle event not recorded");
        }
    }

    fn unavailable(&self, message: impl Into<String>) -> AdapterError {
        AdapterError::Unavailable { platform: self.platform, message: message.into() }
    }

    /// The running actor, started now if none runs.
    async fn actor(self: &Arc<Self>) -> Result<ActorRef<AdapterMessage>, AdapterError> {
        if let Some(actor) = self.running_actor()? {
            return Ok(actor);
        }
        let _starting = self.starting.lock().await;
        // Someone else may have started it while we waited.
        if let Some(actor) = self.running_actor()? {
            return Ok(actor);
        }
        self.start(false).await
    }

    fn running_actor(&self) -> Result<Option<ActorRef<AdapterMessage>>, AdapterError> {
        match &*lock(&self.running) {
            Running::Up(actor) => Ok(Some(actor.clone())),
            Running::Down => Ok(None),
            Running::Closed(why) => Err(self.unavailable(format!("the adapter is not running: {why}"))),
        }
    }

    /// Starts an actor under the swarm; `restart` says whether it replaces a failed one
    /// (for the event).
    async fn start(self: &Arc<Self>, restart: bool) -> Result<ActorRef<AdapterMessage>, AdapterError> {
        let supervisor = lock(&self.supervisor).clone().ok_or_else(|| self.unavailable("the swarm is stopped"))?;
        let spawned = Actor::spawn_linked(None, AdapterActor, self.clone(), supervisor).await;
        match spawned {
            Ok((actor, _)) => {
                *lock(&self.running) = Running::Up(actor.clone());
                *lock(&self.refused) = None;
                self.show(AdapterState::Idle);
                let platform = self.platform.display_name();
                let (kind, summary) = if restart {
                    ("adapter.restarted", format!("the {platform} adapter restarted"))
                } else {
                    ("adapter.started", format!("the {platform} adapter started"))
                };
                self.emit(kind, summary, json!({ "platform": self.platform })).await;
                Ok(actor)
            }
            Err(error) => {
                // The start failed in `open`: say why to the caller; the next call tries
                // again (the owner may have fixed the connection meanwhile).
                *lock(&self.running) = Running::Down;
                self.show(AdapterState::Idle);
                let error = match error {
                    ractor::SpawnErr::StartupFailed(inner) => match inner.downcast::<OpenFailed>() {
                        Ok(failed) => failed.0,
                        Err(other) => self.unavailable(format!("the adapter did not start: {other}")),
                    },
                    other => self.unavailable(format!("the adapter did not start: {other}")),
                };
                if let AdapterError::Rejected { message, .. } = &error {
                    *lock(&self.refused) = Some(message.clone());
                }
                Err(error)
            }
        }
    }

    /// The actor failed: calls wait for its replacement's start; the failure is an
    /// event.
    pub(crate) async fn failed(&self, reason: &str) {
        *lock(&self.running) = Running::Down;
        *lock(&self.opened) = None;
        self.show(AdapterState::Restarting);
        let platform = self.platform.display_name();
        self.emit(
            "adapter.failed",
            format!("the {platform} adapter failed: {reason}"),
            json!({ "platform": self.platform, "error": reason }),
        )
        .await;
    }

    /// Starts the failed actor's replacement at once (one for one), unless a call
    /// started one meanwhile or the swarm is stopping.
    pub(crate) async fn restart(self: &Arc<Self>) -> Result<(), AdapterError> {
        let _starting = self.starting.lock().await;
        if lock(&self.supervisor).is_none() || self.running_actor()?.is_some() {
            return Ok(());
        }
        self.start(true).await.map(drop)
    }
}

/// What a panic said, when it said it as text.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|text| (*text).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

/// Hosts one connected account's market.
struct AdapterActor;

struct AdapterActorState {
    slot: Arc<AdapterSlot>,
    market: Arc<dyn Marketplace>,
    in_flight: usize,
    tasks: JoinSet<()>,
}

impl AdapterActorState {
    fn settle(&self, outcome: Outcome) {
        let state = if outcome == Outcome::RateLimited {
            AdapterState::Throttled
        } else if self.in_flight > 0 {
            AdapterState::Working
        } else {
            AdapterState::Idle
        };
        self.slot.show(state);
    }
}

/// Why an adapter could not start: the account's own answer, handed back to the call
/// that needed the adapter.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct OpenFailed(AdapterError);

impl Actor for AdapterActor {
    type Msg = AdapterMessage;
    type State = AdapterActorState;
    type Arguments = Arc<AdapterSlot>;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        slot: Arc<AdapterSlot>,
    ) -> Result<Self::State, ActorProcessingErr> {
        let market = slot.opener.open().await.map_err(OpenFailed)?;
        // A live market's state (its day marks, what it listed) as last checkpointed.
        let saved = slot.store.adapter_state(slot.tenant, slot.platform.as_str()).await;
        let unreadable = |error: String| OpenFailed(AdapterError::rejected(slot.platform, error));
        if let Some(saved) = saved.map_err(|error| unreadable(format!("the saved state is unreadable: {error}")))? {
            market.import_state(slot.tenant, saved).await.map_err(OpenFailed)?;
        }
        *lock(&slot.opened) = Some(market.clone());
        Ok(AdapterActorState { slot, market, in_flight: 0, tasks: JoinSet::new() })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            AdapterMessage::Call(job) => {
                state.in_flight += 1;
                state.slot.show(AdapterState::Working);
                let market = state.market.clone();
                state.tasks.spawn(async move {
                    let ended = match AssertUnwindSafe(job(market)).catch_unwind().await {
                        Ok(outcome) => AdapterMessage::Finished(outcome),
                        Err(panic) => AdapterMessage::Panicked(panic_message(panic.as_ref())),
                    };
                    // The actor may be stopping; the call's own answer went out already.
                    let _ = myself.cast(ended);
                });
            }
            AdapterMessage::Finished(outcome) => {
                state.in_flight = state.in_flight.saturating_sub(1);
                while state.tasks.try_join_next().is_some() {}
                state.settle(outcome);
            }
            AdapterMessage::Panicked(reason) => {
                return Err(format!("a call panicked: {reason}").into());
            }
        }
        Ok(())
    }

    async fn post_stop(&self, _myself: ActorRef<Self::Msg>, state: &mut Self::State) -> Result<(), ActorProcessingErr> {
        // Passivation or shutdown: let the calls in flight finish, within reason.
        let drained = tokio::time::timeout(DRAIN_TIMEOUT, async { while state.tasks.join_next().await.is_some() {} });
        if drained.await.is_err() {
            state.tasks.abort_all();
        }
        Ok(())
    }
}

/// A connected account as the swarm's market: every call goes to its adapter actor.
pub(crate) struct ActorMarket {
    slot: Arc<AdapterSlot>,
}

impl ActorMarket {
    pub(crate) fn new(slot: Arc<AdapterSlot>) -> Self {
        Self { slot }
    }

    async fn call<T: Send + 'static>(
        &self,
        work: impl FnOnce(Arc<dyn Marketplace>) -> BoxFuture<'static, Result<T, AdapterError>> + Send + 'static,
    ) -> Result<T, AdapterError> {
        let (answer, answered) = oneshot::channel();
        let job: Job = Box::new(move |market| {
            async move {
                let result = work(market).await;
                let outcome = Outcome::of(&result);
                // The caller may have given up (its deadline passed): nothing to do.
                let _ = answer.send(result);
                outcome
            }
            .boxed()
        });
        let actor = self.slot.actor().await?;
        actor.cast(AdapterMessage::Call(job)).map_err(|_| self.slot.unavailable("the adapter stopped"))?;
        answered.await.map_err(|_| self.slot.unavailable("the adapter stopped during the call"))?
    }
}

#[async_trait]
impl Marketplace for ActorMarket {
    fn platform(&self) -> Platform {
        self.slot.platform
    }

    fn is_simulated(&self) -> bool {
        false
    }

    fn advertises(&self) -> bool {
        lock(&self.slot.opened).as_ref().is_some_and(|market| market.advertises())
    }

    fn ad_channels(&self) -> Vec<AdChannel> {
        lock(&self.slot.opened).as_ref().map_or_else(Vec::new, |market| market.ad_channels())
    }

    fn social_networks(&self) -> Vec<SocialNetwork> {
        lock(&self.slot.opened).as_ref().map_or_else(Vec::new, |market| market.social_networks())
    }

    // Read beside the actor, not through its mailbox: a dashboard must not wait behind
    // a slow platform call.
    // A channel that refused to open needs its owner, for the reason it gave.
    async fn channel_states(&self) -> Vec<ChannelStatus> {
        let opened = lock(&self.slot.opened).clone();
        match opened {
            Some(market) => market.channel_states().await,
            None if self.slot.platform.is_marketing_channel() => {
                let refused = lock(&self.slot.refused).clone();
                refused
                    .map(|why| ChannelStatus {
                        platform: self.slot.platform,
                        circuit: CircuitState::Closed,
                        needs_owner: Some(why),
                    })
                    .into_iter()
                    .collect()
            }
            None => Vec::new(),
        }
    }

    fn circuit_state(&self) -> Option<CircuitState> {
        self.slot.circuit_state()
    }

    async fn market_snapshot(&self, tenant: TenantId) -> Result<MarketSnapshot, AdapterError> {
        self.call(move |market| async move { market.market_snapshot(tenant).await }.boxed()).await
    }

    async fn create_store(&self, tenant: TenantId, name: &str, key: &IdempotencyKey) -> Result<StoreRef, AdapterError> {
        let (name, key) = (name.to_owned(), key.clone());
        self.call(move |market| async move { market.create_store(tenant, &name, &key).await }.boxed()).await
    }

    async fn list_product(
        &self,
        tenant: TenantId,
        listing: &ProductListing,
        key: &IdempotencyKey,
    ) -> Result<ListedProduct, AdapterError> {
        let (listing, key) = (listing.clone(), key.clone());
        self.call(move |market| async move { market.list_product(tenant, &listing, &key).await }.boxed()).await
    }

    async fn set_price(
        &self,
        tenant: TenantId,
        product_id: &str,
        price: Decimal,
        key: &IdempotencyKey,
    ) -> Result<(), AdapterError> {
        let (product_id, key) = (product_id.to_owned(), key.clone());
        self.call(move |market| async move { market.set_price(tenant, &product_id, price, &key).await }.boxed()).await
    }

    async fn launch_campaign(
        &self,
        tenant: TenantId,
        spec: &CampaignSpec,
        key: &IdempotencyKey,
    ) -> Result<CampaignRef, AdapterError> {
        let (spec, key) = (spec.clone(), key.clone());
        self.call(move |market| async move { market.launch_campaign(tenant, &spec, &key).await }.boxed()).await
    }

    async fn publish_post(
        &self,
        tenant: TenantId,
        post: &PostSpec,
        key: &IdempotencyKey,
    ) -> Result<PostRef, AdapterError> {
        let (post, key) = (post.clone(), key.clone());
        self.call(move |market| async move { market.publish_post(tenant, &post, &key).await }.boxed()).await
    }

    async fn post_engagement(
        &self,
        tenant: TenantId,
        posts: &[PublishedPost],
    ) -> Result<Vec<PostEngagement>, AdapterError> {
        let posts = posts.to_vec();
        self.call(move |market| async move { market.post_engagement(tenant, &posts).await }.boxed()).await
    }

    async fn campaign_days(
        &self,
        tenant: TenantId,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<CampaignDay>, AdapterError> {
        self.call(move |market| async move { market.campaign_days(tenant, from, to).await }.boxed()).await
    }

    async fn advance(&self, tenant: TenantId, days: u32) -> Result<(), AdapterError> {
        self.call(move |market| async move { market.advance(tenant, days).await }.boxed()).await
    }

    async fn report(&self, tenant: TenantId, from_day: u32, to_day: u32) -> Result<PerformanceReport, AdapterError> {
        self.call(move |market| async move { market.report(tenant, from_day, to_day).await }.boxed()).await
    }

    async fn export_state(&self, tenant: TenantId) -> Option<Value> {
        self.call(move |market| async move { Ok(market.export_state(tenant).await) }.boxed()).await.ok().flatten()
    }

    async fn import_state(&self, tenant: TenantId, state: Value) -> Result<(), AdapterError> {
        self.call(move |market| async move { market.import_state(tenant, state).await }.boxed()).await
    }
}
