//! The sandbox market as a tenant's swarm sees it: a seeded, deterministic world that
//! answers prices, ads and posts plausibly, books fees and refunds, replays retried calls
//! instead of repeating them, and can be saved and restored mid-game.

use std::str::FromStr;
use std::sync::Arc;

use boardroom_adapters::{
    AdChannel, AdapterError, CampaignSpec, IdempotencyKey, ListedProduct, Marketplace, PerformanceReport, Platform,
    PostSpec, ProductListing, SandboxMarket, SocialNetwork, StoreRef,
};
use boardroom_memory::TenantId;
use rust_decimal::Decimal;

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

const TENANT: TenantId = TenantId(7);
const COURSE: &str = "ai-automation-course";

fn money(text: &str) -> Decimal {
    Decimal::from_str(text).expect("a decimal literal")
}

fn key(tenant: TenantId, step: &str, item: &str) -> IdempotencyKey {
    IdempotencyKey::for_step(tenant, 1, step, item)
}

async fn open_store(market: &SandboxMarket, tenant: TenantId) -> StoreRef {
    market.create_store(tenant, "Focus & Flow", &key(tenant, "store_setup", "store")).await.expect("store opens")
}

fn listing(store: &StoreRef, niche: &str, price: Decimal) -> ProductListing {
    ProductListing {
        store_id: store.store_id.clone(),
        niche: niche.to_owned(),
        title: format!("The {niche} kit"),
        description: "Everything you need, step by step, with worked examples, checklists \
                      and templates you can reuse in your own business from day one."
            .to_owned(),
        tags: vec!["ai".into(), "automation".into(), "productivity".into()],
        price,
        unit_cost: money("4.00"),
    }
}

async fn list(
    market: &SandboxMarket,
    tenant: TenantId,
    store: &StoreRef,
    niche: &str,
    price: Decimal,
) -> ListedProduct {
    market
        .list_product(tenant, &listing(store, niche, price), &key(tenant, "product_creation", niche))
        .await
        .expect("product lists")
}

async fn reference_price(market: &SandboxMarket, tenant: TenantId, niche: &str) -> Decimal {
    market.market_snapshot(tenant).await.expect("snapshot").niche(niche).expect("niche in catalogue").reference_price
}

/// A small but complete game: a store, two products, a campaign, a post, a price change.
async fn play_a_month(market: &SandboxMarket, tenant: TenantId) -> PerformanceReport {
    let store = open_store(market, tenant).await;
    let course = list(market, tenant, &store, COURSE, money("79")).await;
    let planner = list(market, tenant, &store, "printable-planners", money("9.50")).await;
    market
        .launch_campaign(
            tenant,
            &CampaignSpec {
                product_id: course.product_id.clone(),
                channel: AdChannel::SearchAds,
                daily_budget: money("40"),
                days: 20,
                creative: Default::default(),
            },
            &key(tenant, "marketing_launch", "course-search"),
        )
        .await
        .expect("campaign launches");
    market
        .publish_post(
            tenant,
            &PostSpec {
                product_id: planner.product_id.clone(),
                network: SocialNetwork::Reddit,
                text: "I made the planner I wished existed.".into(),
                video: None,
            },
            &key(tenant, "marketing_launch", "planner-reddit"),
        )
        .await
        .expect("post publishes");
    market.advance(tenant, 15).await.expect("advance");
    market
        .set_price(tenant, &planner.product_id, money("11"), &key(tenant, "revenue_optimisation", "planner-price"))
        .await
        .expect("price changes");
    market.advance(tenant, 15).await.expect("advance");
    market.report(tenant, 0, 30).await.expect("report")
}

/// The message of a rejection; fails the test on any other outcome.
fn rejection<T: std::fmt::Debug>(result: Result<T, AdapterError>) -> String {
    match result {
        Err(AdapterError::Rejected { platform, message }) => {
            assert_eq!(platform, Platform::Sandbox);
            message
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
}

/// Sells one product at `price` in a fresh world for `days` days and reports.
async fn sell_at(seed: u64, price: Decimal, days: u32) -> PerformanceReport {
    let market = SandboxMarket::new(seed);
    let store = open_store(&market, TENANT).await;
    list(&market, TENANT, &store, COURSE, price).await;
    market.advance(TENANT, days).await.expect("advance");
    market.report(TENANT, 0, days).await.expect("report")
}

/// Sells one product at the reference price with `budget` a day on `channel` for `days`.
async fn advertise(seed: u64, channel: AdChannel, budget: Decimal, days: u32) -> PerformanceReport {
    let market = SandboxMarket::new(seed);
    let store = open_store(&market, TENANT).await;
    let price = reference_price(&market, TENANT, COURSE).await;
    let product = list(&market, TENANT, &store, COURSE, price).await;
    if budget > Decimal::ZERO {
        market
            .launch_campaign(
                TENANT,
                &CampaignSpec {
                    product_id: product.product_id,
                    channel,
                    daily_budget: budget,
                    days,
                    creative: Default::default(),
                },
                &key(TENANT, "marketing_launch", "ads"),
            )
            .await
            .expect("campaign launches");
    }
    market.advance(TENANT, days).await.expect("advance");
    market.report(TENANT, 0, days).await.expect("report")
}

// ---------------------------------------------------------------------------------------
// Determinism and isolation
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn the_same_seed_and_the_same_calls_give_identical_reports() {
    let first = SandboxMarket::new(2026);
    let second = SandboxMarket::new(2026);

    let one = play_a_month(&first, TENANT).await;
    let two = play_a_month(&second, TENANT).await;

    assert_eq!(one, two);
    assert_eq!(first.export(TENANT), second.export(TENANT));
    assert!(one.units_sold() > 0, "a month of trading sells something");
    assert_eq!(one.today, 30);
}

#[tokio::test]
async fn another_seed_gives_another_world() {
    let one = play_a_month(&SandboxMarket::new(1), TENANT).await;
    let two = play_a_month(&SandboxMarket::new(2), TENANT).await;

    assert_ne!(one, two);
}

#[tokio::test]
async fn different_tenants_get_different_but_stable_worlds() {
    let market = SandboxMarket::new(99);
    let later = SandboxMarket::new(99);
    let (alice, bob) = (TenantId(1), TenantId(2));

    let alice_market = market.market_snapshot(alice).await.expect("snapshot");
    let bob_market = market.market_snapshot(bob).await.expect("snapshot");
    let alice_again = later.market_snapshot(alice).await.expect("snapshot");

    assert_ne!(alice_market, bob_market, "tenants face different markets");
    assert_eq!(alice_market, alice_again, "a tenant's market is stable");
    assert_eq!(alice_market.niches.len(), bob_market.niches.len());

    let alice_month = play_a_month(&market, alice).await;
    let bob_month = play_a_month(&market, bob).await;
    assert_ne!(alice_month.products, bob_month.products);
    assert_eq!(alice_month, play_a_month(&later, alice).await);
    // Bob's month did not disturb Alice's world.
    assert_eq!(market.report(alice, 0, 30).await.expect("report"), alice_month);
}

#[tokio::test]
async fn the_market_is_used_through_the_trait_object() {
    let market: Arc<dyn Marketplace> = Arc::new(SandboxMarket::new(5));

    let snapshot = market.market_snapshot(TENANT).await.expect("snapshot");

    assert_eq!(market.platform(), Platform::Sandbox);
    assert!(market.is_simulated());
    assert_eq!(snapshot.today, 0);
    assert_eq!(snapshot.niches.len(), 12);
    for niche in &snapshot.niches {
        assert!(niche.demand > 0.0, "{}", niche.name);
        assert!((0.0..=1.0).contains(&niche.competition), "{}", niche.name);
        assert!((-1.0..=1.0).contains(&niche.trend), "{}", niche.name);
        assert!(niche.unit_cost > Decimal::ZERO, "{}", niche.name);
        assert!(niche.reference_price > niche.unit_cost, "{}", niche.name);
        assert_eq!(niche.reference_price, niche.reference_price.round_dp(2));
    }
    for category in [
        "courses",
        "templates",
        "digital_products",
        "coaching_programs",
        "automation_tools",
        "premium_courses",
        "e_books",
    ] {
        assert!(snapshot.niches.iter().any(|niche| niche.category == category), "a {category} niche");
    }
}

// ---------------------------------------------------------------------------------------
// The demand model
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_higher_price_sells_fewer_units_and_revenue_peaks_near_the_reference() {
    let market = SandboxMarket::new(11);
    let reference = reference_price(&market, TENANT, COURSE).await;
    let days = 90;

    let cheap = sell_at(11, (reference * money("0.8")).round_dp(2), days).await;
    let fair = sell_at(11, reference, days).await;
    let dear = sell_at(11, (reference * money("1.25")).round_dp(2), days).await;

    assert!(cheap.units_sold() > fair.units_sold());
    assert!(fair.units_sold() > dear.units_sold());
    assert!(fair.gross_revenue() > cheap.gross_revenue());
    assert!(fair.gross_revenue() > dear.gross_revenue());
    // A 25 % rise loses buyers as an elasticity between 1.2 and 2.5 says.
    let kept = dear.units_sold() as f64 / fair.units_sold() as f64;
    assert!((1.25_f64.powf(-2.5) * 0.9..=1.25_f64.powf(-1.2) * 1.1).contains(&kept), "kept {kept:.3} of buyers");
    // Undercutting by 20 % wins buyers, but fewer than a 25 % rise loses.
    let won = cheap.units_sold() as f64 / fair.units_sold() as f64 - 1.0;
    assert!(won > 0.0 && won < 1.0 - kept, "won {won:.3}, lost {:.3}", 1.0 - kept);
}

#[tokio::test]
async fn ad_spend_adds_sales_with_diminishing_returns() {
    let days = 90;
    for channel in AdChannel::ALL {
        let none = advertise(3, channel, Decimal::ZERO, days).await;
        let hundred = advertise(3, channel, money("100"), days).await;
        let two_hundred = advertise(3, channel, money("200"), days).await;

        let first_gain = hundred.units_sold() - none.units_sold();
        let second_gain = two_hundred.units_sold() - hundred.units_sold();
        assert!(first_gain > 0, "{channel:?}: the first 100 a day sells more");
        assert!(second_gain < first_gain, "{channel:?}: the second 100 adds {second_gain}, the first {first_gain}");

        let product = &two_hundred.products[0];
        let ads = product.channel(channel).expect("channel in report");
        assert_eq!(ads.spend, money("200") * Decimal::from(days));
        assert!(ads.clicks > ads.conversions && ads.conversions > 0);
        assert_eq!(two_hundred.campaigns[0].spend, ads.spend);
        assert_eq!(none.ad_spend(), Decimal::ZERO);
    }
}

#[tokio::test]
async fn campaigns_spend_their_budget_each_day_they_run_and_then_stop() {
    let market = SandboxMarket::new(8);
    let store = open_store(&market, TENANT).await;
    let product = list(&market, TENANT, &store, COURSE, money("79")).await;
    let campaign = market
        .launch_campaign(
            TENANT,
            &CampaignSpec {
                product_id: product.product_id.clone(),
                channel: AdChannel::SocialAds,
                daily_budget: money("25.50"),
                days: 5,
                creative: Default::default(),
            },
            &key(TENANT, "marketing_launch", "five-days"),
        )
        .await
        .expect("campaign launches");

    market.advance(TENANT, 10).await.expect("advance");
    let report = market.report(TENANT, 0, 10).await.expect("report");
    let tail = market.report(TENANT, 5, 10).await.expect("report");

    assert_eq!(report.campaigns[0].campaign_id, campaign.campaign_id);
    assert_eq!(report.campaigns[0].end_day, 5);
    assert_eq!(report.ad_spend(), money("127.50"));
    assert_eq!(report.campaigns[0].spend, money("127.50"));
    assert_eq!(tail.ad_spend(), Decimal::ZERO);
}

#[tokio::test]
async fn social_posts_engage_fade_and_lift_sales_a_little() {
    let quiet = SandboxMarket::new(21);
    let loud = SandboxMarket::new(21);
    let mut products = Vec::new();
    for market in [&quiet, &loud] {
        let store = open_store(market, TENANT).await;
        products.push(list(market, TENANT, &store, COURSE, money("79")).await);
    }
    for network in SocialNetwork::ALL {
        loud.publish_post(
            TENANT,
            &PostSpec {
                product_id: products[1].product_id.clone(),
                network,
                text: "How I automated my inbox in an afternoon (thread)".into(),
                video: None,
            },
            &key(TENANT, "marketing_launch", &format!("{network:?}")),
        )
        .await
        .expect("post publishes");
    }

    for market in [&quiet, &loud] {
        market.advance(TENANT, 20).await.expect("advance");
    }
    let without = quiet.report(TENANT, 0, 20).await.expect("report");
    let with = loud.report(TENANT, 0, 20).await.expect("report");
    let early = loud.report(TENANT, 0, 3).await.expect("report");
    let late = loud.report(TENANT, 3, 6).await.expect("report");
    let gone = loud.report(TENANT, 15, 20).await.expect("report");

    assert_eq!(with.posts.len(), 5);
    for ((all, first), (second, after)) in with.posts.iter().zip(&early.posts).zip(late.posts.iter().zip(&gone.posts)) {
        assert!(all.impressions > 0 && all.engagements > 0, "{:?}", all.network);
        assert!(first.impressions > second.impressions, "{:?} fades", all.network);
        assert_eq!(after.impressions, 0, "{:?} is gone after two weeks", all.network);
    }
    assert!(with.units_sold() >= without.units_sold());
    assert!(
        with.units_sold() <= without.units_sold() * 3 / 2,
        "posts help a little, not a lot: {} vs {}",
        with.units_sold(),
        without.units_sold()
    );
}

#[tokio::test]
async fn seasonality_makes_demand_vary_from_day_to_day_and_over_the_year() {
    let market = SandboxMarket::new(4);
    let store = open_store(&market, TENANT).await;
    list(&market, TENANT, &store, COURSE, money("79")).await;
    let winter = market.market_snapshot(TENANT).await.expect("snapshot");

    market.advance(TENANT, 364).await.expect("advance");
    let mut by_weekday = [0_u64; 7];
    let mut daily = Vec::new();
    for day in 0..364 {
        let units = market.report(TENANT, day, day + 1).await.expect("report").units_sold();
        by_weekday[(day % 7) as usize] += units;
        daily.push(units);
    }
    let summer = market.market_snapshot(TENANT).await.expect("snapshot");

    let mut distinct = daily.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert!(distinct.len() > 5, "daily sales vary: {distinct:?}");
    let busiest = *by_weekday.iter().max().expect("seven days") as f64;
    let quietest = *by_weekday.iter().min().expect("seven days") as f64;
    assert!(busiest > quietest * 1.1, "weekdays differ: {by_weekday:?}");
    assert_eq!(summer.today, 364);
    let demand_in = |snapshot: &boardroom_adapters::MarketSnapshot| snapshot.niche(COURSE).expect("niche").demand;
    assert_ne!(demand_in(&winter), demand_in(&summer));
}

// ---------------------------------------------------------------------------------------
// Money: fees and refunds
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn card_fees_are_booked_on_every_sale_and_refunds_arrive_days_later() {
    let market = SandboxMarket::new(13);
    let store = open_store(&market, TENANT).await;
    let price = money("49.00");
    list(&market, TENANT, &store, COURSE, price).await;

    market.advance(TENANT, 60).await.expect("advance");
    let report = market.report(TENANT, 0, 60).await.expect("report");
    let first_two_days = market.report(TENANT, 0, 2).await.expect("report");
    let product = &report.products[0];

    assert!(product.units_sold > 0);
    // 2.9 % of 49.00 is 1.421; plus 0.30 is 1.721, charged as 1.72 per sale.
    assert_eq!(product.payment_fees, money("1.72") * Decimal::from(product.units_sold));
    assert_eq!(product.gross_revenue, price * Decimal::from(product.units_sold));
    assert_eq!(product.cost_of_goods, money("4.00") * Decimal::from(product.units_sold));
    assert!(product.refunded_units > 0, "some buyers ask for their money back");
    assert!(product.refunded_units < product.units_sold / 5);
    assert_eq!(product.refunds, price * Decimal::from(product.refunded_units));
    assert_eq!(first_two_days.products[0].refunds, Decimal::ZERO);
    assert_eq!(
        product.net_profit(),
        product.gross_revenue - product.refunds - product.payment_fees - product.cost_of_goods
    );
}

// ---------------------------------------------------------------------------------------
// Idempotency
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_replayed_call_returns_the_first_result_and_changes_nothing() {
    let market = SandboxMarket::new(17);
    let store = open_store(&market, TENANT).await;
    let store_again = open_store(&market, TENANT).await;
    let product = list(&market, TENANT, &store, COURSE, money("79")).await;
    let product_again = list(&market, TENANT, &store, COURSE, money("79")).await;
    let spec = CampaignSpec {
        product_id: product.product_id.clone(),
        channel: AdChannel::SearchAds,
        daily_budget: money("50"),
        days: 10,
        creative: Default::default(),
    };
    let campaign_key = key(TENANT, "marketing_launch", "search");
    let campaign = market.launch_campaign(TENANT, &spec, &campaign_key).await.expect("campaign launches");
    let campaign_again = market.launch_campaign(TENANT, &spec, &campaign_key).await.expect("replayed");
    let post = PostSpec {
        product_id: product.product_id.clone(),
        network: SocialNetwork::X,
        text: "New course out today.".into(),
        video: None,
    };
    let post_key = key(TENANT, "marketing_launch", "x");
    let posted = market.publish_post(TENANT, &post, &post_key).await.expect("post publishes");
    let posted_again = market.publish_post(TENANT, &post, &post_key).await.expect("replayed");
    let first_price = key(TENANT, "revenue_optimisation", "first");
    let second_price = key(TENANT, "revenue_optimisation", "second");
    let id = &product.product_id;
    market.set_price(TENANT, id, money("89"), &first_price).await.expect("price changes");
    market.set_price(TENANT, id, money("99"), &second_price).await.expect("price changes");
    market
        .set_price(TENANT, id, money("89.00"), &first_price)
        .await
        .expect("replayed, as 89 and 89.00 are the same request");

    market.advance(TENANT, 10).await.expect("advance");
    let report = market.report(TENANT, 0, 10).await.expect("report");

    assert_eq!(store, store_again);
    assert_eq!(product, product_again);
    assert_eq!(campaign, campaign_again);
    assert_eq!(posted, posted_again);
    assert_eq!(report.products.len(), 1, "listed once");
    assert_eq!(report.campaigns.len(), 1, "launched once");
    assert_eq!(report.ad_spend(), money("500"), "charged once");
    assert_eq!(report.posts.len(), 1, "posted once");
    assert_eq!(report.products[0].price, money("99"), "the replay changed nothing");
    let next_store =
        market.create_store(TENANT, "Second shop", &key(TENANT, "store_setup", "second")).await.expect("store opens");
    assert_ne!(next_store.store_id, store.store_id);
}

#[tokio::test]
async fn a_key_reused_with_other_parameters_is_rejected() {
    let market = SandboxMarket::new(19);
    let store = open_store(&market, TENANT).await;
    let product = list(&market, TENANT, &store, COURSE, money("79")).await;
    let store_key = key(TENANT, "store_setup", "store");
    let listing_key = key(TENANT, "product_creation", COURSE);

    let renamed = rejection(market.create_store(TENANT, "Another name", &store_key).await);
    let repriced = rejection(market.list_product(TENANT, &listing(&store, COURSE, money("59")), &listing_key).await);
    let other_operation = rejection(market.set_price(TENANT, &product.product_id, money("59"), &listing_key).await);

    for message in [&renamed, &repriced, &other_operation] {
        assert!(message.contains("idempotency_error"), "{message}");
    }
    assert!(other_operation.contains("list_product"), "{other_operation}");
    let report = market.report(TENANT, 0, 0).await.expect("report");
    assert_eq!(report.products.len(), 1);
    assert_eq!(report.products[0].price, money("79"));
}

#[tokio::test]
async fn a_rejected_call_leaves_no_record_so_a_corrected_retry_goes_through() {
    let market = SandboxMarket::new(23);
    let store = open_store(&market, TENANT).await;
    let listing_key = key(TENANT, "product_creation", "retry");

    let refused = market.list_product(TENANT, &listing(&store, COURSE, money("0")), &listing_key).await;
    let accepted = market.list_product(TENANT, &listing(&store, COURSE, money("79")), &listing_key).await;

    assert!(rejection(refused).contains("price"));
    assert!(accepted.is_ok());
}

#[tokio::test]
async fn concurrent_retries_of_one_call_list_one_product() {
    let market = Arc::new(SandboxMarket::new(29));
    let store = open_store(&market, TENANT).await;
    let request = listing(&store, COURSE, money("79"));
    let listing_key = key(TENANT, "product_creation", "race");

    let attempts: Vec<_> = (0..8)
        .map(|_| {
            let (market, request, listing_key) = (Arc::clone(&market), request.clone(), listing_key.clone());
            tokio::spawn(
                async move { market.list_product(TENANT, &request, &listing_key).await.expect("lists or replays") },
            )
        })
        .collect();
    let mut ids = Vec::new();
    for attempt in attempts {
        ids.push(attempt.await.expect("task").product_id);
    }

    ids.dedup();
    assert_eq!(ids.len(), 1);
    assert_eq!(market.report(TENANT, 0, 0).await.expect("report").products.len(), 1);
}

// ---------------------------------------------------------------------------------------
// Persistence
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn an_exported_world_imported_into_a_new_market_continues_identically() {
    let original = SandboxMarket::new(31);
    let store = open_store(&original, TENANT).await;
    let product = list(&original, TENANT, &store, COURSE, money("79")).await;
    original
        .launch_campaign(
            TENANT,
            &CampaignSpec {
                product_id: product.product_id.clone(),
                channel: AdChannel::SocialAds,
                daily_budget: money("60"),
                days: 30,
                creative: Default::default(),
            },
            &key(TENANT, "marketing_launch", "social"),
        )
        .await
        .expect("campaign launches");
    original.advance(TENANT, 10).await.expect("advance");

    // Saved as text, as the caller's database would hold it, into a market with another
    // seed: the world carries its own.
    let saved = serde_json::to_string(&original.export(TENANT).expect("a world")).expect("json");
    let restored = SandboxMarket::new(9_999);
    restored.import(TENANT, serde_json::from_str(&saved).expect("json")).expect("import succeeds");

    for market in [&original, &restored] {
        market
            .set_price(TENANT, &product.product_id, money("69"), &key(TENANT, "revenue_optimisation", "price"))
            .await
            .expect("price changes");
        market.advance(TENANT, 20).await.expect("advance");
    }
    let replayed = restored
        .list_product(TENANT, &listing(&store, COURSE, money("79")), &key(TENANT, "product_creation", COURSE))
        .await
        .expect("the idempotency record came along");

    assert_eq!(
        original.report(TENANT, 0, 30).await.expect("report"),
        restored.report(TENANT, 0, 30).await.expect("report")
    );
    assert_eq!(original.export(TENANT), restored.export(TENANT));
    assert_eq!(replayed, product);
}

#[tokio::test]
async fn the_trait_object_saves_and_restores_a_world_too() {
    let original: Arc<dyn Marketplace> = Arc::new(SandboxMarket::new(33));
    let restored: Arc<dyn Marketplace> = Arc::new(SandboxMarket::new(34));
    assert!(original.export_state(TENANT).await.is_none(), "no world yet");
    original.advance(TENANT, 3).await.expect("advance");

    let saved = original.export_state(TENANT).await.expect("a world");
    restored.import_state(TENANT, saved).await.expect("import succeeds");

    assert_eq!(
        restored.market_snapshot(TENANT).await.expect("snapshot"),
        original.market_snapshot(TENANT).await.expect("snapshot")
    );
}

#[tokio::test]
async fn import_refuses_another_tenants_world_and_malformed_state() {
    let market = SandboxMarket::new(37);
    let other = TenantId(8);
    play_a_month(&market, TENANT).await;
    play_a_month(&market, other).await;
    let before = market.export(other);

    let foreign = rejection(market.import(other, market.export(TENANT).expect("world")));
    let garbage = rejection(market.import(other, serde_json::json!({"seed": "nope"})));
    let mut future = market.export(TENANT).expect("world");
    future["format"] = serde_json::json!(99);
    let newer = rejection(market.import(TENANT, future));

    assert!(foreign.contains("belongs to tenant"), "{foreign}");
    assert!(garbage.contains("malformed"), "{garbage}");
    assert!(newer.contains("format"), "{newer}");
    assert_eq!(market.export(other), before, "a refused import changes nothing");
    assert!(SandboxMarket::new(1).export(TENANT).is_none());
}

#[tokio::test]
async fn removing_a_world_returns_it_for_later() {
    let market = SandboxMarket::new(41);
    let month = play_a_month(&market, TENANT).await;

    let saved = market.remove(TENANT).expect("a world");
    assert!(market.export(TENANT).is_none());
    market.import(TENANT, saved).expect("import succeeds");

    assert_eq!(market.report(TENANT, 0, 30).await.expect("report"), month);
}

// ---------------------------------------------------------------------------------------
// Bad input
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn zero_negative_and_unknown_inputs_are_rejected_with_clear_messages() {
    let market = SandboxMarket::new(43);
    let store = open_store(&market, TENANT).await;
    let product = list(&market, TENANT, &store, COURSE, money("79")).await;
    let id = product.product_id.as_str();
    let bad = |item: &str| key(TENANT, "bad_input", item);
    let campaign = |budget: &str, days: u32| CampaignSpec {
        product_id: id.to_owned(),
        channel: AdChannel::SearchAds,
        daily_budget: money(budget),
        days,
        creative: Default::default(),
    };
    let post =
        |network: SocialNetwork, text: String| PostSpec { product_id: id.to_owned(), network, text, video: None };
    let mut no_cost = listing(&store, COURSE, money("10"));
    no_cost.unit_cost = money("-1");
    let mut no_title = listing(&store, COURSE, money("10"));
    no_title.title = "   ".into();

    let cases: Vec<(String, &str)> = vec![
        (rejection(market.set_price(TENANT, id, money("0"), &bad("a")).await), "greater than zero"),
        (rejection(market.set_price(TENANT, id, money("-5"), &bad("b")).await), "greater than zero"),
        (rejection(market.set_price(TENANT, id, money("0.001"), &bad("c")).await), "at least 0.50"),
        (rejection(market.set_price(TENANT, id, money("1e9"), &bad("d")).await), "at most"),
        (rejection(market.set_price(TENANT, "sbx_nope", money("5"), &bad("e")).await), "no such product"),
        (
            rejection(market.list_product(TENANT, &listing(&store, COURSE, money("-1")), &bad("f")).await),
            "greater than zero",
        ),
        (
            rejection(market.list_product(TENANT, &listing(&store, "basket-weaving", money("9")), &bad("g")).await),
            "no such niche",
        ),
        (rejection(market.list_product(TENANT, &no_cost, &bad("h")).await), "unit cost"),
        (rejection(market.list_product(TENANT, &no_title, &bad("i")).await), "title"),
        (rejection(market.create_store(TENANT, "  ", &bad("j")).await), "store name"),
        (rejection(market.launch_campaign(TENANT, &campaign("0", 5), &bad("k")).await), "greater than zero"),
        (rejection(market.launch_campaign(TENANT, &campaign("-10", 5), &bad("l")).await), "greater than zero"),
        (rejection(market.launch_campaign(TENANT, &campaign("0.5", 5), &bad("m")).await), "at least 1"),
        (rejection(market.launch_campaign(TENANT, &campaign("10", 0), &bad("n")).await), "at least one day"),
        (
            rejection(market.publish_post(TENANT, &post(SocialNetwork::X, "x".repeat(281)), &bad("o")).await),
            "at most 280",
        ),
        (
            rejection(market.publish_post(TENANT, &post(SocialNetwork::Reddit, " ".into()), &bad("p")).await),
            "must not be empty",
        ),
        (rejection(market.report(TENANT, 5, 2).await), "from_day 5 is after to_day 2"),
        (rejection(market.advance(TENANT, u32::MAX).await), "at most"),
    ];
    for (message, expected) in &cases {
        assert!(message.contains(expected), "{message:?} should say {expected:?}");
    }

    let listing_with_bad_store = ProductListing { store_id: "sbx_nope".into(), ..listing(&store, COURSE, money("9")) };
    assert!(rejection(market.list_product(TENANT, &listing_with_bad_store, &bad("q")).await).contains("no such store"));
    // Nothing was created or charged, and time still works.
    market.advance(TENANT, 0).await.expect("zero days is no time at all");
    market.advance(TENANT, 3).await.expect("advance");
    let report = market.report(TENANT, 0, 1_000).await.expect("report past today");
    assert_eq!(report.products.len(), 1);
    assert!(report.campaigns.is_empty() && report.posts.is_empty());
    assert_eq!(report.products[0].price, money("79"));
    assert_eq!(report, PerformanceReport { to_day: 1_000, ..market.report(TENANT, 0, 3).await.expect("report") });
}
