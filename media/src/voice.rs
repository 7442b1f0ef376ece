//! Voice-overs in a personality's voice, spoken offline by espeak-ng.
//!
//! Spec section 8's three voice styles are a speed and a pitch: professional measured,
//! energetic fast and high, calm slow and low. The script goes to `espeak-ng` on its
//! standard input (never as an argument, so no script can pass for an option), and the
//! WAV it writes to its standard output is what is kept; its length is read from the
//! WAV itself. espeak-ng is a Debian package, not a crate: when it is not installed the
//! error names it and how to install it.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use boardroom_personalities::VoiceStyle;

use crate::{MediaError, Source};

/// The longest script spoken, in characters (about three minutes at the calm speed).
pub const MAX_SCRIPT_CHARS: usize = 2_000;

/// What espeak-ng is called unless told otherwise.
const ESPEAK: &str = "espeak-ng";

/// Words a minute and pitch (0–99, 50 is espeak's default) of a voice style.
pub fn delivery_of(style: VoiceStyle) -> (u32, u32) {
    match style {
        VoiceStyle::Professional => (160, 45),
        VoiceStyle::Energetic => (200, 65),
        VoiceStyle::Calm => (130, 35),
    }
}

/// A spoken script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Speech {
    /// WAV bytes (16-bit PCM, mono).
    pub wav: Vec<u8>,
    /// How long it plays.
    pub duration: Duration,
    /// Who spoke it.
    pub source: Source,
}

/// The speaker: espeak-ng, found on the `PATH` or at a path given.
#[derive(Debug, Clone)]
pub struct Speaker {
    program: String,
}

impl Default for Speaker {
    fn default() -> Self {
        Self { program: ESPEAK.to_owned() }
    }
}

impl Speaker {
    /// espeak-ng at `program` (a path, or a name looked up on the `PATH`).
    pub fn at(program: impl Into<String>) -> Self {
        Self { program: program.into() }
    }

    /// Speaks `script` in `style`, in US English.
    pub fn speak(&self, script: &str, style: VoiceStyle) -> Result<Speech, MediaError> {
        let script = script.split_whitespace().collect::<Vec<_>>().join(" ");
        let length = script.chars().count();
        if script.is_empty() || length > MAX_SCRIPT_CHARS {
            return Err(MediaError::Invalid(format!(
                "a script takes 1 to {MAX_SCRIPT_CHARS} characters; this one has {length}"
            )));
        }
        let (speed, pitch) = delivery_of(style);
        let mut child = Command::new(&self.program)
            .args(["-v", "en-us", "-s", &speed.to_string(), "-p", &pitch.to_string(), "--stdout", "--stdin"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|error| match error.kind() {
                std::io::ErrorKind::NotFound => {
                    MediaError::MissingTool { tool: "espeak-ng", install: "apt-get install espeak-ng" }
                }
                _ => MediaError::Render(format!("could not start {}: {error}", self.program)),
            })?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(script.as_bytes())
                .map_err(|error| MediaError::Render(format!("could not hand espeak-ng the script: {error}")))?;
        }
        let output = child
            .wait_with_output()
            .map_err(|error| MediaError::Render(format!("espeak-ng did not finish: {error}")))?;
        if !output.status.success() {
            let said = String::from_utf8_lossy(&output.stderr);
            return Err(MediaError::Render(format!("espeak-ng failed ({}): {}", output.status, said.trim())));
        }
        let duration = wav_duration(&output.stdout)?;
        Ok(Speech { wav: output.stdout, duration, source: Source::Offline })
    }
}

/// How long a PCM WAV plays: its sample data over its byte rate. A WAV written to a
/// pipe cannot go back to fill in its sizes, so the data is taken to run to the end.
pub fn wav_duration(wav: &[u8]) -> Result<Duration, MediaError> {
    let bad = |why: &str| MediaError::Render(format!("espeak-ng's output is not a WAV: {why}"));
    if wav.len() < 12 || &wav[0..4] != b"RIFF" || &wav[8..12] != b"WAVE" {
        return Err(bad("no RIFF/WAVE header"));
    }
    let mut at = 12;
    let mut byte_rate = None;
    while at + 8 <= wav.len() {
        let id = &wav[at..at + 4];
        let size = u32::from_le_bytes([wav[at + 4], wav[at + 5], wav[at + 6], wav[at + 7]]) as usize;
        let body = at + 8;
        match id {
            b"fmt " if body + 12 <= wav.len() => {
                byte_rate = Some(u32::from_le_bytes([wav[body + 8], wav[body + 9], wav[body + 10], wav[body + 11]]));
            }
            b"data" => {
                let rate = byte_rate.filter(|rate| *rate > 0).ok_or_else(|| bad("no format before the data"))?;
                let remaining = wav.len() - body;
                let data = if size == 0 || size > remaining { remaining } else { size };
                return Ok(Duration::from_secs_f64(data as f64 / f64::from(rate)));
            }
            _ => {}
        }
        at = body.saturating_add(size).saturating_add(size % 2);
    }
    Err(bad("no data chunk"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A WAV header for `samples` 16-bit mono samples at 22,050 Hz, with `data_size`
    /// written in its data chunk.
    fn wav(samples: usize, data_size: u32) -> Vec<u8> {
        let mut bytes = b"RIFF\xff\xff\xff\x7fWAVEfmt ".to_vec();
        bytes.extend_from_slice(&16_u32.to_le_bytes());
        bytes.extend_from_slice(&1_u16.to_le_bytes()); // PCM
        bytes.extend_from_slice(&1_u16.to_le_bytes()); // mono
        bytes.extend_from_slice(&22_050_u32.to_le_bytes());
        bytes.extend_from_slice(&44_100_u32.to_le_bytes());
        bytes.extend_from_slice(&2_u16.to_le_bytes());
        bytes.extend_from_slice(&16_u16.to_le_bytes());
        bytes.extend_from_slice(b"data");
        bytes.extend_from_slice(&data_size.to_le_bytes());
        bytes.extend(std::iter::repeat_n(0_u8, samples * 2));
        bytes
    }

    #[test]
    fn a_wav_lasts_its_data_over_its_byte_rate_even_with_unfilled_sizes() {
        assert_eq!(wav_duration(&wav(22_050, 44_100)).expect("a WAV"), Duration::from_secs(1));
        // Written to a pipe: the sizes are placeholders, the data runs to the end.
        assert_eq!(wav_duration(&wav(11_025, u32::MAX)).expect("a WAV"), Duration::from_millis(500));
        assert_eq!(wav_duration(&wav(11_025, 0)).expect("a WAV"), Duration::from_millis(500));
        assert!(wav_duration(b"RIFF....WAVE").is_err());
        assert!(wav_duration(b"not a wav at all").is_err());
    }

    #[test]
    fn a_missing_espeak_is_named_with_how_to_install_it() {
        let missing = Speaker::at("/nonexistent/espeak-ng").speak("Hello there.", VoiceStyle::Calm);
        let error = missing.expect_err("no such program");
        assert_eq!(error, MediaError::MissingTool { tool: "espeak-ng", install: "apt-get install espeak-ng" });
        assert!(error.to_string().contains("espeak-ng is not installed"), "{error}");
    }

    #[test]
    fn empty_and_overlong_scripts_are_refused_before_anything_runs() {
        let speaker = Speaker::at("/nonexistent/espeak-ng");
        for script in [" \n ", &"a".repeat(MAX_SCRIPT_CHARS + 1)] {
            assert!(matches!(speaker.speak(script, VoiceStyle::Calm), Err(MediaError::Invalid(_))));
        }
    }
}
