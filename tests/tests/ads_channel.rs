//! A live business's ads on its own ad accounts, Google Ads and Meta: its owner connects a
//! Shopify shop and a Google Ads account (local servers that speak each platform's API
//! as documented and refuse anything else) and goes live. The autopilot's marketing
//! step runs its search-ads flight there as a budget, an enabled Search campaign, an ad
//! group, the product's tags as keywords and a responsive search ad leading to the
//! product's page, each made once; each completed day's spend is read back and booked in
//! the ledger once;
//! the spending guard holds a flight above the owner's approval threshold before
//! anything reaches Google; and the account is a node of the swarm graph. A Meta ad
//! account connected with its Page runs the social-ads flight the same way: a campaign,
//! an ad set, a creative speaking as the Page and linking to the product, and an ad
//! showing it, each made once and active, and its days' spend in the ledger once. On
//! either platform a launch cut short mid-way (by a refusal the client gives up on) fails
//! its cycle, and the next cycle resumes the marketing step with the flight's key: it
//! finds what was made and finishes the flight, so nothing is made twice.

#[allow(unreachable_pub, reason = "the adapters' fakes, of which these stories use a part")]
#[path = "../../adapters/tests/support/mod.rs"]
mod support;

use std::time::Duration;

use boardroom_memory::{SwarmEvent, TenantId, Tier};
use boardroom_tests::{Backends, Caller, TestApp, run_a_cycle, run_a_cycle_to_its_end, spawn_app_with};
use chrono::Utc;
use rust_decimal::Decimal;
use serde_json::json;
use support::LocalServer;
use support::google_ads_fake::{self, FakeDay, GoogleAdsFake};
use support::meta_ads_fake::{self, MetaAdsFake};
use support::shopify_fake::{ShopifyFake, TOKEN};

/// A business gone live with a Shopify shop and an ad account on `Ads`, the platform's fake.
struct LiveBusiness<Ads = GoogleAdsFake> {
    app: TestApp,
    owner: Caller,
    business: i64,
    ads: Ads,
    _shop: ShopifyFake,
    _server: LocalServer,
}

async fn live_business_with_google_ads(backends: Backends) -> LiveBusiness {
    let shop = ShopifyFake::start().await;
    let ads = GoogleAdsFake::default();
    let server = LocalServer::start(ads.router()).await;
    let app = spawn_app_with(backends, &[("DEMO_TENANT", "false")]).await;
    let (owner, business) = app.owner_with_business("ada@example.com", Tier::Enterprise, "Focus & Flow").await;
    let shop_connected = owner
        .post(
            "/api/stores/connect",
            &json!({ "business_id": business, "platform": "shopify", "store_url": shop.base_url(),
                     "credentials": { "access_token": TOKEN } }),
        )
        .await;
    assert_eq!(shop_connected.status, 201, "{}", shop_connected.body);
    let ads_connected = owner
        .post(
            "/api/stores/connect",
            &json!({ "business_id": business, "platform": "google_ads", "store_url": server.base_url(),
                     "credentials": { "client_id": google_ads_fake::CLIENT_ID,
                                      "client_secret": google_ads_fake::CLIENT_SECRET,
                                      "refresh_token": google_ads_fake::REFRESH_TOKEN,
                                      "developer_token": google_ads_fake::DEVELOPER_TOKEN,
                                      "customer_id": "123-456-7890",
                                      "login_customer_id": google_ads_fake::MANAGER_ID } }),
        )
        .await;
    assert_eq!(ads_connected.status, 201, "{}", ads_connected.body);
    assert_eq!(ads_connected.body["account"], google_ads_fake::CUSTOMER_ID, "linked by its ten-digit id");
    let live = owner.put(&format!("/api/business/{business}"), &json!({ "market_mode": "live" })).await;
    assert_eq!(live.status, 200, "{}", live.body);
    LiveBusiness { app, owner, business, ads, _shop: shop, _server: server }
}

async fn live_business_with_meta_ads(backends: Backends) -> LiveBusiness<MetaAdsFake> {
    let shop = ShopifyFake::start().await;
    let ads = MetaAdsFake::default();
    let server = LocalServer::start(ads.router()).await;
    let app = spawn_app_with(backends, &[("DEMO_TENANT", "false")]).await;
    let (owner, business) = app.owner_with_business("ada@example.com", Tier::Enterprise, "Focus & Flow").await;
    for (platform, origin, credentials) in [
        ("shopify", shop.base_url(), json!({ "access_token": TOKEN })),
        (
            "meta_ads",
            server.base_url(),
            json!({ "access_token": meta_ads_fake::ACCESS_TOKEN, "app_secret": meta_ads_fake::APP_SECRET,
                    "ad_account_id": format!("act_{}", meta_ads_fake::AD_ACCOUNT),
                    "page_id": meta_ads_fake::PAGE_ID }),
        ),
    ] {
        let connected = owner
            .post(
                "/api/stores/connect",
                &json!({ "business_id": business, "platform": platform, "store_url": origin,
                         "credentials": credentials }),
            )
            .await;
        assert_eq!(connected.status, 201, "{}", connected.body);
    }
    let live = owner.put(&format!("/api/business/{business}"), &json!({ "market_mode": "live" })).await;
    assert_eq!(live.status, 200, "{}", live.body);
    LiveBusiness { app, owner, business, ads, _shop: shop, _server: server }
}

/// Whether a cycle's events end with its minutes (not with `autopilot.cycle_failed`).
fn ended_well(events: &[SwarmEvent]) -> bool {
    events.last().is_some_and(|event| event.kind == "ceo.report")
}

fn kinds(events: &[SwarmEvent]) -> Vec<(&str, &str)> {
    events.iter().map(|event| (event.kind.as_str(), event.summary.as_str())).collect()
}

/// The business's ledger rows from Google Ads: (transaction id, amount).
async fn google_rows(live: &LiveBusiness) -> Vec<(String, Decimal)> {
    let (from, to) = (chrono::DateTime::<Utc>::MIN_UTC, Utc::now() + chrono::Duration::days(1));
    let rows = live.app.state.store.ledger_entries(TenantId(live.business), from, to).await.expect("ledger");
    rows.into_iter()
        .filter(|row| row.source == "google_ads")
        .map(|row| (row.transaction_id.unwrap_or_default(), row.amount))
        .collect()
}

async fn a_live_business_runs_its_search_ads_on_google_and_books_each_days_spend_once(backends: Backends) {
    let live = live_business_with_google_ads(backends).await;
    let (owner, business) = (&live.owner, live.business);

    run_a_cycle(&live.app, owner, business).await;
    let (budgets, campaigns) = (live.ads.budgets(), live.ads.campaigns());
    assert_eq!((budgets.len(), campaigns.len()), (1, 1), "one budget and one campaign: {campaigns:?}");
    let campaign = &campaigns[0];
    assert_eq!((campaign.channel.as_str(), campaign.status.as_str()), ("SEARCH", "ENABLED"), "{campaign:?}");
    let rows = live.app.state.store.campaigns(TenantId(business)).await.expect("campaigns");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].external_id.as_deref(), Some(campaign.resource_name.as_str()));
    let product = live.app.state.store.products(TenantId(business)).await.expect("products").remove(0);
    let ad_groups = live.ads.ad_groups();
    assert_eq!(ad_groups.len(), 1, "one ad group: {ad_groups:?}");
    assert_eq!(
        (ad_groups[0].campaign.as_str(), ad_groups[0].status.as_str()),
        (campaign.resource_name.as_str(), "ENABLED")
    );
    let keywords = live.ads.keywords();
    assert!(!keywords.is_empty(), "the product's tags as keywords");
    let mut texts: Vec<&str> = keywords.iter().map(|keyword| keyword.text.as_str()).collect();
    texts.sort_unstable();
    texts.dedup();
    assert_eq!(texts.len(), keywords.len(), "each keyword once: {keywords:?}");
    assert!(
        keywords.iter().all(|keyword| keyword.ad_group == ad_groups[0].resource_name && keyword.match_type == "PHRASE")
    );
    let tags: Vec<String> = product.tags.iter().map(|tag| tag.to_lowercase()).collect();
    assert!(keywords.iter().any(|keyword| tags.contains(&keyword.text)), "{keywords:?} from {tags:?}");
    let ads = live.ads.ads();
    assert_eq!(ads.len(), 1, "one ad: {ads:?}");
    assert_eq!(ads[0].ad_group, ad_groups[0].resource_name);
    // The fake shop has no online store, so a product's page is its admin page.
    assert!(ads[0].final_urls[0].contains("/products/"), "it leads to the product's page: {:?}", ads[0].final_urls);
    assert!((3..=15).contains(&ads[0].headlines.len()) && (2..=4).contains(&ads[0].descriptions.len()), "{ads:?}");

    let swarm = owner.get(&format!("/api/live/{business}/swarm")).await;
    assert_eq!(
        swarm.body["market"]["channels"],
        json!([{ "node": "channel:google_ads", "platform": "google_ads", "state": "ready", "needs_owner": null }])
    );
    assert!(swarm.body["adapters"].as_array().is_some_and(|nodes| nodes.contains(&json!("channel:google_ads"))));

    // Yesterday the campaign spent $12.34 and sold twice; today's spend is still growing.
    let today = Utc::now().date_naive();
    let yesterday = today - chrono::Days::new(1);
    let spent = FakeDay { cost_micros: 12_340_000, impressions: 900, clicks: 41, conversions: 2.0 };
    live.ads.set_day(&campaign.resource_name, yesterday, spent);
    live.ads.set_day(&campaign.resource_name, today, FakeDay { cost_micros: 3_000_000, ..spent });
    let second = run_a_cycle(&live.app, owner, business).await;
    let booked = google_rows(&live).await;
    assert_eq!(
        booked,
        vec![(format!("google_ads:{}:{yesterday}", campaign.resource_name), Decimal::new(-1234, 2))],
        "yesterday's spend, as an expense; today waits until it is over"
    );
    assert!(second.iter().all(|event| event.kind != "marketing.ad_days_unread"));
    let analytics = owner.get(&format!("/api/marketing/analytics?business_id={business}")).await;
    assert_eq!(analytics.status, 200, "{}", analytics.body);
    assert_eq!(analytics.body["figures"], "live");
    assert_eq!(analytics.body["total_spent"], "12.34", "{}", analytics.body);
    run_a_cycle(&live.app, owner, business).await;
    assert_eq!(google_rows(&live).await.len(), 1, "a day read again is booked once");
    assert_eq!(live.ads.campaigns().len(), 1, "the week's flight is not launched again");
    assert_eq!((live.ads.ad_groups().len(), live.ads.ads().len()), (1, 1), "nor its ad group or ad");
    assert_eq!(live.ads.keywords().len(), keywords.len(), "nor its keywords");
}

async fn the_spending_guard_holds_a_google_flight_above_the_threshold_before_google_sees_it(backends: Backends) {
    let live = live_business_with_google_ads(backends).await;
    let (owner, business) = (&live.owner, live.business);
    let set = owner.put(&format!("/api/business/{business}/guard"), &json!({ "approval_threshold": "10" })).await;
    assert_eq!(set.status, 200, "{}", set.body);

    let cycle = run_a_cycle(&live.app, owner, business).await;
    assert!(cycle.iter().any(|event| event.kind == "guard.approval_requested"), "the flight waits for its owner");
    assert!(live.ads.campaigns().is_empty() && live.ads.budgets().is_empty(), "nothing reached Google");

    let pending = owner.get(&format!("/api/business/{business}/approvals?status=pending")).await;
    let approval = pending.body["items"][0]["id"].as_i64().expect("a pending approval");
    let approved = owner.post(&format!("/api/approvals/{approval}/approve"), &json!({})).await;
    assert_eq!(approved.status, 200, "{}", approved.body);
    run_a_cycle(&live.app, owner, business).await;
    assert_eq!(live.ads.campaigns().len(), 1, "approved, it runs on Google");
}

async fn a_live_business_runs_its_social_ads_on_meta_and_books_each_days_spend_once(backends: Backends) {
    let shop = ShopifyFake::start().await;
    let meta = MetaAdsFake::default();
    let server = LocalServer::start(meta.router()).await;
    let app = spawn_app_with(backends, &[("DEMO_TENANT", "false")]).await;
    let (owner, business) = app.owner_with_business("ada@example.com", Tier::Enterprise, "Focus & Flow").await;
    for (platform, origin, credentials) in [
        ("shopify", shop.base_url(), json!({ "access_token": TOKEN })),
        (
            "meta_ads",
            server.base_url(),
            json!({ "access_token": meta_ads_fake::ACCESS_TOKEN, "app_secret": meta_ads_fake::APP_SECRET,
                    "ad_account_id": format!("act_{}", meta_ads_fake::AD_ACCOUNT),
                    "page_id": meta_ads_fake::PAGE_ID }),
        ),
    ] {
        let connected = owner
            .post(
                "/api/stores/connect",
                &json!({ "business_id": business, "platform": platform, "store_url": origin,
                         "credentials": credentials }),
            )
            .await;
        assert_eq!(connected.status, 201, "{}", connected.body);
    }
    let wrong_secret = owner
        .post(
            "/api/stores/connect",
            &json!({ "business_id": business, "platform": "meta_ads", "store_url": server.base_url(),
                     "credentials": { "access_token": meta_ads_fake::ACCESS_TOKEN, "app_secret": "not-the-secret",
                                      "ad_account_id": meta_ads_fake::AD_ACCOUNT, "page_id": meta_ads_fake::PAGE_ID } }),
        )
        .await;
    assert_eq!(wrong_secret.status, 422, "{}", wrong_secret.body);
    let problem = wrong_secret.body["error"]["fields"]["credentials"].as_str().unwrap_or_default();
    assert!(!problem.contains("page_id"), "refused for its secret: {problem}");
    assert!(!wrong_secret.raw.windows(12).any(|window| window == b"not-the-secr"), "no secret echoed");
    // Ads speak as a Page: an account connected without one could run none.
    let no_page = owner
        .post(
            "/api/stores/connect",
            &json!({ "business_id": business, "platform": "meta_ads", "store_url": server.base_url(),
                     "credentials": { "access_token": meta_ads_fake::ACCESS_TOKEN, "app_secret": meta_ads_fake::APP_SECRET,
                                      "ad_account_id": meta_ads_fake::AD_ACCOUNT } }),
        )
        .await;
    assert_eq!(no_page.status, 422, "{}", no_page.body);
    assert!(no_page.body["error"]["fields"]["credentials"].as_str().is_some_and(|p| p.contains("page_id")));
    let live = owner.put(&format!("/api/business/{business}"), &json!({ "market_mode": "live" })).await;
    assert_eq!(live.status, 200, "{}", live.body);

    run_a_cycle(&app, &owner, business).await;
    let (campaigns, ad_sets) = (meta.campaigns(), meta.ad_sets());
    assert_eq!((campaigns.len(), ad_sets.len()), (1, 1), "one campaign and one ad set: {campaigns:?}");
    assert_eq!((campaigns[0].status.as_str(), ad_sets[0].status.as_str()), ("ACTIVE", "ACTIVE"));
    let rows = app.state.store.campaigns(TenantId(business)).await.expect("campaigns");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].channel, "SocialAds");
    let cents = (rows[0].budget / Decimal::from(7) * Decimal::ONE_HUNDRED).round();
    assert_eq!(Decimal::from(ad_sets[0].daily_budget), cents, "the flight's daily budget, in cents");
    let (creatives, ads) = (meta.creatives(), meta.ads());
    assert_eq!((creatives.len(), ads.len()), (1, 1), "one creative and one ad: {creatives:?} {ads:?}");
    assert_eq!(creatives[0].page_id, meta_ads_fake::PAGE_ID, "it speaks as the business's Page");
    assert!(creatives[0].link.starts_with("http"), "it links to the product's page: {}", creatives[0].link);
    assert!(creatives[0].headline.as_deref().is_some_and(|headline| !headline.is_empty()), "{creatives:?}");
    // It shows the product's cover, uploaded to the account's image library once.
    let images = meta.images();
    assert_eq!(images.len(), 1, "{images:?}");
    assert_eq!(creatives[0].image_hash.as_deref(), Some(images[0].0.as_str()));
    let covers = app.state.store.media_files(TenantId(business)).await.expect("files");
    let cover = covers.iter().find(|file| file.name.starts_with("cover-product-")).expect("the product's cover");
    assert_eq!(i64::try_from(images[0].1).ok(), Some(cover.size_bytes), "the cover's bytes");
    assert_eq!(
        (ads[0].ad_set_id.as_str(), ads[0].creative_id.as_str()),
        (ad_sets[0].id.as_str(), creatives[0].id.as_str())
    );
    assert_eq!(ads[0].status, "ACTIVE");

    let yesterday = Utc::now().date_naive() - chrono::Days::new(1);
    let campaign_id = rows[0].external_id.clone().expect("the campaign's id");
    let day = meta_ads_fake::FakeDay { spend: "7.25".into(), impressions: 5_000, clicks: 60, purchases: 1 };
    meta.set_day(&campaign_id, yesterday, day);
    run_a_cycle(&app, &owner, business).await;
    run_a_cycle(&app, &owner, business).await;
    let (from, to) = (chrono::DateTime::<Utc>::MIN_UTC, Utc::now() + chrono::Duration::days(1));
    let booked: Vec<(Option<String>, Decimal)> = app
        .state
        .store
        .ledger_entries(TenantId(business), from, to)
        .await
        .expect("ledger")
        .into_iter()
        .filter(|row| row.source == "meta_ads")
        .map(|row| (row.transaction_id, row.amount))
        .collect();
    assert_eq!(booked, vec![(Some(format!("meta_ads:{campaign_id}:{yesterday}")), Decimal::new(-725, 2))]);
    assert_eq!(meta.campaigns().len(), 1, "the week's flight is not launched again");
    assert_eq!((meta.creatives().len(), meta.ads().len()), (1, 1), "nor its creative or ad");
}

async fn a_google_launch_cut_short_at_its_ad_resumes_in_the_next_cycle_without_a_second_campaign_or_ad(
    backends: Backends,
) {
    let live = live_business_with_google_ads(backends).await;
    let (owner, business) = (&live.owner, live.business);

    // The budget, campaign, ad group and keywords are made; then Google refuses the ad
    // for the account's quota at each of the call's five tries, and the launch gives up.
    // A quota refusal is an answer, not an outage: the circuit stays closed, so the next
    // cycle may call Google at once.
    live.ads.exhaust_quota(google_ads_fake::ADS, 5, Duration::from_secs(1));
    let failed = run_a_cycle_to_its_end(&live.app, owner, business).await;
    assert!(!ended_well(&failed), "{:#?}", kinds(&failed));
    let why = &failed.last().expect("an event").summary;
    assert!(why.contains("rate limit"), "the failure says why: {why}");
    assert_eq!(live.ads.calls(google_ads_fake::ADS), 5, "the ad was tried five times, then given up");
    let (budgets, campaigns, ad_groups) = (live.ads.budgets(), live.ads.campaigns(), live.ads.ad_groups());
    assert_eq!((budgets.len(), campaigns.len(), ad_groups.len()), (1, 1, 1), "{campaigns:?} {ad_groups:?}");
    let keywords = live.ads.keywords();
    assert!(!keywords.is_empty(), "the keywords were added before the ad");
    assert!(live.ads.ads().is_empty());
    assert_eq!(campaigns[0].status, "PAUSED", "a flight without its ad is not enabled, so it spends nothing");
    let rows = live.app.state.store.campaigns(TenantId(business)).await.expect("campaigns");
    assert!(rows.is_empty(), "no campaign row for a flight not launched: {rows:?}");

    // The next cycle resumes the marketing step with the flight's key: each thing is
    // found by its keyed name (the keywords and ad by what the ad group holds), and only
    // the ad is made.
    let resumed = run_a_cycle_to_its_end(&live.app, owner, business).await;
    assert!(ended_well(&resumed), "{:#?}", kinds(&resumed));
    assert!(resumed.iter().any(|event| event.kind == "cycle.resumed"), "{:#?}", kinds(&resumed));
    let made_once = [google_ads_fake::BUDGETS, google_ads_fake::AD_GROUPS, google_ads_fake::KEYWORDS]
        .map(|method| (method, live.ads.calls(method)));
    assert_eq!(
        made_once,
        [(google_ads_fake::BUDGETS, 1), (google_ads_fake::AD_GROUPS, 1), (google_ads_fake::KEYWORDS, 1)],
        "the budget, ad group and keywords each sent once, across the failure"
    );
    assert_eq!(live.ads.calls(google_ads_fake::CAMPAIGNS), 2, "the campaign made once, then enabled once");
    assert_eq!(live.ads.calls(google_ads_fake::ADS), 6, "one more call made the ad");
    assert_eq!((live.ads.budgets(), live.ads.ad_groups(), live.ads.keywords()), (budgets, ad_groups.clone(), keywords));
    let campaign = match live.ads.campaigns().as_slice() {
        [campaign] => campaign.clone(),
        more => panic!("one campaign: {more:?}"),
    };
    assert_eq!(campaign.resource_name, campaigns[0].resource_name, "the very campaign the failed cycle made");
    assert_eq!(campaign.status, "ENABLED");
    let ads = live.ads.ads();
    assert_eq!(ads.len(), 1, "one ad: {ads:?}");
    assert_eq!((ads[0].ad_group.as_str(), ads[0].status.as_str()), (ad_groups[0].resource_name.as_str(), "ENABLED"));
    let rows = live.app.state.store.campaigns(TenantId(business)).await.expect("campaigns");
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].external_id.as_deref(), Some(campaign.resource_name.as_str()));
}

async fn a_meta_launch_cut_short_at_its_ad_resumes_in_the_next_cycle_without_a_second_campaign_or_ad(
    backends: Backends,
) {
    let live = live_business_with_meta_ads(backends).await;
    let (owner, business) = (&live.owner, live.business);

    // The campaign, ad set, picture and creative are made; then Meta refuses the ad for a
    // permission the system user lacked for a moment. A refusal is not retried (and,
    // being an answer, leaves the circuit closed): the launch gives up at once.
    live.ads.refuse_calls(meta_ads_fake::CREATE_AD, 1);
    let failed = run_a_cycle_to_its_end(&live.app, owner, business).await;
    assert!(!ended_well(&failed), "{:#?}", kinds(&failed));
    let why = &failed.last().expect("an event").summary;
    assert!(why.contains("ads_management"), "the failure says why: {why}");
    let (campaigns, ad_sets, creatives) = (live.ads.campaigns(), live.ads.ad_sets(), live.ads.creatives());
    assert_eq!((campaigns.len(), ad_sets.len(), creatives.len()), (1, 1, 1), "{campaigns:?} {ad_sets:?}");
    assert!(live.ads.ads().is_empty());
    assert_eq!(
        (campaigns[0].status.as_str(), ad_sets[0].status.as_str()),
        ("PAUSED", "PAUSED"),
        "a flight without its ad is not started, so it spends nothing"
    );
    let rows = live.app.state.store.campaigns(TenantId(business)).await.expect("campaigns");
    assert!(rows.is_empty(), "no campaign row for a flight not launched: {rows:?}");

    // The next cycle resumes the marketing step with the flight's key: the campaign, ad
    // set and creative are found by their keyed names, and only the ad is made.
    let resumed = run_a_cycle_to_its_end(&live.app, owner, business).await;
    assert!(ended_well(&resumed), "{:#?}", kinds(&resumed));
    assert!(resumed.iter().any(|event| event.kind == "cycle.resumed"), "{:#?}", kinds(&resumed));
    let made_once = [meta_ads_fake::CREATE_CAMPAIGN, meta_ads_fake::CREATE_AD_SET, meta_ads_fake::CREATE_CREATIVE]
        .map(|route| (route, live.ads.calls(route)));
    assert_eq!(
        made_once,
        [(meta_ads_fake::CREATE_CAMPAIGN, 1), (meta_ads_fake::CREATE_AD_SET, 1), (meta_ads_fake::CREATE_CREATIVE, 1)],
        "the campaign, ad set and creative each made once, across the failure"
    );
    assert_eq!(live.ads.calls(meta_ads_fake::CREATE_AD), 2, "the refused call, then the one that made the ad");
    assert_eq!(live.ads.images().len(), 1, "the picture is the same image, sent again or not");
    assert_eq!(live.ads.creatives(), creatives, "the very creative the failed cycle made");
    let (campaign, ad_set) = match (live.ads.campaigns().as_slice(), live.ads.ad_sets().as_slice()) {
        ([campaign], [ad_set]) => (campaign.clone(), ad_set.clone()),
        (more, sets) => panic!("one campaign and one ad set: {more:?} {sets:?}"),
    };
    assert_eq!((campaign.id.as_str(), ad_set.id.as_str()), (campaigns[0].id.as_str(), ad_sets[0].id.as_str()));
    assert_eq!((campaign.status.as_str(), ad_set.status.as_str()), ("ACTIVE", "ACTIVE"));
    let ads = live.ads.ads();
    assert_eq!(ads.len(), 1, "one ad: {ads:?}");
    assert_eq!(
        (ads[0].ad_set_id.as_str(), ads[0].creative_id.as_str(), ads[0].status.as_str()),
        (ad_set.id.as_str(), creatives[0].id.as_str(), "ACTIVE")
    );
    let rows = live.app.state.store.campaigns(TenantId(business)).await.expect("campaigns");
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].external_id.as_deref(), Some(campaign.id.as_str()));
}

boardroom_tests::on_both_backends! {
    a_live_business_runs_its_social_ads_on_meta_and_books_each_days_spend_once,
    a_live_business_runs_its_search_ads_on_google_and_books_each_days_spend_once,
    the_spending_guard_holds_a_google_flight_above_the_threshold_before_google_sees_it,
    a_google_launch_cut_short_at_its_ad_resumes_in_the_next_cycle_without_a_second_campaign_or_ad,
    a_meta_launch_cut_short_at_its_ad_resumes_in_the_next_cycle_without_a_second_campaign_or_ad,
}
