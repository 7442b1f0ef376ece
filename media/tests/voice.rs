//! Voice-overs spoken by the real espeak-ng (a Debian package `scripts/test` installs):
//! the same script in the three voice styles plays for as long as their speeds say.

use boardroom_media::{MediaError, Speaker, delivery_of, wav_duration};
use boardroom_personalities::VoiceStyle;

const SCRIPT: &str = "Meet the morning pack: fifty prompts that turn the first hour of your day into a calm, \
                      clear plan. Print them, pick one, and begin. Your best mornings start here.";

fn speak(style: VoiceStyle) -> f64 {
    match Speaker::default().speak(SCRIPT, style) {
        Ok(speech) => {
            assert_eq!(wav_duration(&speech.wav).expect("a WAV"), speech.duration);
            assert_eq!(speech.source.as_str(), "offline");
            speech.duration.as_secs_f64()
        }
        Err(error @ MediaError::MissingTool { .. }) => {
            panic!("this test needs espeak-ng: {error} (scripts/test installs it)")
        }
        Err(other) => panic!("{other}"),
    }
}

#[test]
fn the_three_styles_speak_one_script_for_as_long_as_their_speeds_say() {
    let (calm, professional, energetic) =
        (speak(VoiceStyle::Calm), speak(VoiceStyle::Professional), speak(VoiceStyle::Energetic));
    assert!(
        calm > professional && professional > energetic,
        "calm {calm} s, professional {professional} s, energetic {energetic} s"
    );
    // Words a minute set the pace: the durations stand as the speeds' inverse, within
    // the pauses between sentences that do not scale.
    let speed = |style| f64::from(delivery_of(style).0);
    let expected = speed(VoiceStyle::Energetic) / speed(VoiceStyle::Calm);
    let measured = calm / energetic;
    assert!((measured / expected - 1.0).abs() < 0.25, "calm/energetic {measured:.2}, speeds say {expected:.2}");
    assert!((5.0..60.0).contains(&professional), "{professional} s for {} words", SCRIPT.split(' ').count());
}
