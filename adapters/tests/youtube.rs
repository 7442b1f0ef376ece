//! The YouTube client against a local fake of the Data API's resumable uploads and
//! Google's token endpoint that follows the protocol and refuses anything else: a video
//! sent in 256 KiB chunks, a chunk that breaks off half way resumed from what the
//! server says it holds, an upload cut short by a crash finished in the same session
//! (no second video), and the day's quota refused for good.

mod support;

use std::time::Duration;

use boardroom_adapters::{VideoDraft, YOUTUBE_CHUNK_UNIT, YouTubeClient};
use support::youtube_fake::YouTubeFake;
use support::{LocalServer, channel_settings};

const CHUNKS: &str = "PUT chunk";
const STATUS: &str = "PUT status";

async fn spawn_youtube() -> (YouTubeFake, LocalServer, YouTubeClient) {
    let fake = YouTubeFake::default();
    let server = LocalServer::start(fake.router()).await;
    let client = YouTubeClient::with_settings(
        YouTubeFake::connection(server.base_url()),
        channel_settings(Duration::from_secs(5)),
    )
    .expect("a valid connection");
    (fake, server, client)
}

fn draft() -> VideoDraft {
    VideoDraft {
        title: "Fifty prompts in sixty seconds".into(),
        description: "The prompt pack, shown.".into(),
        privacy: "public".into(),
    }
}

/// 2.5 chunks of made-up video.
fn video() -> Vec<u8> {
    (0..YOUTUBE_CHUNK_UNIT * 5 / 2).map(|index| (index % 251) as u8).collect()
}

#[tokio::test]
async fn a_video_goes_up_in_chunks_and_comes_back_as_a_video() {
    let (fake, _server, client) = spawn_youtube().await;
    let bytes = video();
    let uploaded = client.upload(&draft(), "video/mp4", &bytes, YOUTUBE_CHUNK_UNIT).await.expect("uploaded");
    assert_eq!(fake.videos(), vec![(uploaded.id.clone(), draft().title, bytes)]);
    assert_eq!(fake.calls(CHUNKS), 3, "two whole chunks and the rest");
    assert!(uploaded.url.ends_with(&uploaded.id));
}

#[tokio::test]
async fn a_chunk_that_breaks_off_is_resumed_from_what_the_server_holds() {
    let (fake, _server, client) = spawn_youtube().await;
    let bytes = video();
    fake.drop_next_chunk_half_way();
    let uploaded = client.upload(&draft(), "video/mp4", &bytes, YOUTUBE_CHUNK_UNIT).await.expect("uploaded");
    let videos = fake.videos();
    assert_eq!(videos.len(), 1);
    assert_eq!(videos[0].2, bytes, "every byte once, in order, across the break");
    assert_eq!(videos[0].0, uploaded.id);
    assert!(fake.calls(STATUS) >= 2, "asked where it stood at the start and after the break");
}

#[tokio::test]
async fn an_upload_cut_short_by_a_crash_finishes_in_the_same_session() {
    let (fake, server, client) = spawn_youtube().await;
    let bytes = video();
    // The first run opened the session and died while its first chunk was on its way.
    let session = client.start_upload(&draft(), "video/mp4", bytes.len() as u64).await.expect("a session");
    let first_run = YouTubeClient::with_settings(
        YouTubeFake::connection(server.base_url()),
        channel_settings(Duration::from_secs(5)),
    )
    .expect("a client");
    fake.hang_next_chunk();
    let mut cut_short = Box::pin(first_run.continue_upload(&session, &bytes, YOUTUBE_CHUNK_UNIT));
    let died = tokio::time::timeout(Duration::from_secs(1), &mut cut_short).await;
    assert!(died.is_err(), "the first run did not finish");
    drop(cut_short);
    assert_eq!(fake.calls(CHUNKS), 0, "no chunk was taken");

    // The next run goes on from the session kept in its checkpoint.
    let uploaded = client.continue_upload(&session, &bytes, YOUTUBE_CHUNK_UNIT).await.expect("finished");
    assert_eq!(fake.sessions(), 1, "no second session");
    assert_eq!(fake.videos(), vec![(uploaded.id, draft().title, bytes)], "one video, whole");
}

#[tokio::test]
async fn the_days_quota_and_bad_drafts_are_refused_for_good() {
    let (fake, _server, client) = spawn_youtube().await;
    fake.exceed_quota();
    let error = client.upload(&draft(), "video/mp4", &video(), YOUTUBE_CHUNK_UNIT).await.expect_err("no quota left");
    assert!(!error.is_retryable() && error.to_string().contains("quotaExceeded"), "{error}");
    assert_eq!(fake.calls("POST /upload/youtube/v3/videos"), 1, "not retried");
    for bad in [VideoDraft { title: String::new(), ..draft() }, VideoDraft { privacy: "everyone".into(), ..draft() }] {
        assert!(!client.start_upload(&bad, "video/mp4", 10).await.expect_err("refused").is_retryable());
    }
    assert!(client.start_upload(&draft(), "image/png", 10).await.is_err());
    assert_eq!(fake.calls("POST /upload/youtube/v3/videos"), 1, "nothing more was sent");
}
