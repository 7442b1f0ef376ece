//! Pictures and voice-overs from an OpenAI-compatible API, against a local server that
//! holds requests to the documented shape of `POST /v1/images/generations` and
//! `POST /v1/audio/speech` (a bearer key; the fields and values the API takes) and
//! answers as the API does: a base64 PNG with the usage, Ogg/Opus bytes. When it fails
//! or answers with something unusable, the studio makes the piece offline and says why.

use std::time::Duration;

use boardroom_media::{
    ClipMaker, MediaError, PictureKind, PictureOrder, RemoteMedia, RemoteMediaConfig, Source, Speaker, Studio,
    ogg_opus_duration,
};
use boardroom_personalities::{Personality, VoiceStyle};

#[path = "support/openai_media_fake.rs"]
mod openai_media_fake;
use openai_media_fake::{Behaviour, KEY, serve};

fn personality() -> Personality {
    boardroom_personalities::built_in().into_iter().find(|p| p.name == "HustleBot").expect("a built-in personality")
}

fn order(kind: PictureKind) -> PictureOrder {
    PictureOrder {
        kind,
        title: "Fifty prompts for calmer mornings".into(),
        niche: "productivity".into(),
        business: "Demo Business".into(),
        personality: personality(),
    }
}

/// Real Ogg/Opus to answer with: espeak-ng's speech, encoded by ffmpeg.
fn real_opus() -> (Vec<u8>, Duration) {
    let speech = Speaker::default()
        .speak("Fifty prompts for calmer mornings.", VoiceStyle::Energetic)
        .unwrap_or_else(|error| panic!("this test needs espeak-ng and ffmpeg: {error} (scripts/test installs them)"));
    let opus = ClipMaker::default().opus_of(&speech.wav).expect("this test needs ffmpeg (scripts/test installs it)");
    (opus, speech.duration)
}

fn studio(base_url: &str, key: &str) -> Studio {
    let config = RemoteMediaConfig::new(base_url, key);
    Studio::with_remote(RemoteMedia::new(config).expect("a client"))
}

#[tokio::test]
async fn covers_cards_and_voice_overs_come_from_the_api_when_it_answers() {
    let (opus, spoken) = real_opus();
    let (base_url, requests) = serve(Behaviour::Answers, opus.clone()).await;
    let studio = studio(&base_url, KEY);

    let cover = studio.picture(order(PictureKind::Cover)).await.expect("a cover");
    assert_eq!((cover.source, cover.size, cover.content_type), (Source::Remote, Some((1024, 1024)), "image/png"));
    assert_eq!(cover.fallback, None);
    let usage = cover.usage.expect("the usage");
    assert_eq!((usage.model.as_str(), usage.input_tokens, usage.output_tokens), ("gpt-image-1", 52, 4160));
    image::load_from_memory_with_format(&cover.bytes, image::ImageFormat::Png).expect("the PNG the API made");
    let card = studio.picture(order(PictureKind::SocialCard)).await.expect("a card");
    assert_eq!((card.source, card.size), (Source::Remote, Some((1536, 1024))));

    let voice = studio.voice_over("Fifty prompts for calmer mornings.".into(), VoiceStyle::Energetic).await;
    let voice = voice.expect("a voice-over");
    assert_eq!((voice.source, voice.content_type, voice.extension), (Source::Remote, "audio/ogg", "ogg"));
    assert_eq!(voice.bytes, opus);
    // Its length is read from the Ogg stream: as long as what was encoded.
    let length = voice.duration.expect("a length");
    assert!((length.as_secs_f64() - spoken.as_secs_f64()).abs() < 0.05, "{length:?} against {spoken:?}");
    assert_eq!(ogg_opus_duration(&opus), Some(length));

    let sent = requests.lock().expect("requests").clone();
    assert_eq!(sent.len(), 3, "{sent:?}");
    let prompt = sent[0].1["prompt"].as_str().expect("a prompt");
    assert!(prompt.contains("Fifty prompts for calmer mornings") && prompt.contains("productivity"), "{prompt}");
    assert_eq!((sent[0].1["size"].as_str(), sent[1].1["size"].as_str()), (Some("1024x1024"), Some("1536x1024")));
    // HustleBot is energetic: the brisk voice, faster than normal.
    assert_eq!((sent[2].1["voice"].as_str(), sent[2].1["speed"].as_f64()), (Some("nova"), Some(1.2)));
    assert_eq!(sent[2].1["response_format"], "opus");
}

#[tokio::test]
async fn a_failing_refusing_or_garbling_api_leaves_each_piece_to_be_made_offline_with_the_reason() {
    let (opus, _) = real_opus();
    for (behaviour, key, why) in
        [(Behaviour::Fails, KEY, "500"), (Behaviour::Answers, "sk-wrong", "401"), (Behaviour::Garbles, KEY, "not")]
    {
        let (base_url, requests) = serve(behaviour, opus.clone()).await;
        let studio = studio(&base_url, key);
        let cover = studio.picture(order(PictureKind::Cover)).await.expect("a cover all the same");
        assert_eq!((cover.source, cover.size), (Source::Offline, Some((1024, 1024))));
        let reason = cover.fallback.expect("why it is offline");
        assert!(reason.starts_with("drawn offline") && reason.contains(why), "{reason}");
        let voice = studio.voice_over("Hello there, mornings.".into(), VoiceStyle::Calm).await.expect("a voice-over");
        assert_eq!((voice.source, voice.content_type), (Source::Offline, "audio/ogg"));
        let reason = voice.fallback.expect("why it is offline");
        assert!(reason.starts_with("spoken offline") && reason.contains(why), "{reason}");
        assert_eq!(requests.lock().expect("requests").len(), 2, "one call each, no retry storm");
    }
    // Nobody listening: the same.
    let studio = studio("http://127.0.0.1:9/v1", KEY);
    let cover = studio.picture(order(PictureKind::SocialCard)).await.expect("a card all the same");
    assert_eq!(cover.source, Source::Offline);
    assert!(cover.fallback.is_some_and(|why| why.contains("did not answer")));
}

#[tokio::test]
async fn offline_only_the_studio_draws_and_speaks_here() {
    let studio = Studio::offline();
    let cover = studio.picture(order(PictureKind::Cover)).await.expect("a cover");
    assert_eq!((cover.source, cover.fallback, cover.usage), (Source::Offline, None, None));
    let voice = studio.voice_over("Hello.".into(), VoiceStyle::Professional).await;
    let voice = voice.unwrap_or_else(|error| match error {
        MediaError::MissingTool { .. } => panic!("this test needs espeak-ng: {error}"),
        other => panic!("{other}"),
    });
    assert_eq!((voice.source, voice.content_type, voice.fallback), (Source::Offline, "audio/ogg", None));
}
