//! `boardroom bench --adapters`, part 3: the cost of a marketing channel that says "slow
//! down", and whether it costs anyone else.
//!
//! Two live tenants in one swarm root, each posting to its own X account through the
//! path a cycle's marketing step takes: the tenant's guarded market, the
//! [`ChannelMarket`](boardroom_adapters::ChannelMarket)
//! in front of its (sandbox) selling market, the X account's own adapter actor, the
//! [`ChannelAccount`] and the real [`XClient`]. Each account is a small local server
//! that speaks the parts of X's API v2 a post needs (a refresh-token grant and
//! `POST /2/tweets` with the rate-limit headers). Tenant A's server answers its first
//! post with `429` and an `x-rate-limit-reset` [`THROTTLE_SECS`] ahead, as X does when a
//! window is spent. The figures: how long A's post waits, and B's post latency and rate
//! alone and while A waits.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use boardroom_adapters::{
    AdapterError, CallBudget, ChannelAccount, ConnectionKeeper, IdempotencyKey, Marketplace, OAuthSecret, Platform,
    PostSpec, ResilienceSettings, RetryPolicy, SandboxMarket, SocialNetwork, XClient, XConnection,
};
use boardroom_agents::AgentRegistry;
use boardroom_memory::{EventLog, EventLogConfig, Tenant, TenantId};
use boardroom_supervisor::{AccountOpener, SupervisorConfig, SwarmMarket, SwarmRoot, SwarmServices, TenantMarkets};
use serde_json::json;

use crate::bench::{ScratchSqlite, create_tenants};

/// How far ahead the throttled account's reset lies.
const THROTTLE_SECS: u64 = 2;
/// How long each of B's runs lasts.
const RUN: Duration = Duration::from_secs(3);

/// One tenant's X account: tokens, posts, and whether the next post is refused.
#[derive(Clone, Default)]
struct Account {
    issued: Arc<AtomicU64>,
    posts: Arc<AtomicU64>,
    throttle_next: Arc<AtomicBool>,
}

fn epoch_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |since| since.as_secs())
}

async fn token(State(account): State<Account>) -> Response {
    let n = account.issued.fetch_add(1, Ordering::Relaxed) + 1;
    axum::Json(json!({ "token_type": "bearer", "expires_in": 7200, "access_token": format!("access-{n}"),
                       "refresh_token": format!("refresh-{n}") }))
    .into_response()
}

async fn create_post(State(account): State<Account>, _headers: HeaderMap) -> Response {
    let reset = epoch_secs() + THROTTLE_SECS;
    if account.throttle_next.swap(false, Ordering::AcqRel) {
        let headers = [
            ("x-rate-limit-limit", "100".to_owned()),
            ("x-rate-limit-remaining", "0".to_owned()),
            ("x-rate-limit-reset", reset.to_string()),
        ];
        let body = json!({ "title": "Too Many Requests", "detail": "Too Many Requests", "status": 429 });
        return (StatusCode::TOO_MANY_REQUESTS, headers, axum::Json(body)).into_response();
    }
    let id = 1_800_000_000_000_000_000 + account.posts.fetch_add(1, Ordering::Relaxed);
    let headers = [
        ("x-rate-limit-limit", "100000".to_owned()),
        ("x-rate-limit-remaining", "99999".to_owned()),
        ("x-rate-limit-reset", (epoch_secs() + 900).to_string()),
    ];
    (StatusCode::CREATED, headers, axum::Json(json!({ "data": { "id": id.to_string(), "text": "…" } }))).into_response()
}

/// Serves `account` on a free local port; its origin.
async fn serve(account: Account) -> anyhow::Result<String> {
    let router =
        Router::new().route("/2/oauth2/token", post(token)).route("/2/tweets", post(create_post)).with_state(account);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let origin = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, router).await });
    Ok(origin)
}

/// What the bench's accounts keep lives as long as the bench: refresh tokens go
/// nowhere, uploads stay in memory.
#[derive(Default)]
struct Discarded {
    uploads: dashmap::DashMap<(Platform, String), serde_json::Value>,
}

#[async_trait]
impl ConnectionKeeper for Discarded {
    async fn keep_refresh_token(&self, _: Platform, _: &OAuthSecret) -> Result<(), AdapterError> {
        Ok(())
    }

    async fn kept_upload(&self, platform: Platform, slot: &str) -> Result<Option<serde_json::Value>, AdapterError> {
        Ok(self.uploads.get(&(platform, slot.to_owned())).map(|kept| kept.clone()))
    }

    async fn keep_upload(&self, platform: Platform, slot: &str, upload: serde_json::Value) -> Result<(), AdapterError> {
        self.uploads.insert((platform, slot.to_owned()), upload);
        Ok(())
    }
}

/// Each tenant's X account, reached through its own adapter actor in front of the
/// sandbox's.
struct Markets(HashMap<TenantId, Arc<dyn Marketplace>>);

/// An account already open, and the channels in front of it.
struct Opened {
    market: Arc<dyn Marketplace>,
    channels: Vec<Arc<dyn Marketplace>>,
}

#[async_trait]
impl AccountOpener for Opened {
    fn platform(&self) -> Platform {
        self.market.platform()
    }

    async fn open(&self) -> Result<Arc<dyn Marketplace>, AdapterError> {
        Ok(self.market.clone())
    }

    fn channels(&self) -> Vec<Arc<dyn AccountOpener>> {
        let opened = |market: &Arc<dyn Marketplace>| Opened { market: market.clone(), channels: Vec::new() };
        self.channels.iter().map(|channel| Arc::new(opened(channel)) as Arc<dyn AccountOpener>).collect()
    }
}

#[async_trait]
impl TenantMarkets for Markets {
    async fn market_for(&self, row: &Tenant, shared: &Arc<dyn Marketplace>) -> SwarmMarket {
        match self.0.get(&row.id) {
            Some(x) => SwarmMarket::Account(Arc::new(Opened {
                market: Arc::new(SandboxMarket::new(1)),
                channels: vec![x.clone()],
            })),
            None => SwarmMarket::Shared(shared.clone()),
        }
    }
}

/// A live tenant's X account at `origin`.
async fn market_with_x(origin: &str) -> anyhow::Result<Arc<dyn Marketplace>> {
    // As a live business's calls are set up (markets.rs), so the wait is X's to name.
    let settings = ResilienceSettings {
        retry: RetryPolicy { max_delay: Duration::from_secs(8), ..RetryPolicy::default() },
        budget: CallBudget { per_request_timeout: Duration::from_secs(15), default_deadline: Duration::from_secs(60) },
        ..ResilienceSettings::default()
    };
    let client = XClient::with_settings(XConnection::new(origin, "bench-app", "bench-secret", "refresh-0"), settings)?;
    Ok(Arc::new(ChannelAccount::social(Arc::new(client), Arc::new(Discarded::default()))))
}

fn bench_post(n: u64) -> PostSpec {
    PostSpec { product_id: "p".into(), network: SocialNetwork::X, text: format!("Bench post {n}"), video: None }
}

/// B posting as fast as it can for [`RUN`]: its posts' latencies, sorted.
async fn posting_for_a_run(
    market: &Arc<dyn Marketplace>,
    tenant: TenantId,
    from: u64,
) -> anyhow::Result<Vec<Duration>> {
    let (started, mut latencies) = (Instant::now(), Vec::new());
    let mut n = from;
    while started.elapsed() < RUN {
        let key = IdempotencyKey::for_step(tenant, 1, "marketing_launch", &n.to_string());
        let one = Instant::now();
        market.publish_post(tenant, &bench_post(n), &key).await?;
        latencies.push(one.elapsed());
        n += 1;
    }
    latencies.sort();
    Ok(latencies)
}

fn quantile(sorted: &[Duration], q: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted.get(index).map_or(0.0, |latency| latency.as_secs_f64() * 1000.0)
}

pub(crate) async fn run() -> anyhow::Result<()> {
    println!(
        "\n3. a throttled channel: tenant A's X account answers 429 with its reset {THROTTLE_SECS} s ahead; tenant B \
         posts to its own X account meanwhile (both through their adapter actors, {} s runs)",
        RUN.as_secs()
    );
    let (throttled, other) = (Account::default(), Account::default());
    let (a_origin, b_origin) = (serve(throttled.clone()).await?, serve(other.clone()).await?);
    let scratch = ScratchSqlite::new();
    let store = boardroom_memory::connect(&scratch.url).await?;
    let tenants = create_tenants(&store, 2).await?;
    let (a, b) = (tenants[0], tenants[1]);
    let markets = HashMap::from([(a, market_with_x(&a_origin).await?), (b, market_with_x(&b_origin).await?)]);
    let events = EventLog::start(store.clone(), EventLogConfig::default());
    let mut services = SwarmServices::embedded(store, events);
    services.markets = Some(Arc::new(Markets(markets)));
    let root = SwarmRoot::start_with(services, AgentRegistry::standard(), SupervisorConfig::default()).await?;
    let (a_market, b_market) = (root.activate(a).await?.market_for_api(), root.activate(b).await?.market_for_api());
    // Sign both in and warm the paths.
    a_market.publish_post(a, &bench_post(0), &IdempotencyKey::for_step(a, 1, "marketing_launch", "warm")).await?;
    b_market.publish_post(b, &bench_post(0), &IdempotencyKey::for_step(b, 1, "marketing_launch", "warm")).await?;

    let alone = posting_for_a_run(&b_market, b, 1).await?;
    let unthrottled = {
        let started = Instant::now();
        a_market.publish_post(a, &bench_post(1), &IdempotencyKey::for_step(a, 1, "marketing_launch", "1")).await?;
        started.elapsed()
    };

    throttled.throttle_next.store(true, Ordering::Release);
    let a_waits = {
        let market = a_market.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            market.publish_post(a, &bench_post(2), &IdempotencyKey::for_step(a, 1, "marketing_launch", "2")).await?;
            Ok::<_, AdapterError>(started.elapsed())
        })
    };
    let meanwhile = posting_for_a_run(&b_market, b, 1_000_000).await?;
    let a_waited = a_waits.await??;
    root.shutdown().await;

    let rate = |latencies: &[Duration]| latencies.len() as f64 / RUN.as_secs_f64();
    println!(
        "   A's post: {:.1} ms unthrottled; {:.2} s when X says slow down (the reset was {THROTTLE_SECS} s ahead, \
         whole seconds)",
        unthrottled.as_secs_f64() * 1000.0,
        a_waited.as_secs_f64()
    );
    println!(
        "   B alone:          {:>7.0} posts/s, p50 {:.2} ms, p99 {:.2} ms",
        rate(&alone),
        quantile(&alone, 0.5),
        quantile(&alone, 0.99)
    );
    println!(
        "   B while A waits:  {:>7.0} posts/s, p50 {:.2} ms, p99 {:.2} ms ({:.2}x B's rate alone)",
        rate(&meanwhile),
        quantile(&meanwhile, 0.5),
        quantile(&meanwhile, 0.99),
        rate(&meanwhile) / rate(&alone).max(f64::MIN_POSITIVE)
    );
    Ok(())
}
