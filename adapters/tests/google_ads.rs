//! The Google Ads client against a local fake of the Google Ads REST API (v26) and
//! Google's token endpoint that follows the protocol and refuses anything else: a launch
//! that makes one budget in exact micros and one paused Search campaign on it, daily
//! cost and counts read back from `searchStream` as exact money, `RESOURCE_EXHAUSTED`
//! waited out for the `retryDelay` Google names, an expired token refreshed once for ten
//! calls, a launch cut short by a crash run again without a second budget or campaign,
//! a revoked grant turned into "connect again", and pause and resume sent as status
//! updates.

mod support;

use std::str::FromStr;
use std::time::Duration;

use boardroom_adapters::{AdapterError, GoogleAdsCampaignStatus, GoogleAdsClient, IdempotencyKey, Platform};
use boardroom_memory::TenantId;
use chrono::{Days, NaiveDate, Utc};
use rust_decimal::Decimal;
use support::google_ads_fake::{BUDGETS, CAMPAIGNS, FakeDay, GoogleAdsFake, SEARCH_STREAM};
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

fn rejected_message(error: AdapterError) -> String {
    match error {
        AdapterError::Rejected { platform: Platform::GoogleAds, message } => message,
        other => panic!("expected a rejection from Google Ads, got {other:?}"),
    }
}

#[tokio::test]
async fn a_launch_makes_one_budget_and_one_search_campaign_and_its_days_come_back_as_exact_money() {
    let (fake, _server, client) = spawn_google_ads().await;

    let launch = client.launch("Founder's prompt pack", money("12.34"), &key("pack")).await.expect("launched");

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
        client.launch("Prompt pack", money("20"), &key("quota")).await.expect("launched once the wait was over");

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
    let launch = client.launch("Prompt pack", money("15"), &key("tokens")).await.expect("launched");
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

#[tokio::test]
async fn a_launch_cut_short_at_any_point_is_finished_by_running_it_again_with_the_same_key() {
    for lost in [BUDGETS, CAMPAIGNS] {
        let (fake, server, first_run) = spawn_google_ads().await;
        // Every attempt's answer is lost: the first run gives up as a crashed process would.
        fake.cut_answers(lost, 4);
        let error = first_run.launch("Prompt pack", money("25"), &key("crash")).await.expect_err("no answer came");
        assert!(error.is_retryable(), "an outage: {error:?}");
        assert!(error.to_string().contains("the connection failed"), "the answer was cut off: {error}");
        assert_eq!(fake.budgets().len(), 1, "the first attempt made the budget ({lost})");
        let campaigns_made = fake.campaigns().len();

        // The restarted process runs the same step again.
        let mutates_before = fake.calls(BUDGETS) + fake.calls(CAMPAIGNS);
        let launch = connect(&server).launch("Prompt pack", money("25"), &key("crash")).await.expect("finished");

        let (budgets, campaigns) = (fake.budgets(), fake.campaigns());
        assert_eq!((budgets.len(), campaigns.len()), (1, 1), "one budget and one campaign after losing {lost}");
        assert_eq!(
            (launch.budget.as_str(), launch.campaign.as_str()),
            (budgets[0].resource_name.as_str(), campaigns[0].resource_name.as_str())
        );
        assert_eq!(campaigns[0].budget, launch.budget);
        let mutates = fake.calls(BUDGETS) + fake.calls(CAMPAIGNS) - mutates_before;
        assert_eq!(mutates, 1 - u32::try_from(campaigns_made).expect("a count"), "only the missing campaign was made");
    }
}

#[tokio::test]
async fn an_answer_lost_within_a_launch_is_recovered_from_googles_duplicate_name_refusal() {
    let (fake, _server, client) = spawn_google_ads().await;
    fake.cut_answers(CAMPAIGNS, 1);

    let launch = client.launch("Prompt pack", money("25"), &key("lost-once")).await.expect("launched");

    assert_eq!(fake.campaigns().len(), 1);
    assert_eq!(fake.campaigns()[0].resource_name, launch.campaign, "the campaign the lost answer was about");
    assert_eq!(fake.calls(CAMPAIGNS), 2, "the retry was sent");
    assert_eq!(fake.refusals(), ["campaignError.DUPLICATE_CAMPAIGN_NAME"], "and refused as a repeat");

    let searches = fake.calls(SEARCH_STREAM);
    let again = client.launch("Prompt pack", money("25"), &key("lost-once")).await.expect("found again");
    assert_eq!(again, launch);
    assert_eq!(fake.calls(CAMPAIGNS) + fake.calls(BUDGETS), 3, "nothing more was made");
    assert_eq!(fake.calls(SEARCH_STREAM), searches + 2, "each found by its keyed name");
}

#[tokio::test]
async fn a_refused_refresh_token_says_the_owner_must_connect_again() {
    let (fake, _server, client) = spawn_google_ads().await;
    fake.revoke_refresh_token();

    let message =
        rejected_message(client.launch("Prompt pack", money("10"), &key("revoked")).await.expect_err("no token"));

    assert!(message.contains("needs its owner") && message.contains("connect google_ads again"), "{message}");
    assert!(message.contains("invalid_grant"), "Google's reason is kept: {message}");
    assert!(client.oauth().needs_owner().await.is_some());
    let refreshes = fake.refreshes();
    client.campaign_metrics(date(1), date(30)).await.expect_err("still no token");
    assert_eq!(fake.refreshes(), refreshes, "a refused grant is not tried again");
    assert_eq!(fake.calls(BUDGETS) + fake.calls(CAMPAIGNS) + fake.calls(SEARCH_STREAM), 0, "nothing reached the API");
}

#[tokio::test]
async fn pausing_and_resuming_send_status_updates_with_their_mask() {
    let (fake, _server, client) = spawn_google_ads().await;
    let launch = client.launch("Prompt pack", money("30"), &key("status")).await.expect("launched");

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
        let error = client.launch("Prompt pack", money(amount), &key(amount)).await.expect_err(amount);
        assert!(!error.is_retryable(), "{amount}: {error}");
    }
    assert_eq!(fake.refreshes() + fake.calls(BUDGETS) + fake.calls(SEARCH_STREAM), 0, "nothing was sent");

    // A whole number of micros, but not of cents: Google's to refuse, and not retried.
    let message =
        rejected_message(client.launch("Prompt pack", money("12.345"), &key("mills")).await.expect_err("refused"));
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
