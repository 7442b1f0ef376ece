//! The TikTok client against a local fake of the Content Posting API and TikTok's token
//! endpoint that follows the protocol and refuses anything else: a video posted in
//! chunks and published after a few polls, a chunk that breaks off sent again, a post
//! cut short by a crash finished without a second one, the account's limits checked
//! before anything is posted, a failed post, the rate limit and spam refusals, ten calls
//! on an expired token refreshed once, and a revoked grant turned into "connect again".

mod support;

use std::time::Duration;

use boardroom_adapters::{AdapterError, TikTokClient, TikTokConnection, TikTokDraft, TikTokPostStatus};
use support::tiktok_fake::{FakeCreator, REFRESH_TOKEN, TikTokFake};
use support::{LocalServer, channel_settings};

const MB: usize = 1024 * 1024;

async fn spawn_tiktok() -> (TikTokFake, LocalServer, TikTokClient) {
    let fake = TikTokFake::default();
    let server = LocalServer::start(fake.router()).await;
    let client = connect(&server);
    (fake, server, client)
}

/// A client of the fake's account, as a new process would make it.
fn connect(server: &LocalServer) -> TikTokClient {
    TikTokClient::with_settings(TikTokFake::connection(server.base_url()), channel_settings(Duration::from_secs(5)))
        .expect("a valid connection")
        .polling_every(Duration::from_millis(20))
}

fn draft(privacy: &str) -> TikTokDraft {
    TikTokDraft {
        caption: "Fifty prompts in sixty seconds #promptpack #ai".into(),
        privacy_level: privacy.into(),
        duration_secs: 58,
    }
}

/// `len` bytes of made-up video.
fn video(len: usize) -> Vec<u8> {
    (0..len).map(|index| (index % 251) as u8).collect()
}

#[tokio::test]
async fn a_video_goes_up_in_chunks_and_is_published_after_processing() {
    let (fake, _server, client) = spawn_tiktok().await;
    fake.keep_processing_for(3);
    let bytes = video(12 * MB);
    let post =
        client.post_video(&draft("PUBLIC_TO_EVERYONE"), "video/mp4", &bytes, 5 * MB as u64).await.expect("posted");
    assert_eq!(fake.calls("chunk"), 2, "a 5 MB chunk and a last one of 7 MB");
    assert_eq!(fake.published(), vec![(draft("").caption, "PUBLIC_TO_EVERYONE".to_owned(), bytes)]);
    assert_eq!(post.post_ids.len(), 1, "a public post gets its public id: {post:?}");
    assert!(!post.in_inbox);
    assert!(fake.calls("status") >= 4, "polled through the three processing answers: {}", fake.calls("status"));
    assert_eq!(fake.calls("creator_info"), 1, "the account was asked what it may post");
}

#[tokio::test]
async fn a_small_video_goes_whole_and_a_private_post_has_no_public_id() {
    let (fake, _server, client) = spawn_tiktok().await;
    let bytes = video(MB);
    let post = client.post_video(&draft("SELF_ONLY"), "video/mp4", &bytes, 5 * MB as u64).await.expect("posted");
    assert_eq!(fake.calls("chunk"), 1);
    assert!(post.post_ids.is_empty(), "{post:?}");
    assert_eq!(
        client.post_status(&post.publish_id).await.expect("a status"),
        TikTokPostStatus::Published { post_ids: Vec::new() }
    );
}

#[tokio::test]
async fn a_chunk_that_breaks_off_is_sent_again_from_what_tiktok_holds() {
    let (fake, _server, client) = spawn_tiktok().await;
    let bytes = video(16 * MB);
    fake.drop_next_chunk_half_way();
    client.post_video(&draft("PUBLIC_TO_EVERYONE"), "video/mp4", &bytes, 5 * MB as u64).await.expect("posted");
    let published = fake.published();
    assert_eq!(published.len(), 1);
    assert_eq!(published[0].2, bytes, "every byte once, in order, across the break");
    assert_eq!(fake.calls("chunk"), 4, "three chunks and the one that broke off");
    assert_eq!(fake.posts_started(), 1);
}

#[tokio::test]
async fn a_post_cut_short_by_a_crash_is_finished_by_the_next_process_without_a_second_post() {
    let (fake, server, client) = spawn_tiktok().await;
    let bytes = video(16 * MB);
    let upload =
        client.start_post(&draft("PUBLIC_TO_EVERYONE"), bytes.len() as u64, 5 * MB as u64).await.expect("started");
    assert_eq!(fake.calls("chunk"), 0);
    // The checkpoint keeps the upload; the first chunk arrives, and the process dies
    // while the second is on its way.
    let kept = serde_json::to_string(&upload).expect("the upload serialises");
    fake.hang_chunk(1);
    let sending = {
        let (client, upload, bytes) = (client.clone(), upload.clone(), bytes.clone());
        tokio::spawn(async move { client.continue_post(&upload, "video/mp4", &bytes).await })
    };
    let second_chunk_sent = async {
        while fake.calls("chunk") < 2 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), second_chunk_sent).await.expect("the second chunk on its way");
    sending.abort();
    // TikTok rotates refresh tokens: the owner's store keeps the latest for the next process.
    let saved_refresh_token = client.oauth().refresh_token().await;
    drop(client);
    assert!(fake.published().is_empty());

    let connection =
        TikTokConnection { refresh_token: saved_refresh_token, ..TikTokFake::connection(server.base_url()) };
    let restarted = TikTokClient::with_settings(connection, channel_settings(Duration::from_secs(5)))
        .expect("a valid connection")
        .polling_every(Duration::from_millis(20));
    let upload = serde_json::from_str(&kept).expect("the kept upload");
    restarted.continue_post(&upload, "video/mp4", &bytes).await.expect("the rest sent");
    let post = restarted.await_post(&upload).await.expect("published");
    assert_eq!(fake.posts_started(), 1, "no second post initialised");
    assert_eq!(fake.calls("chunk"), 4, "the first chunk once, the lost one again, and the last");
    assert_eq!(fake.published().len(), 1);
    assert_eq!(fake.published()[0].2, bytes);
    assert_eq!(post.publish_id, upload.publish_id);
}

#[tokio::test]
async fn what_the_account_may_not_post_is_refused_before_anything_is_sent() {
    let (fake, _server, client) = spawn_tiktok().await;
    // An application TikTok has not audited posts privately only.
    fake.set_creator(FakeCreator { privacy_level_options: vec!["SELF_ONLY".into()], max_video_post_duration_sec: 60 });
    let bytes = video(MB);
    let refused = client.post_video(&draft("PUBLIC_TO_EVERYONE"), "video/mp4", &bytes, MB as u64).await;
    let message = refused.expect_err("refused").to_string();
    assert!(message.contains("SELF_ONLY") && message.contains("@promptsmith"), "{message}");
    let long = TikTokDraft { duration_secs: 61, ..draft("SELF_ONLY") };
    let message = client.post_video(&long, "video/mp4", &bytes, MB as u64).await.expect_err("too long").to_string();
    assert!(message.contains("60 s"), "{message}");
    let caption = TikTokDraft { caption: "🎬".repeat(1_101), ..draft("SELF_ONLY") };
    let message = client.post_video(&caption, "video/mp4", &bytes, MB as u64).await.expect_err("too long").to_string();
    assert!(message.contains("2202"), "emoji count two UTF-16 units each: {message}");
    assert_eq!(fake.calls("init"), 0, "nothing was initialised");
}

#[tokio::test]
async fn a_post_tiktok_fails_is_a_refusal_with_tiktoks_reason() {
    let (fake, _server, client) = spawn_tiktok().await;
    fake.fail_next_post("duration_check");
    let refused = client.post_video(&draft("SELF_ONLY"), "video/mp4", &video(MB), MB as u64).await;
    let error = refused.expect_err("failed");
    assert!(!error.is_retryable());
    assert!(error.to_string().contains("duration_check"), "{error}");
}

#[tokio::test]
async fn the_rate_limit_is_waited_out_in_minutes_and_spam_refusals_are_final() {
    let (fake, _server, client) = spawn_tiktok().await;
    fake.rate_limit_next_init();
    let limited = client.start_post(&draft("SELF_ONLY"), MB as u64, MB as u64).await;
    // TikTok's window is a minute and the call's deadline is shorter: the caller is told
    // how long to wait rather than the call sleeping past its deadline.
    assert!(matches!(limited, Err(AdapterError::RateLimited { retry_after_secs: 60, .. })), "{limited:?}");
    assert_eq!(fake.calls("init"), 1);
    fake.refuse_next_init_as_spam();
    let spam = client.start_post(&draft("SELF_ONLY"), MB as u64, MB as u64).await.expect_err("refused");
    assert!(!spam.is_retryable() && spam.to_string().contains("spam_risk_too_many_posts"), "{spam}");
    assert_eq!(fake.calls("init"), 2, "a spam refusal is not retried");
}

#[tokio::test]
async fn ten_calls_on_an_expired_token_refresh_it_once_and_the_refresh_token_rotates() {
    let (fake, _server, client) = spawn_tiktok().await;
    client.creator_info().await.expect("the first call refreshes");
    assert_eq!(fake.calls("token"), 1);
    fake.expire_access_tokens();
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let client = client.clone();
        calls.spawn(async move { client.creator_info().await });
    }
    while let Some(answer) = calls.join_next().await {
        answer.expect("the call ran").expect("answered after one refresh");
    }
    assert_eq!(fake.calls("token"), 2, "ten refused calls, one refresh");
    let rotated = client.oauth().refresh_token().await;
    assert_ne!(rotated.expose(), REFRESH_TOKEN, "TikTok rotates refresh tokens");
    assert_eq!(rotated.expose(), fake.current_refresh_token(), "the session holds the one that works now");
}

#[tokio::test]
async fn a_revoked_grant_asks_the_owner_to_connect_again_and_sends_nothing_more() {
    let (fake, _server, client) = spawn_tiktok().await;
    fake.revoke();
    let error = client.creator_info().await.expect_err("refused");
    assert!(!error.is_retryable());
    let needs_owner = client.oauth().needs_owner().await.expect("the owner is needed");
    assert!(needs_owner.contains("connect tiktok again"), "{needs_owner}");
    client.creator_info().await.expect_err("still refused");
    assert_eq!(fake.calls("token"), 1, "a revoked grant is not tried again");
}

#[tokio::test]
async fn published_videos_counts_are_read_back_twenty_ids_a_query() {
    let (fake, _server, client) = spawn_tiktok().await;
    let ids: Vec<String> = (0..25).map(|index| format!("73000000000000000{index:02}")).collect();
    for (index, id) in ids.iter().enumerate() {
        let n = index as u64;
        fake.set_counts(id, [1_000 + n, 100 + n, 10 + n, n]);
    }
    let counts = client.video_counts(&ids).await.expect("counts");
    assert_eq!(counts.len(), 25);
    assert_eq!(fake.calls("video_query"), 2, "twenty ids, then five");
    let last = counts.iter().find(|video| video.id == ids[24]).expect("the last video");
    assert_eq!((last.view_count, last.like_count, last.comment_count, last.share_count), (1_024, 124, 34, 24));
}
