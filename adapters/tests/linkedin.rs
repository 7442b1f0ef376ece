//! The LinkedIn client against a local fake of LinkedIn's token host and versioned Posts
//! API that follows the protocol and refuses anything else: a post in the
//! organization's name with the version and protocol headers LinkedIn requires, its URN
//! read from `x-restli-id`, an expired token refreshed with the secret in the form body,
//! and a post whose answer was lost returned from LinkedIn's duplicate refusal instead
//! of posted twice.

mod support;

use std::time::Duration;

use boardroom_adapters::{LINKEDIN_MAX_COMMENTARY_CHARS, LinkedInClient};
use support::linkedin_fake::{AUTHOR, LinkedInFake};
use support::{LocalServer, channel_settings};

const POST: &str = "POST /rest/posts";
const TOKEN: &str = "POST /oauth/v2/accessToken";

async fn spawn_linkedin(per_request_timeout: Duration) -> (LinkedInFake, LocalServer, LinkedInClient) {
    let fake = LinkedInFake::default();
    let server = LocalServer::start(fake.router()).await;
    let client = LinkedInClient::with_settings(
        LinkedInFake::connection(server.base_url()),
        channel_settings(per_request_timeout),
    )
    .expect("a valid connection");
    (fake, server, client)
}

#[tokio::test]
async fn a_post_goes_out_in_the_organizations_name_and_its_urn_comes_back() {
    let (fake, _server, client) = spawn_linkedin(Duration::from_secs(5)).await;
    let urn = client.post("Fifty prompts for busy founders, out today.").await.expect("posted");
    assert!(urn.starts_with("urn:li:share:"), "{urn}");
    assert_eq!(fake.posts(), vec![(urn, AUTHOR.to_owned(), "Fifty prompts for busy founders, out today.".to_owned())]);
    assert_eq!(fake.calls(TOKEN), 1);
}

#[tokio::test]
async fn an_expired_token_is_refreshed_and_the_post_sent_again() {
    let (fake, _server, client) = spawn_linkedin(Duration::from_secs(5)).await;
    client.post("First.").await.expect("posted");
    fake.expire_access_tokens();
    client.post("Second.").await.expect("posted after a refresh");
    assert_eq!(fake.calls(TOKEN), 2);
    assert_eq!(fake.calls(POST), 3, "the refused one, then again with the new token");
    assert_eq!(fake.posts().len(), 2);
}

#[tokio::test]
async fn a_post_whose_answer_was_lost_is_not_posted_twice() {
    let (fake, _server, client) = spawn_linkedin(Duration::from_millis(300)).await;
    client.post("Warm-up.").await.expect("posted");
    fake.answer_next_post_after(Duration::from_secs(2));
    let urn = client.post("Launch day: the prompt pack is live.").await.expect("the first attempt's post");
    assert_eq!(fake.posts().len(), 2, "one post for the launch");
    assert_eq!(fake.posts()[1].0, urn, "the URN LinkedIn named in its duplicate refusal");
    assert_eq!(fake.calls(POST), 3);
}

#[tokio::test]
async fn posts_linkedin_would_refuse_are_refused_before_anything_is_sent() {
    let (fake, _server, client) = spawn_linkedin(Duration::from_secs(5)).await;
    for commentary in ["  ".to_owned(), "a".repeat(LINKEDIN_MAX_COMMENTARY_CHARS + 1)] {
        assert!(!client.post(&commentary).await.expect_err("refused").is_retryable());
    }
    assert_eq!(fake.calls(POST) + fake.calls(TOKEN), 0);
}
