//! The X client against a local fake of X's API v2 that follows the protocol and refuses
//! anything else: posts in the account's name with a user token that the client
//! refreshes itself (once for ten calls that find it expired, keeping the rotated
//! refresh token), a revoked grant turned into "the owner must connect X again", a
//! spent rate-limit window waited out from its reset header, and a post whose answer
//! was lost retried without posting twice.

mod support;

use std::time::Duration;

use boardroom_adapters::{AdapterError, X_MAX_POST_CHARS, XClient};
use support::x_fake::{FIRST_REFRESH_TOKEN, USER_ID, XFake};
use support::{LocalServer, channel_settings};

const POST: &str = "POST /2/tweets";

/// A fake X and a client of its account.
async fn spawn_x(per_request_timeout: Duration) -> (XFake, LocalServer, XClient) {
    let fake = XFake::new();
    let server = LocalServer::start(fake.router()).await;
    let client = XClient::with_settings(XFake::connection(server.base_url()), channel_settings(per_request_timeout))
        .expect("a valid connection");
    (fake, server, client)
}

#[tokio::test]
async fn a_post_goes_out_in_the_accounts_name_with_a_token_the_client_fetched_itself() {
    let (fake, _server, client) = spawn_x(Duration::from_secs(5)).await;
    let me = client.me().await.expect("the account");
    assert_eq!((me.id.as_str(), me.username.as_str()), (USER_ID, "acmeprompts"));

    let post = client.post("Fifty prompts for busy founders, out today.").await.expect("posted");
    assert_eq!(post.text, "Fifty prompts for busy founders, out today.");
    assert_eq!(fake.posts(), vec![(post.id.clone(), post.text.clone())]);
    assert_eq!(fake.refreshes(), 1, "one token served both calls");
    // X rotated the refresh token; the client holds the new one for its owner to save.
    let rotated = client.oauth().refresh_token().await;
    assert_ne!(rotated.expose(), FIRST_REFRESH_TOKEN);
    assert_eq!(rotated.expose(), fake.refresh_token());
}

#[tokio::test]
async fn ten_calls_that_find_the_token_expired_refresh_it_once() {
    let (fake, _server, client) = spawn_x(Duration::from_secs(5)).await;
    client.me().await.expect("signed in");
    fake.expire_access_tokens();

    let posts = (0..10).map(|index| {
        let client = client.clone();
        tokio::spawn(async move { client.post(&format!("Tip {index}: price in round numbers.")).await })
    });
    for post in futures_join(posts).await {
        post.expect("every post goes out");
    }
    assert_eq!(fake.posts().len(), 10);
    assert_eq!(fake.refreshes(), 2, "the first token, then one refresh for all ten refused calls");
    assert_eq!(client.oauth().refreshes(), 2);
    assert_eq!(client.oauth().refresh_token().await.expose(), fake.refresh_token(), "the rotated token is kept");
}

#[tokio::test]
async fn a_revoked_grant_says_the_owner_must_connect_again_and_stops_asking() {
    let (fake, _server, client) = spawn_x(Duration::from_secs(5)).await;
    client.post("Before the owner revoked us.").await.expect("posted");
    fake.revoke_refresh_token();

    let error = client.post("After.").await.expect_err("no token any more");
    let message = error.to_string();
    assert!(matches!(error, AdapterError::Rejected { .. }), "not worth retrying: {error:?}");
    assert!(message.contains("needs its owner") && message.contains("connect x again"), "{message}");
    assert!(client.oauth().needs_owner().await.is_some());
    let refreshes = fake.refreshes();
    client.post("Still after.").await.expect_err("still no token");
    assert_eq!(fake.refreshes(), refreshes, "a refused grant is not tried again");
    assert_eq!(fake.posts().len(), 1);
}

#[tokio::test]
async fn a_spent_window_is_waited_out_from_its_reset_header() {
    let (fake, _server, client) = spawn_x(Duration::from_secs(5)).await;
    client.me().await.expect("signed in");
    fake.set_rate_window(0, Duration::from_secs(1));

    let post = client.post("After the window resets.").await.expect("posted once the window reset");
    assert_eq!(fake.calls(POST), 2, "refused with 429 once, then sent again");
    assert_eq!(fake.posts(), vec![(post.id, post.text)]);
}

#[tokio::test]
async fn a_post_whose_answer_was_lost_is_not_posted_twice() {
    let (fake, _server, client) = spawn_x(Duration::from_millis(300)).await;
    client.me().await.expect("signed in");
    fake.answer_next_post_after(Duration::from_secs(2));

    let post = client.post("Launch day: the prompt pack is live.").await.expect("found, not posted again");
    assert_eq!(fake.posts().len(), 1, "one post on the account");
    assert_eq!(fake.posts()[0].0, post.id, "the post made by the attempt whose answer was lost");
    assert!(fake.calls(POST) >= 2, "the attempt was retried and X refused the repeat");
}

#[tokio::test]
async fn posts_x_would_refuse_are_refused_before_anything_is_sent() {
    let (fake, _server, client) = spawn_x(Duration::from_secs(5)).await;
    let long = "a".repeat(X_MAX_POST_CHARS + 1);
    for text in [long.as_str(), "   "] {
        let error = client.post(text).await.expect_err("refused");
        assert!(!error.is_retryable(), "{error}");
    }
    assert_eq!(fake.calls(POST) + fake.refreshes(), 0, "nothing reached X");
    client.post(&"a".repeat(X_MAX_POST_CHARS)).await.expect("280 characters go out");
}

/// Awaits every task, in order.
async fn futures_join<T>(tasks: impl Iterator<Item = tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.expect("the task ran"));
    }
    results
}
