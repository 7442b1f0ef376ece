//! A live business's connected social accounts in front of the market it sells on
//! (`ChannelMarket`), against local fakes of X, Reddit and LinkedIn that follow their
//! protocols: each post goes to the account on its network and nowhere else, what the
//! posts drew is read back from the network each is on, a refresh token X rotates is
//! handed over to be saved the moment it changes, and a grant the owner revoked shows as
//! a channel that needs its owner.

mod support;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use boardroom_adapters::{
    AdapterError, ChannelMarket, CircuitState, IdempotencyKey, LinkedInClient, Marketplace, OAuthSecret, Platform,
    PostSpec, ProductListing, PublishedPost, RedditChannel, RedditClient, RefreshTokenKeeper, SandboxMarket,
    SocialChannel, SocialNetwork, XClient,
};
use boardroom_memory::TenantId;
use support::linkedin_fake::LinkedInFake;
use support::reddit_fake::{RedditFake, USERNAME};
use support::x_fake::{FIRST_REFRESH_TOKEN, PublicMetrics, XFake};
use support::{LocalServer, channel_settings};

const TENANT: TenantId = TenantId(7);

/// The refresh tokens handed over to be saved, in order.
#[derive(Default)]
struct SavedTokens(Mutex<Vec<(Platform, String)>>);

impl SavedTokens {
    fn saved(&self) -> Vec<(Platform, String)> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

#[async_trait]
impl RefreshTokenKeeper for SavedTokens {
    async fn keep(&self, platform: Platform, refresh_token: &OAuthSecret) -> Result<(), AdapterError> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).push((platform, refresh_token.expose().to_owned()));
        Ok(())
    }
}

struct Accounts {
    x: XFake,
    reddit: RedditFake,
    linkedin: LinkedInFake,
    _servers: Vec<LocalServer>,
    channels: Vec<Arc<dyn SocialChannel>>,
}

async fn accounts() -> Accounts {
    let settings = channel_settings(Duration::from_secs(5));
    let (x, reddit, linkedin) = (XFake::new(), RedditFake::default(), LinkedInFake::default());
    let x_server = LocalServer::start(x.router()).await;
    let reddit_server = LocalServer::start(reddit.router()).await;
    let linkedin_server = LocalServer::start(linkedin.router()).await;
    let x_client = XClient::with_settings(XFake::connection(x_server.base_url()), settings).expect("X");
    let reddit_client =
        RedditClient::with_settings(RedditFake::connection(reddit_server.base_url()), settings).expect("Reddit");
    let linkedin_client = LinkedInClient::with_settings(LinkedInFake::connection(linkedin_server.base_url()), settings)
        .expect("LinkedIn");
    let channels: Vec<Arc<dyn SocialChannel>> =
        vec![Arc::new(x_client), Arc::new(RedditChannel::new(reddit_client, None)), Arc::new(linkedin_client)];
    Accounts { x, reddit, linkedin, _servers: vec![x_server, reddit_server, linkedin_server], channels }
}

fn post(network: SocialNetwork, text: &str) -> PostSpec {
    PostSpec { product_id: "prod_1".into(), network, text: text.into() }
}

fn key(item: &str) -> IdempotencyKey {
    IdempotencyKey::for_step(TENANT, 1, "marketing_launch", item)
}

/// A product listed on the sandbox, for its posts to promote.
async fn listed_product(market: &dyn Marketplace) -> String {
    let niche = market.market_snapshot(TENANT).await.expect("snapshot").niches.remove(0);
    let store = market.create_store(TENANT, "Focus & Flow", &key("store")).await.expect("store");
    let listing = ProductListing {
        store_id: store.store_id,
        niche: niche.name,
        title: "Weekly Planner".into(),
        description: "A planner.".into(),
        tags: vec!["planner".into()],
        price: niche.reference_price,
        unit_cost: niche.unit_cost,
    };
    market.list_product(TENANT, &listing, &key("product")).await.expect("listed").product_id
}

#[tokio::test]
async fn each_post_goes_to_the_account_on_its_network_and_what_it_drew_comes_back_from_there() {
    let accounts = accounts().await;
    let saved = Arc::new(SavedTokens::default());
    let market =
        ChannelMarket::new(Arc::new(SandboxMarket::new(11)), accounts.channels.clone(), Vec::new(), saved.clone())
            .await;
    let product = listed_product(&market).await;
    assert_eq!(
        &market.social_networks()[..3],
        [SocialNetwork::X, SocialNetwork::Reddit, SocialNetwork::LinkedIn],
        "the connected accounts first, then what the market itself publishes on"
    );

    let on_x = market
        .publish_post(TENANT, &post(SocialNetwork::X, "Plan a week in ten minutes."), &key("x"))
        .await
        .expect("posted on X");
    let on_reddit = market
        .publish_post(TENANT, &post(SocialNetwork::Reddit, "I made a weekly planner. Feedback welcome!"), &key("r"))
        .await
        .expect("submitted to Reddit");
    let on_linkedin = market
        .publish_post(TENANT, &post(SocialNetwork::LinkedIn, "Our planner is out."), &key("l"))
        .await
        .expect("posted on LinkedIn");
    let on_tiktok = market
        .publish_post(
            TENANT,
            &PostSpec { product_id: product, ..post(SocialNetwork::TikTok, "Plan with us #planner") },
            &key("t"),
        )
        .await
        .expect("no TikTok account: the market's own (simulated) network");

    assert_eq!(accounts.x.posts(), vec![(on_x.post_id.clone(), "Plan a week in ten minutes.".to_owned())]);
    let submissions = accounts.reddit.submissions();
    assert_eq!(submissions.len(), 1);
    assert_eq!(
        (submissions[0].0.as_str(), submissions[0].1.as_str(), submissions[0].2.as_str()),
        (on_reddit.post_id.as_str(), format!("u_{USERNAME}").as_str(), "I made a weekly planner. Feedback welcome!"),
        "to the account's own profile, titled with its first line"
    );
    assert_eq!(accounts.linkedin.posts().len(), 1);
    assert_eq!(accounts.linkedin.posts()[0].0, on_linkedin.post_id);
    assert!(on_linkedin.url.ends_with(&on_linkedin.post_id), "{}", on_linkedin.url);

    // People react.
    accounts.x.set_metrics(&on_x.post_id, PublicMetrics { likes: 30, reposts: 7, replies: 5, impressions: 2_100 });
    accounts.reddit.set_votes(&on_reddit.post_id, 18, 4);
    accounts.linkedin.set_reactions(&on_linkedin.post_id, 9, 2);
    let published: Vec<PublishedPost> = [
        (SocialNetwork::X, &on_x),
        (SocialNetwork::Reddit, &on_reddit),
        (SocialNetwork::LinkedIn, &on_linkedin),
        (SocialNetwork::TikTok, &on_tiktok),
    ]
    .into_iter()
    .map(|(network, post)| PublishedPost { network, post_id: post.post_id.clone() })
    .collect();
    let engagement = market.post_engagement(TENANT, &published).await.expect("read back");
    let drew = |network: SocialNetwork| {
        let found = engagement.iter().find(|post| post.network == network).expect("measured");
        (found.engagements, found.impressions)
    };
    assert_eq!(drew(SocialNetwork::X), (42, 2_100), "likes, reposts and replies; X counts impressions");
    assert_eq!(drew(SocialNetwork::Reddit), (22, 0), "upvotes and comments; Reddit shows views to moderators only");
    assert_eq!(drew(SocialNetwork::LinkedIn), (11, 0), "likes and comments");
    assert_eq!(drew(SocialNetwork::TikTok), (0, 0), "the simulated post, published today, has no day behind it yet");
    assert_eq!(accounts.x.calls("GET /2/tweets"), 1);
    assert_eq!(accounts.reddit.calls("GET /api/info"), 1);
    assert_eq!(accounts.linkedin.calls("GET /rest/socialActions/{urn}"), 1);

    // X rotated the owner's refresh token on its first refresh: handed over once, at once.
    assert_eq!(saved.saved(), vec![(Platform::X, accounts.x.refresh_token())]);
    assert_ne!(accounts.x.refresh_token(), FIRST_REFRESH_TOKEN);
}

#[tokio::test]
async fn a_post_repeated_after_its_answer_was_lost_is_made_once() {
    let accounts = accounts().await;
    let market = ChannelMarket::new(
        Arc::new(SandboxMarket::new(3)),
        accounts.channels.clone(),
        Vec::new(),
        Arc::new(SavedTokens::default()),
    )
    .await;
    let spec = post(SocialNetwork::X, "Ten templates, one price.");
    let first = market.publish_post(TENANT, &spec, &key("x")).await.expect("posted");
    // The step runs again after a crash: the same post for the same cycle.
    let again = market.publish_post(TENANT, &spec, &key("x")).await.expect("the earlier post");
    assert_eq!(first.post_id, again.post_id);
    assert_eq!(accounts.x.posts().len(), 1, "X holds one post");
    let reddit_spec = post(SocialNetwork::Reddit, "Ten templates, one price. Ask me anything.");
    let first = market.publish_post(TENANT, &reddit_spec, &key("r")).await.expect("submitted");
    // Reddit refuses no repeat: the channel finds the first among the newest instead.
    let again = market.publish_post(TENANT, &reddit_spec, &key("r")).await.expect("the earlier submission");
    assert_eq!(first.post_id, again.post_id);
    assert_eq!(accounts.reddit.submissions().len(), 1, "Reddit holds one submission");
    assert_eq!(accounts.reddit.calls("POST /api/submit"), 1);
}

#[tokio::test]
async fn every_rotation_of_the_refresh_token_is_handed_over_and_a_revoked_grant_needs_the_owner() {
    let accounts = accounts().await;
    let saved = Arc::new(SavedTokens::default());
    let market =
        ChannelMarket::new(Arc::new(SandboxMarket::new(5)), accounts.channels.clone(), Vec::new(), saved.clone()).await;
    market.publish_post(TENANT, &post(SocialNetwork::X, "One."), &key("1")).await.expect("posted");
    let first_rotation = accounts.x.refresh_token();
    accounts.x.expire_access_tokens();
    market.publish_post(TENANT, &post(SocialNetwork::X, "Two."), &key("2")).await.expect("posted after a refresh");
    assert_eq!(
        saved.saved(),
        vec![(Platform::X, first_rotation), (Platform::X, accounts.x.refresh_token())],
        "each refresh's new token, in order"
    );
    let states = market.channel_states().await;
    assert!(states.iter().all(|state| state.circuit == CircuitState::Closed && state.needs_owner.is_none()));

    accounts.x.revoke_refresh_token();
    let refused = market.publish_post(TENANT, &post(SocialNetwork::X, "Three."), &key("3")).await;
    let message = refused.expect_err("the grant is gone").to_string();
    assert!(message.contains("connect x again"), "{message}");
    let x_state = market.channel_states().await.into_iter().find(|state| state.platform == Platform::X);
    assert!(x_state.and_then(|state| state.needs_owner).is_some_and(|why| why.contains("connect x again")));
    assert_eq!(saved.saved().len(), 2, "nothing new to save");
}
