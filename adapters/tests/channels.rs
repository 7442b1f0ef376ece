//! A live business's connected social accounts in front of the market it sells on
//! (`ChannelMarket`), against local fakes of X, Reddit and LinkedIn that follow their
//! protocols: each post goes to the account on its network and nowhere else, what the
//! posts drew is read back from the network each is on, a refresh token X rotates is
//! handed over to be saved the moment it changes, and a grant the owner revoked shows as
//! a channel that needs its owner. Against fakes of TikTok and YouTube: a post is the
//! product's clip, its upload kept on the way, so one cut short (a connection that keeps
//! dropping, a process killed mid-chunk) goes on in the next process without a second
//! post, and what the videos drew comes back.

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use boardroom_adapters::{
    AdapterError, ChannelAccount, ChannelMarket, CircuitState, ConnectionKeeper, IdempotencyKey, LinkedInClient,
    Marketplace, OAuthSecret, Platform, PostSpec, PostVideo, ProductListing, PublishedPost, RedditChannel,
    RedditClient, SandboxMarket, SocialChannel, SocialNetwork, TikTokChannel, TikTokClient, XClient, YouTubeChannel,
    YouTubeClient,
};
use boardroom_memory::TenantId;
use serde_json::Value;
use support::linkedin_fake::LinkedInFake;
use support::reddit_fake::{RedditFake, USERNAME};
use support::tiktok_fake::TikTokFake;
use support::x_fake::{FIRST_REFRESH_TOKEN, PublicMetrics, XFake};
use support::youtube_fake::YouTubeFake;
use support::{LocalServer, channel_settings};

const TENANT: TenantId = TenantId(7);

/// What the connections handed over to be kept: refresh tokens in order, and the
/// uploads on their way (as a store would, outliving any one market).
#[derive(Default)]
struct SavedTokens {
    tokens: Mutex<Vec<(Platform, String)>>,
    uploads: Mutex<HashMap<(Platform, String), Value>>,
}

impl SavedTokens {
    fn saved(&self) -> Vec<(Platform, String)> {
        self.tokens.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    fn upload(&self, platform: Platform, slot: &str) -> Option<Value> {
        self.uploads.lock().unwrap_or_else(PoisonError::into_inner).get(&(platform, slot.to_owned())).cloned()
    }
}

#[async_trait]
impl ConnectionKeeper for SavedTokens {
    async fn keep_refresh_token(&self, platform: Platform, refresh_token: &OAuthSecret) -> Result<(), AdapterError> {
        self.tokens.lock().unwrap_or_else(PoisonError::into_inner).push((platform, refresh_token.expose().to_owned()));
        Ok(())
    }

    async fn kept_upload(&self, platform: Platform, slot: &str) -> Result<Option<Value>, AdapterError> {
        Ok(self.upload(platform, slot))
    }

    async fn keep_upload(&self, platform: Platform, slot: &str, upload: Value) -> Result<(), AdapterError> {
        self.uploads.lock().unwrap_or_else(PoisonError::into_inner).insert((platform, slot.to_owned()), upload);
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

/// A live business's market: the sandbox (of `seed`) with `channels` in front, each an
/// account of its own keeping what it must in `kept`.
fn live_market(seed: u64, channels: &[Arc<dyn SocialChannel>], kept: &Arc<SavedTokens>) -> ChannelMarket {
    let accounts = channels
        .iter()
        .map(|channel| Arc::new(ChannelAccount::social(channel.clone(), kept.clone())) as Arc<dyn Marketplace>)
        .collect();
    ChannelMarket::new(Arc::new(SandboxMarket::new(seed)), accounts)
}

fn post(network: SocialNetwork, text: &str) -> PostSpec {
    PostSpec { product_id: "prod_1".into(), network, text: text.into(), video: None }
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
    let market = live_market(11, &accounts.channels, &saved);
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
    let market = live_market(3, &accounts.channels, &Arc::new(SavedTokens::default()));
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
    let market = live_market(5, &accounts.channels, &saved);
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

/// A made-up MP4 of `seconds` and about `size` bytes: a movie header saying how long it
/// plays (version 0: a time scale of 1,000 a second), then the media bytes.
fn clip(seconds: u32, size: usize) -> PostVideo {
    let boxed = |kind: &[u8; 4], body: &[u8]| {
        let mut bytes = u32::try_from(body.len() + 8).expect("small").to_be_bytes().to_vec();
        bytes.extend_from_slice(kind);
        bytes.extend_from_slice(body);
        bytes
    };
    let mut mvhd = vec![0_u8; 4 + 4 + 4];
    mvhd.extend_from_slice(&1_000_u32.to_be_bytes());
    mvhd.extend_from_slice(&(seconds * 1_000).to_be_bytes());
    mvhd.resize(100, 0);
    let mut bytes = boxed(b"ftyp", b"isom\0\0\x02\0isomiso2mp41");
    bytes.extend(boxed(b"moov", &boxed(b"mvhd", &mvhd)));
    let media: Vec<u8> = (0..size.saturating_sub(bytes.len() + 8)).map(|i| (i % 251) as u8).collect();
    bytes.extend(boxed(b"mdat", &media));
    PostVideo { name: "clip-product-1-vertical.mp4".into(), content_type: "video/mp4".into(), bytes: bytes.into() }
}

struct VideoAccounts {
    tiktok: TikTokFake,
    youtube: YouTubeFake,
    servers: Vec<LocalServer>,
}

impl VideoAccounts {
    async fn start() -> Self {
        let (tiktok, youtube) = (TikTokFake::default(), YouTubeFake::default());
        let servers = vec![LocalServer::start(tiktok.router()).await, LocalServer::start(youtube.router()).await];
        Self { tiktok, youtube, servers }
    }

    /// The business's market as one process opens it: its own clients, signing in
    /// afresh, with what `kept` holds from earlier processes.
    async fn market(&self, kept: &Arc<SavedTokens>) -> ChannelMarket {
        let settings = channel_settings(Duration::from_secs(2));
        // TikTok rotates refresh tokens: a new process signs in with the one last kept.
        let mut connection = TikTokFake::connection(self.servers[0].base_url());
        if let Some((_, token)) = kept.saved().into_iter().rev().find(|(platform, _)| *platform == Platform::Tiktok) {
            connection.refresh_token = OAuthSecret::new(token);
        }
        let tiktok = TikTokClient::with_settings(connection, settings).expect("TikTok");
        let youtube = YouTubeClient::with_settings(YouTubeFake::connection(self.servers[1].base_url()), settings)
            .expect("YouTube");
        let channels: Vec<Arc<dyn SocialChannel>> = vec![
            Arc::new(TikTokChannel::new(tiktok, None)),
            Arc::new(YouTubeChannel::new(youtube, None).expect("public")),
        ];
        live_market(17, &channels, kept)
    }
}

fn video_post(network: SocialNetwork, video: &PostVideo) -> PostSpec {
    PostSpec { video: Some(video.clone()), ..post(network, "Plan a week in ten minutes #planner") }
}

#[tokio::test]
async fn a_video_cut_short_goes_on_in_the_next_process_without_a_second_post() {
    let accounts = VideoAccounts::start().await;
    let kept = Arc::new(SavedTokens::default());
    let video = clip(12, 600 * 1024);
    let first = accounts.market(&kept).await;

    // The connection keeps dropping: each client resumes five times, then gives up.
    accounts.tiktok.fail_chunks(6);
    accounts.youtube.fail_chunks(6);
    for network in [SocialNetwork::TikTok, SocialNetwork::YouTube] {
        let cut = first.publish_post(TENANT, &video_post(network, &video), &key("cycle-1")).await;
        assert!(cut.is_err_and(|error| error.is_retryable()), "{network:?}: an outage, to go on from later");
    }
    assert_eq!((accounts.tiktok.posts_started(), accounts.youtube.sessions()), (1, 1));
    assert!(accounts.tiktok.published().is_empty() && accounts.youtube.videos().is_empty());
    assert_eq!(kept.upload(Platform::Tiktok, "prod_1").expect("kept")["state"], "uploading");

    // The next cycle, in another process: the same uploads go on, none starts again.
    drop(first);
    let next = accounts.market(&kept).await;
    let on_tiktok = next
        .publish_post(TENANT, &video_post(SocialNetwork::TikTok, &video), &key("cycle-2"))
        .await
        .expect("posted on TikTok");
    let on_youtube = next
        .publish_post(TENANT, &video_post(SocialNetwork::YouTube, &video), &key("cycle-2"))
        .await
        .expect("uploaded to YouTube");
    assert_eq!(accounts.tiktok.calls("init"), 1, "TikTok initialised one post");
    assert_eq!(accounts.youtube.calls("POST /upload/youtube/v3/videos"), 1, "YouTube opened one session");
    let published = accounts.tiktok.published();
    assert_eq!(published.len(), 1);
    assert_eq!(
        (published[0].0.as_str(), published[0].1.as_str(), published[0].2.as_slice()),
        ("Plan a week in ten minutes #planner", "PUBLIC_TO_EVERYONE", video.bytes.as_ref()),
        "the clip, captioned with the post, public where the account allows it"
    );
    let videos = accounts.youtube.videos();
    assert_eq!(
        videos,
        vec![(on_youtube.post_id.clone(), "Plan a week in ten minutes #planner".into(), video.bytes.to_vec())]
    );
    assert!(on_tiktok.url.ends_with(&format!("/video/{}", on_tiktok.post_id)), "{}", on_tiktok.url);

    // The step runs again after the answer was lost: the same posts, nothing sent.
    let (inits, sessions) = (accounts.tiktok.calls("init"), accounts.youtube.sessions());
    let again = next.publish_post(TENANT, &video_post(SocialNetwork::TikTok, &video), &key("cycle-2")).await;
    assert_eq!(again.expect("the earlier post").post_id, on_tiktok.post_id);
    let again = next.publish_post(TENANT, &video_post(SocialNetwork::YouTube, &video), &key("cycle-2")).await;
    assert_eq!(again.expect("the earlier video").post_id, on_youtube.post_id);
    assert_eq!((accounts.tiktok.calls("init"), accounts.youtube.sessions()), (inits, sessions));

    // People watch; the counts come back.
    accounts.tiktok.set_counts(&on_tiktok.post_id, [5_000, 300, 40, 25]);
    accounts.youtube.set_statistics(&on_youtube.post_id, [1_200, 90, 12]);
    let published = [(SocialNetwork::TikTok, &on_tiktok), (SocialNetwork::YouTube, &on_youtube)]
        .map(|(network, post)| PublishedPost { network, post_id: post.post_id.clone() });
    let engagement = next.post_engagement(TENANT, &published).await.expect("read back");
    let drew = |network: SocialNetwork| {
        let found = engagement.iter().find(|post| post.network == network).expect("measured");
        (found.engagements, found.impressions)
    };
    assert_eq!(drew(SocialNetwork::TikTok), (365, 5_000), "likes, comments and shares; plays");
    assert_eq!(drew(SocialNetwork::YouTube), (102, 1_200), "likes and comments; views");
}

#[tokio::test]
async fn a_process_killed_mid_chunk_leaves_an_upload_the_next_one_finishes() {
    let accounts = VideoAccounts::start().await;
    let kept = Arc::new(SavedTokens::default());
    let video = clip(9, 300 * 1024);
    let spec = video_post(SocialNetwork::TikTok, &video);
    accounts.tiktok.hang_chunk(0);
    let dying = accounts.market(&kept).await;
    // The process dies while its chunk is on the wire.
    let killed = tokio::time::timeout(Duration::from_millis(800), dying.publish_post(TENANT, &spec, &key("c"))).await;
    assert!(killed.is_err(), "still sending when it died");
    drop(dying);

    let restarted = accounts.market(&kept).await;
    let posted = restarted.publish_post(TENANT, &spec, &key("c")).await.expect("finished");
    assert_eq!(accounts.tiktok.calls("init"), 1, "the upload the dead process began");
    assert_eq!(accounts.tiktok.published().len(), 1);
    assert!(posted.post_id.chars().all(|c| c.is_ascii_digit()), "{}", posted.post_id);
}

#[tokio::test]
async fn a_video_network_refuses_a_post_without_its_clip_and_a_failed_post_is_not_resumed() {
    let accounts = VideoAccounts::start().await;
    let kept = Arc::new(SavedTokens::default());
    let market = accounts.market(&kept).await;
    let refused = market.publish_post(TENANT, &post(SocialNetwork::TikTok, "No clip"), &key("a")).await;
    let message = refused.expect_err("nothing to post").to_string();
    assert!(message.contains("needs the product's clip"), "{message}");
    assert_eq!(accounts.tiktok.calls("init"), 0);

    // TikTok fails the post in processing: that upload is over, and the next post
    // starts afresh rather than asking about it again.
    let video = clip(10, 200 * 1024);
    accounts.tiktok.fail_next_post("video_pull_failed");
    let failed = market.publish_post(TENANT, &video_post(SocialNetwork::TikTok, &video), &key("b")).await;
    assert!(failed.expect_err("failed").to_string().contains("video_pull_failed"));
    assert_eq!(kept.upload(Platform::Tiktok, "prod_1").expect("kept")["state"], "abandoned");
    market.publish_post(TENANT, &video_post(SocialNetwork::TikTok, &video), &key("c")).await.expect("posted");
    assert_eq!((accounts.tiktok.calls("init"), accounts.tiktok.published().len()), (2, 1));

    // A video longer than the account may post is refused before anything is sent.
    let long = clip(4_000, 100 * 1024);
    let too_long = market.publish_post(TENANT, &video_post(SocialNetwork::TikTok, &long), &key("d")).await;
    assert!(too_long.expect_err("too long").to_string().contains("4000 s"));
    assert_eq!(accounts.tiktok.calls("init"), 2);
}
