//! The Google Ads client against a local fake of the Google Ads REST API (v26) and
//! Google's token endpoint that follows the protocol and refuses anything else: a launch
//! that makes one budget in exact micros, one paused Search campaign on it, an ad group,
//! its phrase-match keywords and a responsive search ad, daily cost and counts read back
//! from `searchStream` as exact money, `RESOURCE_EXHAUSTED` waited out for the
//! `retryDelay` Google names, an expired token refreshed once for ten calls, a launch
//! cut short by a crash or an outage run again without making anything twice, copy
//! Google would refuse stopped before any call, a revoked grant turned into "connect
//! again", and pause and resume sent as status updates.

mod support;

use std::str::FromStr;
use std::time::Duration;

use boardroom_adapters::{
    AdAccount, AdChannel, AdCreative, AdapterError, CampaignSpec, GoogleAdsCampaignStatus, GoogleAdsClient,
    GoogleAdsLaunch, IdempotencyKey, Platform, SearchAdCopy,
};
use boardroom_memory::TenantId;
use chrono::{Days, NaiveDate, Utc};
use rust_decimal::Decimal;
use support::google_ads_fake::{
    AD_GROUPS, ADS, BUDGETS, CAMPAIGNS, FakeDay, GoogleAdsFake, KEYWORDS, SEARCH_STREAM, TOKEN,
};
use support::{LocalServer, channel_settings};
use tokio::time::Instant;

/// A fake Google Ads and a client of its account.
async fn spawn_google_ads() -> (GoogleAdsFake, LocalServer, GoogleAdsClient) {
    let fake = GoogleAdsFake::default();
    let server = LocalServer::start(fake.router()).await;
    let client = connect(&server);
    (fake, server, client)
}

/// A client of the fake's account, as a process that just started would make it.
fn connect(server: &LocalServer) -> GoogleAdsClient {
    GoogleAdsClient::with_settings(
        GoogleAdsFake::connection(server.base_url()),
        channel_settings(Duration::from_secs(5)),
    )
    .expect("a valid connection")
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

/// What a product page's ads say: four headlines, two descriptions, three keywords.
fn creative() -> AdCreative {
    AdCreative {
        landing_url: "https://shop.example.com/products/prompt-pack".into(),
        headlines: vec![
            "Founder's Prompt Pack".into(),
            "Prompts for Busy Founders".into(),
            "Ship Your Launch Faster".into(),
            "Only $19".into(),
        ],
        descriptions: vec![
            "120 tested prompts for pitches, hiring and launches.".into(),
            "Instant download. Use them in any chat assistant.".into(),
        ],
        keywords: vec!["founder prompts".into(), "startup prompt pack".into(), "chatgpt prompts for founders".into()],
        image: None,
    }
}

fn copy() -> SearchAdCopy {
    SearchAdCopy::parse(&creative()).expect("copy within Google's limits")
}

/// A launch with the product page's copy, serving at once and for good.
async fn launch_with_copy(
    client: &GoogleAdsClient,
    name: &str,
    amount: &str,
    key: &IdempotencyKey,
) -> Result<GoogleAdsLaunch, AdapterError> {
    client.launch(name, money(amount), &copy(), (None, None), key).await
}

/// Calls that create something.
fn mutates(fake: &GoogleAdsFake) -> u32 {
    [BUDGETS, CAMPAIGNS, AD_GROUPS, KEYWORDS, ADS].iter().map(|method| fake.calls(method)).sum()
}

fn rejected_message(error: AdapterError) -> String {
    match error {
        AdapterError::Rejected { platform: Platform::GoogleAds, message } => message,
        other => panic!("expected a rejection from Google Ads, got {other:?}"),
    }
}

#[tokio::test]
async fn a_launch_makes_a_budget_a_search_campaign_an_ad_group_its_keywords_and_an_ad_and_its_days_come_back_as_exact_money()
 {
    let (fake, _server, client) = spawn_google_ads().await;

    let launch = launch_with_copy(&client, "Founder's prompt pack", "12.34", &key("pack")).await.expect("launched");

    assert_eq!(launch.name, format!("Founder's prompt pack [{}]", key("pack")));
    let budgets = fake.budgets();
    assert_eq!(budgets.len(), 1, "{budgets:?}");
    assert_eq!(budgets[0].resource_name, launch.budget);
    assert_eq!(budgets[0].name, launch.name);
    assert_eq!(budgets[0].amount_micros, 12_340_000, "12.34 in micros, exactly");
    assert_eq!((budgets[0].delivery_method.as_str(), budgets[0].explicitly_shared), ("STANDARD", false));
    let campaigns = fake.campaigns();
    assert_eq!(campaigns.len(), 1, "{campaigns:?}");
    let campaign = &campaigns[0];
    assert_eq!(
        (campaign.resource_name.as_str(), campaign.name.as_str()),
        (launch.campaign.as_str(), launch.name.as_str())
    );
    assert_eq!((campaign.channel.as_str(), campaign.status.as_str()), ("SEARCH", "PAUSED"));
    assert_eq!((campaign.budget.as_str(), campaign.bidding.as_str()), (launch.budget.as_str(), "manualCpc"));
    assert_eq!(campaign.eu_political_advertising, "DOES_NOT_CONTAIN_EU_POLITICAL_ADVERTISING");
    let ad_groups = fake.ad_groups();
    assert_eq!(ad_groups.len(), 1, "{ad_groups:?}");
    assert_eq!(
        (ad_groups[0].resource_name.as_str(), ad_groups[0].name.as_str(), ad_groups[0].campaign.as_str()),
        (launch.ad_group.as_str(), launch.name.as_str(), launch.campaign.as_str())
    );
    assert_eq!((ad_groups[0].kind.as_str(), ad_groups[0].status.as_str()), ("SEARCH_STANDARD", "ENABLED"));
    assert_eq!(ad_groups[0].cpc_bid_micros, 610_000, "a twentieth of 12.34, in whole cents");
    let keywords: Vec<_> =
        fake.keywords().into_iter().map(|keyword| (keyword.ad_group, keyword.text, keyword.match_type)).collect();
    let phrase = |text: &str| (launch.ad_group.clone(), text.to_owned(), "PHRASE".to_owned());
    assert_eq!(
        keywords,
        [phrase("founder prompts"), phrase("startup prompt pack"), phrase("chatgpt prompts for founders")]
    );
    let ads = fake.ads();
    assert_eq!(ads.len(), 1, "{ads:?}");
    assert_eq!(
        (ads[0].resource_name.as_str(), ads[0].ad_group.as_str()),
        (launch.ad.as_str(), launch.ad_group.as_str())
    );
    assert_eq!(ads[0].final_urls, [creative().landing_url]);
    assert_eq!(
        (ads[0].headlines.clone(), ads[0].descriptions.clone()),
        (creative().headlines, creative().descriptions)
    );

    // Three days in the range (two batches of the stream) and one after it.
    let day = |cost_micros, impressions, clicks, conversions| FakeDay { cost_micros, impressions, clicks, conversions };
    fake.set_day(&launch.campaign, date(28), day(1_234_560_000, 10_400, 312, 2.5));
    fake.set_day(&launch.campaign, date(29), day(990_000, 87, 3, 0.0));
    fake.set_day(&launch.campaign, date(30), day(10_000, 2, 1, 1.0));
    fake.set_day(&launch.campaign, NaiveDate::from_ymd_opt(2026, 12, 1).expect("a date"), day(5_000_000, 9, 1, 0.0));

    let days = client.campaign_metrics(date(28), date(30)).await.expect("the report");

    let seen: Vec<_> =
        days.iter().map(|day| (day.date, day.spend, day.impressions, day.clicks, day.conversions)).collect();
    assert_eq!(
        seen,
        [
            (date(28), money("1234.56"), 10_400, 312, money("2.5")),
            (date(29), money("0.99"), 87, 3, Decimal::ZERO),
            (date(30), money("0.01"), 2, 1, Decimal::ONE),
        ]
    );
    assert!(days.iter().all(|day| day.campaign == launch.campaign && day.name == launch.name));
    assert_eq!(days.iter().map(|day| day.spend).sum::<Decimal>(), money("1235.56"), "no cent lost to floats");
}

#[tokio::test(start_paused = true)]
async fn resource_exhausted_is_waited_out_for_the_delay_google_names() {
    let (fake, _server, client) = spawn_google_ads().await;
    fake.exhaust_quota(BUDGETS, 1, Duration::from_secs(12));
    let started = Instant::now();

    let launch =
        launch_with_copy(&client, "Prompt pack", "20", &key("quota")).await.expect("launched once the wait was over");

    assert_eq!(fake.calls(BUDGETS), 2, "refused for the quota once, then sent again");
    assert!(fake.refusals().contains(&"quotaError.RESOURCE_TEMPORARILY_EXHAUSTED".to_owned()));
    let waited = started.elapsed();
    assert!(waited >= Duration::from_secs(12) && waited < Duration::from_secs(13), "waited {waited:?}");
    assert_eq!(fake.budgets().len(), 1);
    assert_eq!(fake.campaigns()[0].budget, launch.budget);
}

#[tokio::test]
async fn ten_calls_that_find_the_token_expired_refresh_it_once() {
    let (fake, _server, client) = spawn_google_ads().await;
    let launch = launch_with_copy(&client, "Prompt pack", "15", &key("tokens")).await.expect("launched");
    assert_eq!(fake.refreshes(), 1, "one token served the whole launch");
    fake.expire_access_tokens();

    let reports: Vec<_> = (0..10)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.campaign_metrics(date(1), date(30)).await })
        })
        .collect();
    for report in reports {
        report.await.expect("the task ran").expect("every report is read");
    }

    assert_eq!(fake.refreshes(), 2, "the first token, then one refresh for all ten refused calls");
    assert_eq!(client.oauth().refreshes(), 2);
    assert!((1..=10).contains(&fake.unauthorized()), "refused {} times", fake.unauthorized());
    client
        .set_campaign_status(&launch.campaign, GoogleAdsCampaignStatus::Enabled)
        .await
        .expect("the fresh token works");
    assert_eq!(fake.refreshes(), 2);
}

/// How many of each thing the fake holds: budgets, campaigns, ad groups, keywords, ads.
fn made(fake: &GoogleAdsFake) -> [usize; 5] {
    [fake.budgets().len(), fake.campaigns().len(), fake.ad_groups().len(), fake.keywords().len(), fake.ads().len()]
}

#[tokio::test]
async fn a_launch_cut_short_at_any_point_is_finished_by_running_it_again_with_the_same_key() {
    for lost in [BUDGETS, CAMPAIGNS, AD_GROUPS] {
        let (fake, server, first_run) = spawn_google_ads().await;
        // Every attempt's answer is lost: the first run gives up as a crashed process would.
        fake.cut_answers(lost, 4);
        let error = launch_with_copy(&first_run, "Prompt pack", "25", &key("crash")).await.expect_err("no answer came");
        assert!(error.is_retryable(), "an outage: {error:?}");
        assert!(error.to_string().contains("the connection failed"), "the answer was cut off: {error}");
        assert_eq!(fake.budgets().len(), 1, "the first attempt made the budget ({lost})");
        let missing_before = made(&fake).iter().filter(|count| **count == 0).count();

        // The restarted process runs the same step again.
        let mutates_before = mutates(&fake);
        let launch = launch_with_copy(&connect(&server), "Prompt pack", "25", &key("crash")).await.expect("finished");

        assert_eq!(made(&fake), [1, 1, 1, 3, 1], "one of each, three keywords, after losing {lost}");
        let (budgets, campaigns, ad_groups) = (fake.budgets(), fake.campaigns(), fake.ad_groups());
        assert_eq!(
            (launch.budget.as_str(), launch.campaign.as_str(), launch.ad_group.as_str()),
            (
                budgets[0].resource_name.as_str(),
                campaigns[0].resource_name.as_str(),
                ad_groups[0].resource_name.as_str()
            )
        );
        assert_eq!(campaigns[0].budget, launch.budget);
        assert_eq!(ad_groups[0].campaign, launch.campaign);
        let sent = mutates(&fake) - mutates_before;
        assert_eq!(sent, u32::try_from(missing_before).expect("a count"), "only what was missing was made ({lost})");
    }
}

#[tokio::test]
async fn a_launch_stopped_by_an_outage_after_its_ad_group_makes_nothing_twice_when_run_again() {
    let (fake, server, first_run) = spawn_google_ads().await;
    // More failures than the four attempts a call gets: the first run gives up.
    fake.fail_calls(KEYWORDS, 4);
    let error = launch_with_copy(&first_run, "Prompt pack", "25", &key("outage")).await.expect_err("Google was down");
    assert!(error.is_retryable(), "an outage: {error:?}");
    assert_eq!(made(&fake), [1, 1, 1, 0, 0], "stopped after the ad group");
    let before = [BUDGETS, CAMPAIGNS, AD_GROUPS].map(|method| fake.calls(method));

    let launch = launch_with_copy(&connect(&server), "Prompt pack", "25", &key("outage")).await.expect("finished");

    assert_eq!(made(&fake), [1, 1, 1, 3, 1]);
    assert_eq!([BUDGETS, CAMPAIGNS, AD_GROUPS].map(|method| fake.calls(method)), before, "found by name, not sent");
    assert_eq!((fake.calls(KEYWORDS), fake.calls(ADS)), (5, 1), "four failed calls, then one each");
    assert_eq!(launch.keywords.len(), 3);
    assert!(fake.keywords().iter().all(|keyword| keyword.ad_group == launch.ad_group));

    // And once more, finished: everything is found, nothing is sent.
    let mutates_before = mutates(&fake);
    let again = launch_with_copy(&connect(&server), "Prompt pack", "25", &key("outage")).await.expect("found");
    assert_eq!(again, launch);
    assert_eq!(mutates(&fake), mutates_before);
}

#[tokio::test]
async fn answers_lost_for_the_keywords_and_the_ad_are_found_in_the_ad_group_rather_than_sent_again() {
    let (fake, _server, client) = spawn_google_ads().await;
    fake.cut_answers(KEYWORDS, 1);
    fake.cut_answers(ADS, 1);

    let launch = launch_with_copy(&client, "Prompt pack", "25", &key("lost-copy")).await.expect("launched");

    assert_eq!(made(&fake), [1, 1, 1, 3, 1]);
    assert_eq!((fake.calls(KEYWORDS), fake.calls(ADS)), (1, 1), "each made once, its answer lost, then found");
    assert_eq!(launch.ad, fake.ads()[0].resource_name);
    let mut keywords = launch.keywords.clone();
    keywords.sort();
    let mut held: Vec<String> = fake.keywords().into_iter().map(|keyword| keyword.resource_name).collect();
    held.sort();
    assert_eq!(keywords, held);
}

#[tokio::test]
async fn an_answer_lost_within_a_launch_is_recovered_from_googles_duplicate_name_refusal() {
    let (fake, _server, client) = spawn_google_ads().await;
    fake.cut_answers(CAMPAIGNS, 1);

    let launch = launch_with_copy(&client, "Prompt pack", "25", &key("lost-once")).await.expect("launched");

    assert_eq!(fake.campaigns().len(), 1);
    assert_eq!(fake.campaigns()[0].resource_name, launch.campaign, "the campaign the lost answer was about");
    assert_eq!(fake.calls(CAMPAIGNS), 2, "the retry was sent");
    assert_eq!(fake.refusals(), ["campaignError.DUPLICATE_CAMPAIGN_NAME"], "and refused as a repeat");

    let searches = fake.calls(SEARCH_STREAM);
    let mutates_before = mutates(&fake);
    let again = launch_with_copy(&client, "Prompt pack", "25", &key("lost-once")).await.expect("found again");
    assert_eq!(again, launch);
    assert_eq!(mutates(&fake), mutates_before, "nothing more was made");
    assert_eq!(fake.calls(SEARCH_STREAM), searches + 5, "each found by its keyed name or in its ad group");
}

#[tokio::test]
async fn a_refused_refresh_token_says_the_owner_must_connect_again() {
    let (fake, _server, client) = spawn_google_ads().await;
    fake.revoke_refresh_token();

    let message =
        rejected_message(launch_with_copy(&client, "Prompt pack", "10", &key("revoked")).await.expect_err("no token"));

    assert!(message.contains("needs its owner") && message.contains("connect google_ads again"), "{message}");
    assert!(message.contains("invalid_grant"), "Google's reason is kept: {message}");
    assert!(client.oauth().needs_owner().await.is_some());
    let refreshes = fake.refreshes();
    client.campaign_metrics(date(1), date(30)).await.expect_err("still no token");
    assert_eq!(fake.refreshes(), refreshes, "a refused grant is not tried again");
    assert_eq!(mutates(&fake) + fake.calls(SEARCH_STREAM), 0, "nothing reached the API");
}

#[tokio::test]
async fn pausing_and_resuming_send_status_updates_with_their_mask() {
    let (fake, _server, client) = spawn_google_ads().await;
    let launch = launch_with_copy(&client, "Prompt pack", "30", &key("status")).await.expect("launched");

    for status in [GoogleAdsCampaignStatus::Enabled, GoogleAdsCampaignStatus::Paused, GoogleAdsCampaignStatus::Enabled]
    {
        client.set_campaign_status(&launch.campaign, status).await.expect("the status is set");
    }

    let updates: Vec<_> =
        fake.status_updates().into_iter().map(|update| (update.campaign, update.status, update.update_mask)).collect();
    let update = |status: &str| (launch.campaign.clone(), status.to_owned(), "status".to_owned());
    assert_eq!(updates, [update("ENABLED"), update("PAUSED"), update("ENABLED")]);
    assert_eq!(fake.campaigns()[0].status, "ENABLED");

    let elsewhere = "customers/5555555555/campaigns/1";
    let error = client.set_campaign_status(elsewhere, GoogleAdsCampaignStatus::Paused).await.expect_err("not ours");
    assert!(!error.is_retryable());
    assert_eq!(fake.status_updates().len(), 3, "nothing was sent for another account's campaign");
}

#[tokio::test]
async fn amounts_google_cannot_take_are_refused_and_its_own_refusals_arrive_in_its_words() {
    let (fake, _server, client) = spawn_google_ads().await;
    for amount in ["0", "-5", "0.0000001", "10000000000000"] {
        let error = launch_with_copy(&client, "Prompt pack", amount, &key(amount)).await.expect_err(amount);
        assert!(!error.is_retryable(), "{amount}: {error}");
    }
    assert_eq!(fake.refreshes() + fake.calls(BUDGETS) + fake.calls(SEARCH_STREAM), 0, "nothing was sent");

    // A whole number of micros, but not of cents: Google's to refuse, and not retried.
    let message =
        rejected_message(launch_with_copy(&client, "Prompt pack", "12.345", &key("mills")).await.expect_err("refused"));
    assert!(message.contains("campaignBudgetError.NON_MULTIPLE_OF_MINIMUM_CURRENCY_UNIT"), "{message}");
    assert!(message.contains("multiple of the minimum unit"), "Google's words: {message}");
    assert_eq!(fake.calls(BUDGETS), 1);
    assert!(fake.budgets().is_empty() && fake.campaigns().is_empty());
}

#[tokio::test]
async fn a_scheduled_campaign_is_sent_with_v26_date_times() {
    let (fake, _server, client) = spawn_google_ads().await;
    let budget = client.create_budget("Prompt pack", money("9.99"), &key("dated")).await.expect("a budget");
    let today = Utc::now().date_naive();
    let (start, end) =
        (today.checked_add_days(Days::new(2)).expect("a date"), today.checked_add_days(Days::new(31)).expect("a date"));

    let campaign = client
        .create_search_campaign("Prompt pack", &budget, Some(start), Some(end), &key("dated"))
        .await
        .expect("a campaign");

    let made = fake.campaigns();
    assert_eq!(made.len(), 1);
    assert_eq!(made[0].resource_name, campaign);
    assert_eq!(made[0].start.as_deref(), Some(format!("{start} 00:00:00").as_str()));
    assert_eq!(made[0].end.as_deref(), Some(format!("{end} 23:59:59").as_str()));
    let backwards = client.create_search_campaign("Other", &budget, Some(end), Some(start), &key("backwards")).await;
    assert!(!backwards.expect_err("ends before it starts").is_retryable());
    assert_eq!(fake.calls(CAMPAIGNS), 1, "nothing was sent for it");
}

#[tokio::test]
async fn a_flight_through_the_ad_account_serves_its_ad_and_is_enabled_last() {
    let (fake, _server, client) = spawn_google_ads().await;
    let spec = CampaignSpec {
        product_id: "prod_42".into(),
        channel: AdChannel::SearchAds,
        daily_budget: money("20"),
        days: 7,
        creative: creative(),
    };

    let campaign = AdAccount::launch(&client, &spec, &key("flight")).await.expect("launched");

    assert_eq!(made(&fake), [1, 1, 1, 3, 1]);
    let made_campaign = &fake.campaigns()[0];
    assert_eq!(
        (made_campaign.resource_name.as_str(), made_campaign.status.as_str()),
        (campaign.campaign_id.as_str(), "ENABLED")
    );
    assert!(made_campaign.name.starts_with("Flight for product prod_42 ["), "{}", made_campaign.name);
    assert_eq!(fake.ads()[0].final_urls, std::slice::from_ref(&spec.creative.landing_url));
}

#[tokio::test]
async fn copy_google_would_refuse_stops_the_flight_before_any_call() {
    let (fake, _server, client) = spawn_google_ads().await;
    let flight = |creative: AdCreative| CampaignSpec {
        product_id: "prod_42".into(),
        channel: AdChannel::SearchAds,
        daily_budget: money("20"),
        days: 7,
        creative,
    };
    let too_long = "A Headline Far Too Long For Google";
    let refusals = [
        (AdCreative { landing_url: String::new(), ..creative() }, "no landing URL"),
        (AdCreative { landing_url: "shop.example.com/pack".into(), ..creative() }, "not a web page"),
        (
            AdCreative { headlines: vec!["Prompt Pack".into(), "prompt pack".into(), "Only $19".into()], ..creative() },
            "at least 3 different headlines",
        ),
        (
            AdCreative { headlines: vec![too_long.into(), "Prompt Pack".into(), "Only $19".into()], ..creative() },
            "at most 30",
        ),
        (AdCreative { descriptions: vec!["x".repeat(91), "Instant download.".into()], ..creative() }, "at most 90"),
        (
            AdCreative { descriptions: vec!["Instant download.".into()], ..creative() },
            "at least 2 different descriptions",
        ),
        (AdCreative { keywords: vec!["x".repeat(81), "buy now!".into()], ..creative() }, "at least one keyword"),
    ];

    for (creative, expected) in refusals {
        let message =
            rejected_message(AdAccount::launch(&client, &flight(creative), &key(expected)).await.expect_err(expected));
        assert!(message.contains(expected), "{expected}: {message}");
    }

    assert_eq!(fake.calls(TOKEN) + mutates(&fake) + fake.calls(SEARCH_STREAM), 0, "nothing was sent");
}

#[test]
fn keywords_google_would_refuse_are_left_out_and_the_rest_kept_once() {
    let creative = AdCreative {
        keywords: vec![
            " founder   prompts ".into(),
            "Founder Prompts".into(),
            "k".repeat(81),
            "one two three four five six seven eight nine ten eleven".into(),
            "prompts (for founders)".into(),
            "pitch deck prompts".into(),
        ],
        headlines: (1..=17).map(|number| format!("Headline {number}")).collect(),
        ..creative()
    };

    let copy = SearchAdCopy::parse(&creative).expect("usable");

    assert_eq!(copy.keywords(), ["founder prompts", "pitch deck prompts"]);
    assert_eq!(copy.headlines().len(), 15, "the first fifteen");
    assert_eq!(copy.headlines()[14], "Headline 15");
}
