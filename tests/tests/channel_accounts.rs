//! A Reddit account, a LinkedIn page, a TikTok account and a YouTube channel as the
//! business's marketing channels: the owner
//! connects each with the platform's application (client id and secret) and the refresh
//! token granted to it; the server signs in once (here to local servers that speak each
//! platform's API as documented and refuse anything else), keeps the credentials
//! sealed, and links the account or page to one business. Refused grants, missing
//! credentials and choices the platform does not allow are clear refusals that echo no
//! secret.

#[allow(unreachable_pub, reason = "the adapters' fakes, of which these stories use a part")]
#[path = "../../adapters/tests/support/mod.rs"]
mod support;

use boardroom_memory::Tier;
use boardroom_tests::{ApiResponse, Backends, Caller, spawn_app_with};
use serde_json::{Value, json};
use support::LocalServer;
use support::{linkedin_fake, reddit_fake, tiktok_fake, youtube_fake};

async fn connect(owner: &Caller, business: i64, platform: &str, origin: &str, credentials: Value) -> ApiResponse {
    owner
        .post(
            "/api/stores/connect",
            &json!({ "business_id": business, "platform": platform, "store_url": origin, "credentials": credentials }),
        )
        .await
}

fn echoes(response: &ApiResponse, secret: &str) -> bool {
    response.raw.windows(secret.len()).any(|window| window == secret.as_bytes())
}

async fn an_owner_connects_a_reddit_account_and_a_linkedin_page_each_to_one_business(backends: Backends) {
    let reddit = reddit_fake::RedditFake::default();
    let reddit_server = LocalServer::start(reddit.router()).await;
    let linkedin = linkedin_fake::LinkedInFake::default();
    let linkedin_server = LocalServer::start(linkedin.router()).await;
    let app = spawn_app_with(backends, &[("DEMO_TENANT", "false")]).await;
    let (owner, business) = app.owner_with_business("ada@example.com", Tier::Enterprise, "Focus & Flow").await;
    let reddit_credentials = json!({ "client_id": reddit_fake::CLIENT_ID, "client_secret": reddit_fake::CLIENT_SECRET,
        "refresh_token": reddit_fake::REFRESH_TOKEN });
    let linkedin_credentials = json!({ "client_id": linkedin_fake::CLIENT_ID,
        "client_secret": linkedin_fake::CLIENT_SECRET, "refresh_token": linkedin_fake::REFRESH_TOKEN,
        "author": linkedin_fake::AUTHOR });

    let on_reddit = connect(&owner, business, "reddit", reddit_server.base_url(), reddit_credentials.clone()).await;
    assert_eq!(on_reddit.status, 201, "{}", on_reddit.body);
    assert_eq!(on_reddit.body["platform"], "reddit");
    assert_eq!(reddit.calls("GET /api/v1/me"), 1, "the account was read to connect it");
    let on_linkedin =
        connect(&owner, business, "linkedin", linkedin_server.base_url(), linkedin_credentials.clone()).await;
    assert_eq!(on_linkedin.status, 201, "{}", on_linkedin.body);
    assert_eq!(on_linkedin.body["credential_fields"], json!(["author", "client_id", "client_secret", "refresh_token"]));
    assert_eq!(linkedin.calls("POST /oauth/v2/accessToken"), 1, "a token was had to connect it");
    for response in [&on_reddit, &on_linkedin] {
        assert!(
            !echoes(response, "fake-reddit-secret") && !echoes(response, "fake-linkedin-secret"),
            "{}",
            response.body
        );
    }
    let listed = owner.get(&format!("/api/stores/list?business_id={business}")).await;
    assert_eq!(listed.body["items"].as_array().map(Vec::len), Some(2), "{}", listed.body);

    // The same account and page for a second business: refused.
    let (other_owner, other) = app.owner_with_business("bob@example.com", Tier::Enterprise, "Mugs & Co").await;
    for (platform, origin, credentials, thing) in [
        ("reddit", reddit_server.base_url(), reddit_credentials, "Reddit account"),
        ("linkedin", linkedin_server.base_url(), linkedin_credentials, "LinkedIn author"),
    ] {
        let taken = connect(&other_owner, other, platform, origin, credentials).await;
        assert_eq!((taken.status, taken.error_code()), (409, "account_taken"), "{}", taken.body);
        assert!(taken.body["error"]["message"].as_str().is_some_and(|m| m.contains(thing)), "{}", taken.body);
    }
}

async fn refused_grants_and_missing_credentials_are_clear_refusals(backends: Backends) {
    let reddit = reddit_fake::RedditFake::default();
    let reddit_server = LocalServer::start(reddit.router()).await;
    let linkedin = linkedin_fake::LinkedInFake::default();
    let linkedin_server = LocalServer::start(linkedin.router()).await;
    let app = spawn_app_with(backends, &[("DEMO_TENANT", "false")]).await;
    let (owner, business) = app.owner_with_business("ada@example.com", Tier::Enterprise, "Focus & Flow").await;

    let revoked = json!({ "client_id": reddit_fake::CLIENT_ID, "client_secret": reddit_fake::CLIENT_SECRET,
        "refresh_token": "fake-reddit-revoked" });
    let refused = connect(&owner, business, "reddit", reddit_server.base_url(), revoked).await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    let problem = refused.body["error"]["fields"]["credentials"].as_str().expect("on credentials");
    assert!(problem.contains("connect reddit again"), "{problem}");
    assert!(!echoes(&refused, "fake-reddit-revoked"), "{}", refused.body);

    let no_author = json!({ "client_id": linkedin_fake::CLIENT_ID, "client_secret": linkedin_fake::CLIENT_SECRET,
        "refresh_token": linkedin_fake::REFRESH_TOKEN });
    let missing = connect(&owner, business, "linkedin", linkedin_server.base_url(), no_author).await;
    assert_eq!(missing.status, 422, "{}", missing.body);
    assert!(
        missing.body["error"]["fields"]["credentials"].as_str().is_some_and(|p| p.contains("author")),
        "{}",
        missing.body
    );
    let wrong_secret = json!({ "client_id": linkedin_fake::CLIENT_ID, "client_secret": "not-the-secret",
        "refresh_token": linkedin_fake::REFRESH_TOKEN, "author": linkedin_fake::AUTHOR });
    let refused = connect(&owner, business, "linkedin", linkedin_server.base_url(), wrong_secret).await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(
        refused.body["error"]["fields"]["credentials"].as_str().is_some_and(|p| p.contains("client id or secret")),
        "{}",
        refused.body
    );
    assert!(!echoes(&refused, "not-the-secret"), "{}", refused.body);
    let listed = owner.get(&format!("/api/stores/list?business_id={business}")).await;
    assert_eq!(listed.body["items"], json!([]), "nothing refused was kept");
}

async fn an_owner_connects_a_tiktok_account_and_a_youtube_channel_each_to_one_business(backends: Backends) {
    let tiktok = tiktok_fake::TikTokFake::default();
    let tiktok_server = LocalServer::start(tiktok.router()).await;
    let youtube = youtube_fake::YouTubeFake::default();
    let youtube_server = LocalServer::start(youtube.router()).await;
    let app = spawn_app_with(backends, &[("DEMO_TENANT", "false")]).await;
    let (owner, business) = app.owner_with_business("ada@example.com", Tier::Enterprise, "Focus & Flow").await;
    let tiktok_credentials = |refresh_token: &str| {
        json!({ "client_key": tiktok_fake::CLIENT_KEY,
        "client_secret": tiktok_fake::CLIENT_SECRET, "refresh_token": refresh_token })
    };
    let youtube_credentials = json!({ "client_id": youtube_fake::CLIENT_ID,
        "client_secret": youtube_fake::CLIENT_SECRET, "refresh_token": youtube_fake::REFRESH_TOKEN });

    // A privacy level TikTok does not offer the account, or one YouTube does not know:
    // refused, saying what is allowed.
    let mut unoffered = tiktok_credentials(tiktok_fake::REFRESH_TOKEN);
    unoffered["privacy_level"] = json!("MUTUAL_FOLLOW_FRIENDS");
    let refused = connect(&owner, business, "tiktok", tiktok_server.base_url(), unoffered).await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    let problem = refused.body["error"]["fields"]["credentials"].as_str().expect("on credentials");
    assert!(problem.contains("PUBLIC_TO_EVERYONE") && problem.contains("SELF_ONLY"), "{problem}");
    let mut unknown = youtube_credentials.clone();
    unknown["privacy"] = json!("secret");
    let refused = connect(&owner, business, "youtube", youtube_server.base_url(), unknown).await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(refused.body["error"]["fields"]["credentials"].as_str().is_some_and(|p| p.contains("unlisted")));

    // TikTok hands a new refresh token with each refresh, the refused attempt's too: the
    // owner connects with the one TikTok holds now, and the one kept is the next.
    let on_tiktok = connect(
        &owner,
        business,
        "tiktok",
        tiktok_server.base_url(),
        tiktok_credentials(&tiktok.current_refresh_token()),
    )
    .await;
    assert_eq!(on_tiktok.status, 201, "{}", on_tiktok.body);
    assert_eq!(tiktok.calls("creator_info"), 2, "the account was read to connect it, each time");
    let on_youtube = connect(&owner, business, "youtube", youtube_server.base_url(), youtube_credentials.clone()).await;
    assert_eq!(on_youtube.status, 201, "{}", on_youtube.body);
    assert_eq!(youtube.calls("GET /youtube/v3/channels"), 1, "the channel was read to connect it");
    for response in [&on_tiktok, &on_youtube] {
        assert!(!echoes(response, tiktok_fake::CLIENT_SECRET) && !echoes(response, youtube_fake::CLIENT_SECRET));
    }

    // The same account and channel for a second business: refused.
    let (other_owner, other) = app.owner_with_business("bob@example.com", Tier::Enterprise, "Mugs & Co").await;
    for (platform, origin, credentials, thing) in [
        ("tiktok", tiktok_server.base_url(), tiktok_credentials(&tiktok.current_refresh_token()), "TikTok account"),
        ("youtube", youtube_server.base_url(), youtube_credentials, "YouTube channel"),
    ] {
        let taken = connect(&other_owner, other, platform, origin, credentials).await;
        assert_eq!((taken.status, taken.error_code()), (409, "account_taken"), "{}", taken.body);
        assert!(taken.body["error"]["message"].as_str().is_some_and(|m| m.contains(thing)), "{}", taken.body);
    }
}

// Every story runs twice: `sqlite::…` and `postgres::…`.
boardroom_tests::on_both_backends! {
    an_owner_connects_a_reddit_account_and_a_linkedin_page_each_to_one_business,
    refused_grants_and_missing_credentials_are_clear_refusals,
    an_owner_connects_a_tiktok_account_and_a_youtube_channel_each_to_one_business,
}
