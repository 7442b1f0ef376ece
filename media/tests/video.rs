//! Promo clips assembled by the real ffmpeg from a voice-over spoken by the real
//! espeak-ng (Debian packages `scripts/test` installs), checked the way a platform would
//! check an upload: with ffprobe.

use std::path::Path;
use std::time::Duration;

use boardroom_media::{
    ClipMaker, ClipRequest, ClipShape, MIN_CLIP, MediaError, PictureKind, PictureRequest, Speaker, Speech,
};
use boardroom_personalities::{Personality, VoiceStyle};
use serde_json::Value;

const SCRIPT: &str = "Meet the morning pack. Fifty prompts that turn the first hour of your day into a calm, \
                      clear plan. Print them, pick one, and begin.";

fn personality() -> Personality {
    boardroom_personalities::built_in().into_iter().find(|p| p.name == "CoachTy").expect("a built-in personality")
}

fn speak(script: &str) -> Speech {
    Speaker::default().speak(script, VoiceStyle::Calm).unwrap_or_else(|error| match error {
        MediaError::MissingTool { .. } => panic!("this test needs espeak-ng: {error} (scripts/test installs it)"),
        other => panic!("{other}"),
    })
}

fn assemble(shape: ClipShape, script: &str, voice: &Speech, personality: &Personality) -> boardroom_media::Clip {
    let picture = PictureRequest {
        kind: PictureKind::Cover,
        title: "Fifty prompts for calmer mornings",
        niche: "productivity",
        business: "Demo Business",
        personality,
    };
    ClipMaker::default().assemble(&ClipRequest { shape, picture, script, voice }).unwrap_or_else(|error| match error {
        MediaError::MissingTool { .. } => panic!("this test needs ffmpeg: {error} (scripts/test installs it)"),
        other => panic!("{other}"),
    })
}

/// ffprobe's reading of a file: its streams and its format.
fn probe(bytes: &[u8], folder: &Path, name: &str) -> Value {
    let path = folder.join(name);
    std::fs::write(&path, bytes).expect("written");
    let output = std::process::Command::new("ffprobe")
        .args(["-v", "error", "-show_streams", "-show_format", "-of", "json"])
        .arg(&path)
        .output()
        .expect("this test needs ffprobe (the ffmpeg package; scripts/test installs it)");
    assert!(output.status.success(), "ffprobe: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("ffprobe's JSON")
}

fn seconds(value: &Value) -> f64 {
    value.as_str().and_then(|text| text.parse().ok()).unwrap_or_else(|| panic!("a duration: {value}"))
}

fn stream<'a>(probed: &'a Value, kind: &str) -> &'a Value {
    let streams = probed["streams"].as_array().expect("streams");
    let of_kind: Vec<&Value> = streams.iter().filter(|s| s["codec_type"] == kind).collect();
    assert_eq!(of_kind.len(), 1, "one {kind} stream: {probed}");
    of_kind[0]
}

#[test]
fn a_clip_in_each_platform_shape_has_its_picture_its_captions_and_its_voice_for_as_long_as_the_voice() {
    let folder = tempfile::tempdir().expect("a folder");
    let personality = personality();
    let voice = speak(SCRIPT);
    for (shape, (width, height)) in [(ClipShape::Vertical, (720, 1280)), (ClipShape::Landscape, (1280, 720))] {
        let clip = assemble(shape, SCRIPT, &voice, &personality);
        assert_eq!(clip.duration, voice.duration.max(MIN_CLIP));
        assert!(clip.captions >= 3, "one caption a sentence at least: {}", clip.captions);
        assert_eq!(clip.source.as_str(), "offline");

        let probed = probe(&clip.mp4, folder.path(), &format!("{}.mp4", shape.as_str()));
        assert!(probed["format"]["format_name"].as_str().unwrap_or_default().contains("mp4"), "{probed}");
        let video = stream(&probed, "video");
        assert_eq!(video["codec_name"], "h264");
        assert_eq!((video["width"].as_u64(), video["height"].as_u64()), (Some(width), Some(height)));
        assert_eq!(video["pix_fmt"], "yuv420p", "the pixel format every player takes");
        let audio = stream(&probed, "audio");
        assert_eq!(audio["codec_name"], "aac");
        let expected = clip.duration.as_secs_f64();
        for (what, stream) in [("video", video), ("audio", audio)] {
            let measured = seconds(&stream["duration"]);
            assert!(
                (measured - expected).abs() < 0.15,
                "{} {what}: {measured} s, the voice-over {expected} s",
                shape.as_str()
            );
        }

        // The first caption is burned into the first frame, white on the dark band.
        let frame_path = folder.path().join(format!("{}-first.png", shape.as_str()));
        let extracted = std::process::Command::new("ffmpeg")
            .args(["-v", "error", "-y", "-ss", "0.2", "-i"])
            .arg(folder.path().join(format!("{}.mp4", shape.as_str())))
            .args(["-frames:v", "1"])
            .arg(&frame_path)
            .status()
            .expect("ffmpeg");
        assert!(extracted.success());
        let frame = image::open(&frame_path).expect("a frame").to_rgb8();
        assert_eq!(frame.dimensions(), (width as u32, height as u32));
        let band_top = (f64::from(frame.height()) * 0.80) as u32;
        let white = (band_top..frame.height())
            .flat_map(|y| (0..frame.width()).map(move |x| (x, y)))
            .filter(|&(x, y)| frame.get_pixel(x, y).0.iter().all(|channel| *channel > 220))
            .count();
        // The band darkens what is behind it: the left edge (no text there) is darker in
        // the band than just above it.
        let brightness = |y: u32| frame.get_pixel(4, y).0.iter().map(|channel| u32::from(*channel)).sum::<u32>();
        let (above, within) = (brightness(band_top * 95 / 100 - 20), brightness(band_top + 10));
        assert!(white > 1_000, "{}: caption text is drawn ({white} white pixels)", shape.as_str());
        assert!(within * 2 < above, "{}: on a dark band ({within} within, {above} above)", shape.as_str());
    }
}

#[test]
fn a_short_voice_over_is_held_to_the_shortest_clip_tiktok_takes() {
    let folder = tempfile::tempdir().expect("a folder");
    let voice = speak("Hello.");
    assert!(voice.duration < MIN_CLIP, "espeak-ng says hello in under three seconds: {:?}", voice.duration);
    let clip = assemble(ClipShape::Vertical, "Hello.", &voice, &personality());
    assert_eq!(clip.duration, MIN_CLIP);
    let probed = probe(&clip.mp4, folder.path(), "short.mp4");
    for kind in ["video", "audio"] {
        let measured = seconds(&stream(&probed, kind)["duration"]);
        assert!((measured - 3.0).abs() < 0.15, "{kind}: {measured} s");
    }
}

#[test]
fn a_voice_over_is_kept_as_ogg_opus_of_the_same_length_and_far_smaller() {
    let folder = tempfile::tempdir().expect("a folder");
    let voice = speak(SCRIPT);
    let opus = ClipMaker::default().opus_of(&voice.wav).expect("encoded");
    assert_eq!(&opus[..4], b"OggS");
    let probed = probe(&opus, folder.path(), "voice.ogg");
    let audio = stream(&probed, "audio");
    assert_eq!(audio["codec_name"], "opus");
    let measured = seconds(&probed["format"]["duration"]);
    let expected = voice.duration.as_secs_f64();
    assert!((measured - expected).abs() < 0.1, "{measured} s against the WAV's {expected} s");
    assert!(opus.len() * 4 < voice.wav.len(), "{} bytes of Opus for {} of WAV", opus.len(), voice.wav.len());
}

#[test]
fn a_script_with_nothing_to_caption_is_refused_before_ffmpeg_runs() {
    let voice = Speech { wav: Vec::new(), duration: Duration::from_secs(1), source: boardroom_media::Source::Offline };
    let personality = personality();
    let picture =
        PictureRequest { kind: PictureKind::Cover, title: "t", niche: "n", business: "b", personality: &personality };
    let refused = ClipMaker::at("/nonexistent/ffmpeg").assemble(&ClipRequest {
        shape: ClipShape::Landscape,
        picture,
        script: " \n\t ",
        voice: &voice,
    });
    assert!(matches!(refused, Err(MediaError::Invalid(_))), "{refused:?}");
}
