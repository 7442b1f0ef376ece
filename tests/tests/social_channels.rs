//! A live business with its social accounts connected: its owner connects a Shopify
//! shop, an X account and a Reddit account (local servers that speak each platform's
//! API as documented and refuse anything else) and goes live. The autopilot's
//! marketing step publishes its posts on those accounts, the next cycle reads back what
//! they drew and keeps it on each post, `/api/social/analyze` reports it as live
//! figures, and reflection moves the posting towards the network that paid. The
//! dashboard shows each account as a node of the swarm graph; the refresh token X
//! rotates is saved, so a restarted swarm still signs in; a grant the owner revoked
//! costs that network's posts, not the cycle, and shows as a channel that needs its
//! owner. A LinkedIn page does the same for a business that connects only it.

#[allow(unreachable_pub, reason = "the adapters' fakes, of which these stories use a part")]
#[path = "../../adapters/tests/support/mod.rs"]
mod support;

use boardroom_memory::{SwarmEvent, TenantId, Tier};
use boardroom_tests::{Backends, Caller, TestApp, run_a_cycle, spawn_app_with};
use serde_json::{Value, json};
use support::LocalServer;
use support::linkedin_fake::{self, LinkedInFake};
use support::reddit_fake::{self, RedditFake};
use support::shopify_fake::{ShopifyFake, TOKEN};
use support::x_fake::{self, PublicMetrics, XFake};

/// A business live on a shop, with an X and a Reddit account connected.
struct LiveBusiness {
    app: TestApp,
    owner: Caller,
    business: i64,
    x: XFake,
    reddit: RedditFake,
    _shop: ShopifyFake,
    _servers: Vec<LocalServer>,
}

async fn live_business_with_channels(backends: Backends) -> LiveBusiness {
    let shop = ShopifyFake::start().await;
    let (x, reddit) = (XFake::new(), RedditFake::default());
    let x_server = LocalServer::start(x.router()).await;
    let reddit_server = LocalServer::start(reddit.router()).await;
    let app = spawn_app_with(backends, &[("DEMO_TENANT", "false")]).await;
    // CoachTy puts more than half its budget into content: two posts per product a day.
    let owner = app.new_account_on("ada@example.com", Tier::Enterprise).await;
    let created =
        owner.post("/api/business/create", &json!({ "name": "Focus & Flow", "personality": "coachty" })).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let business = created.body["id"].as_i64().expect("id");
    let connect = |platform: &str, origin: &str, credentials: Value| json!({ "business_id": business, "platform": platform, "store_url": origin, "credentials": credentials });
    for request in [
        connect("shopify", shop.base_url(), json!({ "access_token": TOKEN })),
        connect(
            "x",
            x_server.base_url(),
            json!({ "client_id": x_fake::CLIENT_ID, "client_secret": x_fake::CLIENT_SECRET,
                    "refresh_token": x_fake::FIRST_REFRESH_TOKEN }),
        ),
        connect(
            "reddit",
            reddit_server.base_url(),
            json!({ "client_id": reddit_fake::CLIENT_ID, "client_secret": reddit_fake::CLIENT_SECRET,
                    "refresh_token": reddit_fake::REFRESH_TOKEN }),
        ),
    ] {
        let connected = owner.post("/api/stores/connect", &request).await;
        assert_eq!(connected.status, 201, "{}", connected.body);
    }
    let live = owner.put(&format!("/api/business/{business}"), &json!({ "market_mode": "live" })).await;
    assert_eq!(live.status, 200, "{}", live.body);
    LiveBusiness { app, owner, business, x, reddit, _shop: shop, _servers: vec![x_server, reddit_server] }
}

/// The business's posts as rows: (platform, external id, engagement).
async fn post_rows(live: &LiveBusiness) -> Vec<(String, String, i64)> {
    let rows = live.app.state.store.social_posts(TenantId(live.business), 100).await.expect("posts");
    rows.into_iter().map(|row| (row.platform, row.external_id.unwrap_or_default(), row.engagement_score)).collect()
}

fn of_kind<'a>(events: &'a [SwarmEvent], kind: &str) -> Vec<&'a SwarmEvent> {
    events.iter().filter(|event| event.kind == kind).collect()
}

async fn a_live_business_posts_on_its_accounts_and_learns_from_what_the_posts_drew(backends: Backends) {
    let live = live_business_with_channels(backends).await;
    let (owner, business) = (&live.owner, live.business);

    // The first cycle lists the product on the shop and posts about it on the accounts.
    let first = run_a_cycle(&live.app, owner, business).await;
    let x_posts = live.x.posts();
    let submissions = live.reddit.submissions();
    assert!(!x_posts.is_empty() && !submissions.is_empty(), "posted on X {x_posts:?} and Reddit {submissions:?}");
    let rows = post_rows(&live).await;
    for (id, _) in &x_posts {
        assert!(rows.iter().any(|(platform, external, _)| platform == "x" && external == id), "{rows:?}");
    }
    for (name, _, _) in &submissions {
        assert!(rows.iter().any(|(platform, external, _)| platform == "reddit" && external == name), "{rows:?}");
    }
    assert!(
        rows.iter().all(|(platform, _, _)| platform == "x" || platform == "reddit"),
        "nothing is posted where no account is connected: {rows:?}"
    );
    assert!(of_kind(&first, "marketing.post_failed").is_empty());

    // The dashboard shows each account as a node of the swarm graph.
    let swarm = owner.get(&format!("/api/live/{business}/swarm")).await;
    assert_eq!(
        swarm.body["market"]["channels"],
        json!([{ "node": "channel:x", "platform": "x", "state": "ready", "needs_owner": null },
               { "node": "channel:reddit", "platform": "reddit", "state": "ready", "needs_owner": null }]),
        "{}",
        swarm.body
    );
    assert_eq!(swarm.body["adapters"], json!(["market:shopify", "channel:x", "channel:reddit"]));
    assert_eq!(swarm.body["adapter_states"]["channel:x"], "ready");

    // People react: X's posts draw far more than Reddit's.
    for (id, _) in &x_posts {
        live.x.set_metrics(id, PublicMetrics { likes: 60, reposts: 12, replies: 8, impressions: 4_000 });
    }
    for (name, _, _) in &submissions {
        live.reddit.set_votes(name, 3, 0);
    }
    let second = run_a_cycle(&live.app, owner, business).await;
    let read = of_kind(&second, "marketing.engagement");
    assert_eq!(read.len(), 1, "{:#?}", second.iter().map(|e| &e.kind).collect::<Vec<_>>());
    assert_eq!(read[0].data["live"], true);
    let rows = post_rows(&live).await;
    for (id, _) in &x_posts {
        assert!(rows.iter().any(|(_, external, score)| external == id && *score == 80), "{rows:?}");
    }
    for (name, _, _) in &submissions {
        assert!(rows.iter().any(|(_, external, score)| external == name && *score == 3), "{rows:?}");
    }
    let analysis = owner.post("/api/social/analyze", &json!({ "business_id": business })).await;
    assert_eq!(analysis.status, 200, "{}", analysis.body);
    assert_eq!(analysis.body["figures"], "live");
    assert_eq!(analysis.body["best_network"], "x", "{}", analysis.body);
    let lessons = of_kind(&second, "reflection.lessons");
    assert!(
        lessons
            .iter()
            .any(|event| event.summary.contains("more posts go to X") && event.summary.contains("fewer to Reddit")),
        "{:#?}",
        lessons.iter().map(|event| &event.summary).collect::<Vec<_>>()
    );
    let strategy = live
        .app
        .state
        .store
        .agent_memory(TenantId(business), "reflection", "strategy")
        .await
        .expect("read")
        .expect("a strategy");
    assert!(
        strategy.content["networks"]["x"].as_f64() > strategy.content["networks"]["reddit"].as_f64(),
        "{}",
        strategy.content
    );

    // X rotated the refresh token at each sign-in; the one saved still works after the
    // swarm restarts (changing the mode restarts it).
    for mode in ["sandbox", "live"] {
        let changed = owner.put(&format!("/api/business/{business}"), &json!({ "market_mode": mode })).await;
        assert_eq!(changed.status, 200, "{}", changed.body);
    }
    let refreshes_before = live.x.refreshes();
    let third = run_a_cycle(&live.app, owner, business).await;
    assert!(live.x.refreshes() > refreshes_before, "the restarted swarm signed in to X again");
    assert!(of_kind(&third, "marketing.engagement_unread").is_empty(), "the saved token was the live one");
    assert_eq!(of_kind(&third, "marketing.engagement").len(), 1);
}

async fn a_revoked_grant_costs_its_posts_not_the_cycle_and_shows_on_the_dashboard(backends: Backends) {
    let live = live_business_with_channels(backends).await;
    let (owner, business) = (&live.owner, live.business);
    live.x.revoke_refresh_token();

    let cycle = run_a_cycle(&live.app, owner, business).await;
    assert!(live.x.posts().is_empty());
    assert!(!live.reddit.submissions().is_empty(), "Reddit still gets its posts");
    let failed = of_kind(&cycle, "marketing.post_failed");
    assert!(!failed.is_empty(), "the refused X post is on the feed");
    assert!(failed.iter().all(|event| event.summary.contains("connect x again")), "{:?}", failed[0].summary);
    let swarm = owner.get(&format!("/api/live/{business}/swarm")).await;
    let x = &swarm.body["market"]["channels"][0];
    assert_eq!((x["node"].as_str(), x["state"].as_str()), (Some("channel:x"), Some("needs_owner")), "{x}");
    assert!(x["needs_owner"].as_str().is_some_and(|why| why.contains("connect x again")), "{x}");
    assert_eq!(swarm.body["adapter_states"]["channel:x"], "needs_owner");
    let minutes = owner.get(&format!("/api/business/{business}/reports?limit=1")).await;
    assert!(
        minutes.body.to_string().contains("not taken by its network"),
        "the board minutes say a post did not go out: {}",
        minutes.body
    );
}

async fn a_linkedin_page_carries_the_posts_and_its_reactions_come_back_as_live_figures(backends: Backends) {
    let shop = ShopifyFake::start().await;
    let linkedin = LinkedInFake::default();
    let server = LocalServer::start(linkedin.router()).await;
    let app = spawn_app_with(backends, &[("DEMO_TENANT", "false")]).await;
    let owner = app.new_account_on("ada@example.com", Tier::Enterprise).await;
    let created =
        owner.post("/api/business/create", &json!({ "name": "Focus & Flow", "personality": "coachty" })).await;
    let business = created.body["id"].as_i64().expect("id");
    let connect = |platform: &str, origin: &str, credentials: Value| json!({ "business_id": business, "platform": platform, "store_url": origin, "credentials": credentials });
    for request in [
        connect("shopify", shop.base_url(), json!({ "access_token": TOKEN })),
        connect(
            "linkedin",
            server.base_url(),
            json!({ "client_id": linkedin_fake::CLIENT_ID, "client_secret": linkedin_fake::CLIENT_SECRET,
                    "refresh_token": linkedin_fake::REFRESH_TOKEN, "author": linkedin_fake::AUTHOR }),
        ),
    ] {
        let connected = owner.post("/api/stores/connect", &request).await;
        assert_eq!(connected.status, 201, "{}", connected.body);
    }
    let live = owner.put(&format!("/api/business/{business}"), &json!({ "market_mode": "live" })).await;
    assert_eq!(live.status, 200, "{}", live.body);

    let first = run_a_cycle(&app, &owner, business).await;
    assert!(of_kind(&first, "marketing.post_failed").is_empty());
    let posts = linkedin.posts();
    assert_eq!(posts.len(), 1, "one post a product a day on the one network: {posts:?}");
    let (urn, author, _) = &posts[0];
    assert_eq!(author, linkedin_fake::AUTHOR, "posted as the page");
    let rows = app.state.store.social_posts(TenantId(business), 10).await.expect("posts");
    assert_eq!(
        (rows.len(), rows[0].platform.as_str(), rows[0].external_id.as_deref()),
        (1, "linkedin", Some(urn.as_str()))
    );
    assert!(rows[0].media_urls.first().is_some_and(|url| url.starts_with("/api/media/")), "with its social card");

    linkedin.set_reactions(urn, 25, 6);
    let second = run_a_cycle(&app, &owner, business).await;
    let read = of_kind(&second, "marketing.engagement");
    assert_eq!((read.len(), &read[0].data["live"]), (1, &json!(true)));
    let rows = app.state.store.social_posts(TenantId(business), 10).await.expect("posts");
    assert!(rows.iter().any(|row| row.external_id.as_deref() == Some(urn.as_str()) && row.engagement_score == 31));
    let analysis = owner.post("/api/social/analyze", &json!({ "business_id": business })).await;
    assert_eq!((analysis.status, &analysis.body["figures"]), (200, &json!("live")), "{}", analysis.body);
    assert_eq!(analysis.body["best_network"], "linkedin", "{}", analysis.body);
    let swarm = owner.get(&format!("/api/live/{business}/swarm")).await;
    assert_eq!(swarm.body["adapter_states"]["channel:linkedin"], "ready", "{}", swarm.body);
}

boardroom_tests::on_both_backends! {
    a_live_business_posts_on_its_accounts_and_learns_from_what_the_posts_drew,
    a_linkedin_page_carries_the_posts_and_its_reactions_come_back_as_live_figures,
    a_revoked_grant_costs_its_posts_not_the_cycle_and_shows_on_the_dashboard,
}
