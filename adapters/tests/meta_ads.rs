//! The Meta Ads client against a local fake of the Graph API (Marketing API v27.0) that
//! follows the protocol and refuses anything else: a flight launched through the
//! swarm's `AdAccount` that makes one campaign and one ad set with its budget in cents,
//! its picture, a creative speaking as the Page and linking to the product, and an ad
//! showing it, all active, and whose days come back over several pages as exact money;
//! a rate limit waited out for the time Meta names; a wrong app secret refused in words
//! that say so; a launch cut short by a crash or an outage run again without making
//! anything twice; a connection without a Page, or copy without a link, refused before
//! any call; an invalidated token turned into "connect Meta again"; and insights read
//! to their last page by cursor.

mod support;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use boardroom_adapters::{
    AdAccount, AdChannel, AdCreative, AdImage, AdapterError, CampaignSpec, IdempotencyKey, MetaAdsClient,
    MetaAdsConnection, MetaAdsObjective, OAuthSecret, Platform, ResilienceSettings, RetryPolicy, SocialAdCopy,
};
use boardroom_memory::TenantId;
use chrono::{Days, NaiveDate, Utc};
use rust_decimal::Decimal;
use support::meta_ads_fake::{
    CREATE_AD, CREATE_AD_SET, CREATE_CAMPAIGN, CREATE_CREATIVE, FakeDay, INSIGHTS, LIST_CAMPAIGNS, MetaAdsFake,
    PAGE_ID, SET_STATUS, UPLOAD_IMAGE,
};
use support::{LocalServer, channel_settings};
use tokio::time::Instant;

/// A fake Graph API and a client of its ad account.
async fn spawn_meta() -> (MetaAdsFake, LocalServer, MetaAdsClient) {
    let fake = MetaAdsFake::default();
    let server = LocalServer::start(fake.router()).await;
    let client = connect(MetaAdsFake::connection(server.base_url()), settings());
    (fake, server, client)
}

fn settings() -> ResilienceSettings {
    channel_settings(Duration::from_secs(5))
}

/// A client as a process that just started would make it.
fn connect(connection: MetaAdsConnection, settings: ResilienceSettings) -> MetaAdsClient {
    MetaAdsClient::with_settings(connection, settings).expect("a valid connection")
}

fn key(item: &str) -> IdempotencyKey {
    IdempotencyKey::for_step(TenantId(7), 3, "ads_launch", item)
}

fn money(text: &str) -> Decimal {
    Decimal::from_str(text).expect("an amount")
}

fn date(day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, day).expect("a date")
}

/// What a product page's ads say, with its cover.
fn creative() -> AdCreative {
    AdCreative {
        landing_url: "https://shop.example.com/products/prompt-pack".into(),
        headlines: vec!["Founder's Prompt Pack".into(), "Only $19".into()],
        descriptions: vec!["120 tested prompts for pitches, hiring and launches.".into(), "Instant download.".into()],
        keywords: vec!["founder prompts".into()],
        image: Some(AdImage {
            content_type: "image/png".into(),
            bytes: b"\x89PNG\r\n\x1a\nnot much of a cover".to_vec(),
        }),
    }
}

fn copy() -> SocialAdCopy {
    SocialAdCopy::parse(&creative()).expect("usable copy")
}

fn flight(product: &str, daily_budget: &str) -> CampaignSpec {
    CampaignSpec {
        product_id: product.to_owned(),
        channel: AdChannel::SocialAds,
        daily_budget: money(daily_budget),
        days: 7,
        creative: creative(),
    }
}

/// How many of each thing the fake holds: campaigns, ad sets, images, creatives, ads.
fn made(fake: &MetaAdsFake) -> [usize; 5] {
    [fake.campaigns().len(), fake.ad_sets().len(), fake.images().len(), fake.creatives().len(), fake.ads().len()]
}

fn day(spend: &str, impressions: u64, clicks: u64, purchases: u64) -> FakeDay {
    FakeDay { spend: spend.to_owned(), impressions, clicks, purchases }
}

fn week() -> (NaiveDate, NaiveDate) {
    let today = Utc::now().date_naive();
    (today, today.checked_add_days(Days::new(6)).expect("a date"))
}

fn rejected_message(error: AdapterError) -> String {
    match error {
        AdapterError::Rejected { platform: Platform::MetaAds, message } => message,
        other => panic!("expected a rejection from Meta Ads, got {other:?}"),
    }
}

#[tokio::test]
async fn a_flight_launched_through_the_ad_account_makes_an_active_campaign_ad_set_creative_and_ad_and_its_days_come_back_as_exact_money()
 {
    let (fake, _server, client) = spawn_meta().await;
    let account: Arc<dyn AdAccount> = Arc::new(client);
    assert_eq!(account.channel(), AdChannel::SocialAds);

    let launched = account.launch(&flight("pack-1", "12.34"), &key("pack")).await.expect("launched");

    let campaigns = fake.campaigns();
    assert_eq!(campaigns.len(), 1, "{campaigns:?}");
    let campaign = &campaigns[0];
    assert_eq!(campaign.id, launched.campaign_id);
    assert_eq!(campaign.name, format!("Flight for product pack-1 [{}]", key("pack")));
    assert_eq!((campaign.objective.as_str(), campaign.status.as_str()), ("OUTCOME_TRAFFIC", "ACTIVE"));
    assert!(campaign.special_ad_categories.is_empty(), "declared none");
    assert_eq!(campaign.buying_type.as_deref(), Some("AUCTION"));
    let ad_sets = fake.ad_sets();
    assert_eq!(ad_sets.len(), 1, "{ad_sets:?}");
    let ad_set = &ad_sets[0];
    assert_eq!((ad_set.campaign_id.as_str(), ad_set.name.as_str()), (campaign.id.as_str(), campaign.name.as_str()));
    assert_eq!(ad_set.daily_budget, 1234, "12.34 in cents, exactly");
    assert_eq!(ad_set.status, "ACTIVE");
    assert_eq!(
        (ad_set.billing_event.as_str(), ad_set.optimization_goal.as_str(), ad_set.bid_strategy.as_str()),
        ("IMPRESSIONS", "LINK_CLICKS", "LOWEST_COST_WITHOUT_CAP")
    );
    assert_eq!(ad_set.countries, ["US", "CA"]);
    let (first, last) = week();
    assert_eq!(ad_set.start_time, format!("{first}T00:00:00+0000"));
    assert_eq!(ad_set.end_time, format!("{}T00:00:00+0000", last.succ_opt().expect("a date")));
    assert_eq!(fake.calls(SET_STATUS), 2, "the ad set, then the campaign");
    let images = fake.images();
    assert_eq!(images.len(), 1, "the cover, uploaded once");
    let creatives = fake.creatives();
    assert_eq!(creatives.len(), 1, "{creatives:?}");
    let made_creative = &creatives[0];
    assert_eq!(made_creative.name, campaign.name);
    assert_eq!(
        (made_creative.page_id.as_str(), made_creative.link.as_str()),
        (PAGE_ID, creative().landing_url.as_str())
    );
    assert_eq!(
        (made_creative.headline.as_deref(), made_creative.message.as_deref(), made_creative.description.as_deref()),
        (
            Some("Founder's Prompt Pack"),
            Some("120 tested prompts for pitches, hiring and launches."),
            Some("Instant download.")
        )
    );
    assert_eq!(made_creative.image_hash.as_deref(), Some(images[0].0.as_str()));
    assert_eq!(made_creative.call_to_action.as_deref(), Some("SHOP_NOW"));
    let ads = fake.ads();
    assert_eq!(ads.len(), 1, "{ads:?}");
    assert_eq!(
        (ads[0].ad_set_id.as_str(), ads[0].creative_id.as_str(), ads[0].status.as_str()),
        (ad_set.id.as_str(), made_creative.id.as_str(), "ACTIVE")
    );

    // Five days in the range (three pages) and one after it.
    let id = &launched.campaign_id;
    fake.set_day(id, date(26), day("1234.56", 10_400, 312, 3));
    fake.set_day(id, date(27), day("0.99", 87, 3, 0));
    fake.set_day(id, date(28), day("0.01", 2, 1, 1));
    fake.set_day(id, date(29), day("20.10", 900, 40, 0));
    fake.set_day(id, date(30), day("7", 300, 9, 2));
    fake.set_day(id, NaiveDate::from_ymd_opt(2026, 12, 1).expect("a date"), day("5.00", 9, 1, 0));

    let days = account.campaign_days(date(26), date(30)).await.expect("the report");

    let seen: Vec<_> =
        days.iter().map(|day| (day.date, day.spend, day.impressions, day.clicks, day.conversions)).collect();
    assert_eq!(
        seen,
        [
            (date(26), money("1234.56"), 10_400, 312, 3),
            (date(27), money("0.99"), 87, 3, 0),
            (date(28), money("0.01"), 2, 1, 1),
            (date(29), money("20.1"), 900, 40, 0),
            (date(30), money("7"), 300, 9, 2),
        ]
    );
    assert!(days.iter().all(|day| day.campaign_id == launched.campaign_id && day.platform == Platform::MetaAds));
    assert_eq!(days.iter().map(|day| day.spend).sum::<Decimal>(), money("1262.66"), "no cent lost to floats");
    assert_eq!(fake.calls(INSIGHTS), 3, "five rows in pages of two");
}

#[tokio::test(start_paused = true)]
async fn a_rate_limit_is_waited_out_for_the_time_meta_names() {
    let (fake, _server, client) = spawn_meta().await;
    fake.rate_limit(2, 1);
    let started = Instant::now();

    let launch = client
        .until(started + Duration::from_secs(600))
        .launch("Prompt pack", MetaAdsObjective::Sales, money("20"), week(), &copy(), &key("limited"))
        .await
        .expect("launched once the waits were over");

    assert_eq!(fake.refusals(), [17, 17], "refused twice for the rate limit, then let through");
    assert_eq!(fake.calls(LIST_CAMPAIGNS), 3, "the first step was sent three times");
    let waited = started.elapsed();
    assert!(waited >= Duration::from_secs(120) && waited < Duration::from_secs(121), "waited {waited:?}");
    assert_eq!((fake.campaigns().len(), fake.ad_sets().len()), (1, 1));
    assert_eq!(fake.campaigns()[0].objective, "OUTCOME_SALES");
    assert_eq!(fake.ad_sets()[0].campaign_id, launch.campaign_id);
    let headroom = client.usage_headroom().expect("the usage headers were read");
    assert!(headroom > 90.0, "Meta reported little use since: {headroom}");
}

#[tokio::test]
async fn a_wrong_app_secret_is_refused_in_words_that_say_so_and_nothing_is_made() {
    let fake = MetaAdsFake::default();
    let server = LocalServer::start(fake.router()).await;
    let connection = MetaAdsConnection {
        app_secret: OAuthSecret::new("the-secret-of-another-app"),
        ..MetaAdsFake::connection(server.base_url())
    };
    let client = connect(connection, settings());

    let error = client
        .launch("Prompt pack", MetaAdsObjective::Traffic, money("10"), week(), &copy(), &key("proof"))
        .await
        .expect_err("refused");

    assert!(!error.is_retryable(), "{error:?}");
    let message = rejected_message(error);
    assert!(message.contains("Invalid appsecret_proof provided in the API argument"), "Meta's words: {message}");
    assert!(message.contains("app secret must be that of the Meta app"), "what to check: {message}");
    assert_eq!(fake.all_calls(), 1, "a refusal is not retried");
    assert!(fake.campaigns().is_empty() && fake.ad_sets().is_empty());
}

#[tokio::test]
async fn a_launch_cut_short_after_a_create_is_finished_by_running_it_again_with_the_same_key() {
    for lost in [CREATE_CAMPAIGN, CREATE_AD_SET, CREATE_CREATIVE, CREATE_AD] {
        let (fake, server, _client) = spawn_meta().await;
        // A process that crashed right after its create was done: no retry, no answer.
        let crashing = ResilienceSettings { retry: RetryPolicy { max_attempts: 1, ..settings().retry }, ..settings() };
        let first_run = connect(MetaAdsFake::connection(server.base_url()), crashing);
        fake.cut_answers(lost, 1);
        let error = first_run
            .launch("Prompt pack", MetaAdsObjective::Traffic, money("25"), week(), &copy(), &key("crash"))
            .await
            .expect_err("no answer came");
        assert!(error.is_retryable(), "an outage: {error:?}");
        assert!(error.to_string().contains("the connection failed"), "the answer was cut off: {error}");
        assert_eq!(fake.campaigns().len(), 1, "the first run made the campaign ({lost})");

        // The restarted process runs the same step again.
        let restarted = connect(MetaAdsFake::connection(server.base_url()), settings());
        let launch = restarted
            .launch("Prompt pack", MetaAdsObjective::Traffic, money("25"), week(), &copy(), &key("crash"))
            .await
            .expect("finished");

        let (campaigns, ad_sets) = (fake.campaigns(), fake.ad_sets());
        assert_eq!(made(&fake), [1, 1, 1, 1, 1], "one of each after losing {lost}");
        assert_eq!(
            (launch.campaign_id.as_str(), launch.ad_set_id.as_str()),
            (campaigns[0].id.as_str(), ad_sets[0].id.as_str())
        );
        assert_eq!(ad_sets[0].campaign_id, campaigns[0].id);
        assert_eq!((campaigns[0].status.as_str(), ad_sets[0].status.as_str()), ("ACTIVE", "ACTIVE"));
        let creates = [CREATE_CAMPAIGN, CREATE_AD_SET, CREATE_CREATIVE, CREATE_AD].map(|route| fake.calls(route));
        assert_eq!(creates, [1, 1, 1, 1], "each was sent once ({lost})");
        assert_eq!(
            (launch.creative_id.as_str(), launch.ad_id.as_str()),
            (fake.creatives()[0].id.as_str(), fake.ads()[0].id.as_str())
        );
    }
}

#[tokio::test]
async fn an_answer_lost_within_a_launch_is_found_by_its_name_rather_than_made_twice() {
    let (fake, _server, client) = spawn_meta().await;
    fake.cut_answers(CREATE_CAMPAIGN, 1);

    let launch = client
        .launch("Prompt pack", MetaAdsObjective::Traffic, money("25"), week(), &copy(), &key("lost-once"))
        .await
        .expect("launched");

    assert_eq!(fake.campaigns().len(), 1);
    assert_eq!(fake.campaigns()[0].id, launch.campaign_id, "the campaign the lost answer was about");
    assert_eq!(fake.calls(CREATE_CAMPAIGN), 1, "the retry looked first and found it");
    assert_eq!(fake.calls(LIST_CAMPAIGNS), 2);

    let again = client
        .launch("Prompt pack", MetaAdsObjective::Traffic, money("25"), week(), &copy(), &key("lost-once"))
        .await
        .expect("found again");
    assert_eq!(again, launch);
    let creates = [CREATE_CAMPAIGN, CREATE_AD_SET, CREATE_CREATIVE, CREATE_AD].map(|route| fake.calls(route));
    assert_eq!(creates, [1, 1, 1, 1], "nothing more was made");
    assert_eq!(made(&fake), [1, 1, 1, 1, 1]);
}

#[tokio::test]
async fn an_invalidated_token_says_the_owner_must_connect_meta_again() {
    let (fake, _server, client) = spawn_meta().await;
    client
        .launch("Prompt pack", MetaAdsObjective::Traffic, money("10"), week(), &copy(), &key("token"))
        .await
        .expect("the token works at first");
    assert!(client.oauth().needs_owner().await.is_none());
    fake.invalidate_token();

    let message = rejected_message(client.campaign_insights(date(1), date(30)).await.expect_err("refused"));

    assert!(message.contains("connect Meta again"), "{message}");
    assert!(
        message.contains("code 190, subcode 460") && message.contains("Error validating access token"),
        "{message}"
    );
    assert!(client.oauth().needs_owner().await.is_some(), "the dashboard shows the connection needs its owner");
    let calls = fake.all_calls();
    let again = client.campaign_insights(date(1), date(30)).await.expect_err("still no token");
    assert!(!again.is_retryable());
    assert_eq!(fake.all_calls(), calls, "a refused token is not sent again");
}

#[tokio::test]
async fn insights_paging_follows_the_cursors_to_the_last_page() {
    let (fake, _server, client) = spawn_meta().await;
    let mut campaigns = Vec::new();
    for product in ["a", "b"] {
        let launch = client
            .launch(&format!("Pack {product}"), MetaAdsObjective::Traffic, money("15"), week(), &copy(), &key(product))
            .await
            .expect("launched");
        campaigns.push(launch.campaign_id);
    }
    for (offset, campaign) in campaigns.iter().enumerate() {
        for day_of_month in 27..=29 {
            let spend = format!("{day_of_month}.{offset}5");
            fake.set_day(campaign, date(day_of_month), day(&spend, 100, 10, u64::from(day_of_month) % 2));
        }
        // Out of the range asked: not reported.
        fake.set_day(campaign, date(20), day("99.99", 1, 1, 0));
    }

    let days = client.campaign_insights(date(27), date(29)).await.expect("every page");

    assert_eq!(days.len(), 6, "{days:?}");
    assert_eq!(fake.calls(INSIGHTS), 3, "six rows in pages of two");
    assert_eq!(fake.insights_cursors(), ["QVFIUm2", "QVFIUm4"], "each page asked from the last one's cursor");
    let seen: Vec<_> = days.iter().map(|day| (day.date, day.campaign_id.clone(), day.spend, day.conversions)).collect();
    let mut expected = Vec::new();
    for day_of_month in 27..=29 {
        for (offset, campaign) in campaigns.iter().enumerate() {
            let purchases = Decimal::from(day_of_month % 2);
            expected.push((
                date(day_of_month),
                campaign.clone(),
                money(&format!("{day_of_month}.{offset}5")),
                purchases,
            ));
        }
    }
    assert_eq!(seen, expected);
    assert_eq!(days.iter().map(|day| day.spend).sum::<Decimal>(), money("168.6"));
}

#[tokio::test]
async fn a_launch_stopped_by_an_outage_before_its_ad_makes_nothing_twice_when_run_again() {
    let (fake, server, first_run) = spawn_meta().await;
    // More failures than the four attempts a call gets: the first run gives up.
    fake.fail_calls(CREATE_AD, 4);
    let error = first_run
        .launch("Prompt pack", MetaAdsObjective::Traffic, money("25"), week(), &copy(), &key("outage"))
        .await
        .expect_err("Meta was down");
    assert!(error.is_retryable(), "an outage: {error:?}");
    assert_eq!(made(&fake), [1, 1, 1, 1, 0], "stopped before the ad");

    let restarted = connect(MetaAdsFake::connection(server.base_url()), settings());
    let launch = restarted
        .launch("Prompt pack", MetaAdsObjective::Traffic, money("25"), week(), &copy(), &key("outage"))
        .await
        .expect("finished");

    assert_eq!(made(&fake), [1, 1, 1, 1, 1]);
    let creates = [CREATE_CAMPAIGN, CREATE_AD_SET, CREATE_CREATIVE, CREATE_AD].map(|route| fake.calls(route));
    assert_eq!(creates, [1, 1, 1, 5], "four failed tries at the ad, then the ad; nothing else sent again");
    assert_eq!(fake.calls(UPLOAD_IMAGE), 2, "the cover sent again is the same image");
    assert_eq!(
        (fake.ads()[0].creative_id.as_str(), launch.creative_id.as_str()),
        (fake.creatives()[0].id.as_str(), fake.creatives()[0].id.as_str())
    );
}

#[tokio::test]
async fn a_connection_without_its_page_is_refused_before_anything_is_made() {
    let fake = MetaAdsFake::default();
    let server = LocalServer::start(fake.router()).await;
    let client = connect(MetaAdsConnection { page_id: None, ..MetaAdsFake::connection(server.base_url()) }, settings());

    let message = rejected_message(
        AdAccount::launch(&client, &flight("pack-1", "20"), &key("no-page")).await.expect_err("no Page"),
    );

    assert!(message.contains("connect the ad account again with its page_id"), "{message}");
    assert_eq!(fake.all_calls(), 0, "nothing was sent");
}

#[tokio::test]
async fn copy_without_a_link_or_a_headline_is_refused_before_any_call() {
    let (fake, _server, client) = spawn_meta().await;
    let refusals = [
        (AdCreative { landing_url: " ".into(), ..creative() }, "no landing URL"),
        (AdCreative { landing_url: "ftp://shop.example.com/pack".into(), ..creative() }, "not a web page"),
        (AdCreative { headlines: Vec::new(), ..creative() }, "a headline and a primary text"),
        (
            AdCreative { image: Some(AdImage { content_type: "image/gif".into(), bytes: vec![1] }), ..creative() },
            "PNG or JPEG",
        ),
    ];

    for (creative, expected) in refusals {
        let spec = CampaignSpec { creative, ..flight("pack-1", "20") };
        let message = rejected_message(AdAccount::launch(&client, &spec, &key(expected)).await.expect_err(expected));
        assert!(message.contains(expected), "{expected}: {message}");
    }

    assert_eq!(fake.all_calls(), 0, "nothing was sent");
}
