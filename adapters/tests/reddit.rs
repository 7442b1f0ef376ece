//! The Reddit client against a local fake of Reddit's token host and API that follows
//! the protocol and refuses anything else: a text post submitted in the account's name
//! with the descriptive User-Agent Reddit asks for, errors that arrive inside a 200
//! (`RATELIMIT` waited out as its words say, an unknown subreddit refused for good), and
//! a submission whose answer was lost found instead of posted twice.

mod support;

use std::time::Duration;

use boardroom_adapters::{AdapterError, RedditClient};
use support::reddit_fake::{RedditFake, USERNAME};
use support::{LocalServer, channel_settings};

const SUBMIT: &str = "POST /api/submit";

async fn spawn_reddit(per_request_timeout: Duration) -> (RedditFake, LocalServer, RedditClient) {
    let fake = RedditFake::default();
    let server = LocalServer::start(fake.router()).await;
    let client =
        RedditClient::with_settings(RedditFake::connection(server.base_url()), channel_settings(per_request_timeout))
            .expect("a valid connection");
    (fake, server, client)
}

#[tokio::test]
async fn a_text_post_is_submitted_in_the_accounts_name() {
    let (fake, _server, client) = spawn_reddit(Duration::from_secs(5)).await;
    assert_eq!(client.username().await.expect("signed in"), USERNAME);
    let made = client
        .submit_text("r/SideProject", "I built a prompt pack for busy founders", "Fifty prompts, one page each.")
        .await
        .expect("submitted");
    assert_eq!(
        fake.submissions(),
        vec![(made.name.clone(), "SideProject".to_owned(), "I built a prompt pack for busy founders".to_owned())]
    );
    assert!(made.url.contains("/r/SideProject/comments/"), "{}", made.url);
    assert_eq!(fake.calls("POST /api/v1/access_token"), 1, "one token for both calls");
}

#[tokio::test]
async fn a_ratelimit_inside_a_200_is_waited_out_as_its_words_say() {
    let (fake, _server, client) = spawn_reddit(Duration::from_secs(5)).await;
    fake.ratelimit_next_submits(1);
    client.submit_text("Entrepreneur", "What pricing taught me", "Round numbers sell.").await.expect("submitted");
    assert_eq!(fake.calls(SUBMIT), 2, "refused once at HTTP 200, then sent again");
    assert_eq!(fake.submissions().len(), 1);
}

#[tokio::test]
async fn an_unknown_subreddit_is_refused_for_good_with_reddits_code() {
    let (fake, _server, client) = spawn_reddit(Duration::from_secs(5)).await;
    let error = client.submit_text("NoSuchPlace", "Hello", "Hi").await.expect_err("refused");
    assert!(matches!(error, AdapterError::Rejected { .. }), "{error:?}");
    assert!(error.to_string().contains("SUBREDDIT_NOEXIST"), "{error}");
    assert_eq!(fake.calls(SUBMIT), 1, "not retried");
    // Refused before anything is sent: a name Reddit cannot have, or no title.
    for (subreddit, title) in [("has space", "Hello"), ("SideProject", " ")] {
        client.submit_text(subreddit, title, "Hi").await.expect_err("refused");
    }
    assert_eq!(fake.calls(SUBMIT), 1);
}

#[tokio::test]
async fn a_submission_whose_answer_was_lost_is_not_posted_twice() {
    let (fake, _server, client) = spawn_reddit(Duration::from_millis(300)).await;
    client.username().await.expect("signed in");
    fake.answer_next_submit_after(Duration::from_secs(2));
    let made = client.submit_text("SideProject", "Launch day", "It is live.").await.expect("found, not posted again");
    assert_eq!(fake.submissions().len(), 1, "one submission on Reddit");
    assert_eq!(fake.submissions()[0].0, made.name);
    assert_eq!(fake.calls(SUBMIT), 1, "the retry found it among the account's submissions");
}
