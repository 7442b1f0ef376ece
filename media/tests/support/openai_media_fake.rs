//! A local OpenAI-compatible server for the remote media paths: it holds requests to the
//! documented shape of `POST /v1/images/generations` and `POST /v1/audio/speech` (a
//! bearer key; the fields and values the API takes, nothing else) and answers as the API
//! does (a base64 PNG of the size asked with the usage; Ogg/Opus bytes), or fails or
//! garbles as told. Used by the media crate's tests and the API stories.

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine as _;
use serde_json::{Value, json};

/// The key the fake accepts.
pub(crate) const KEY: &str = "sk-test-remote-media";

/// How the fake answers.
#[derive(Clone, Copy, PartialEq)]
#[allow(dead_code)] // each test binary uses some of them
pub(crate) enum Behaviour {
    /// As the API does.
    Answers,
    /// 500 on every call.
    Fails,
    /// 200 with bytes that are not what was asked for.
    Garbles,
}

#[derive(Clone)]
struct Fake {
    behaviour: Behaviour,
    requests: Arc<Mutex<Vec<(String, Value)>>>,
    /// The Ogg/Opus the speech endpoint answers with.
    speech: Arc<Vec<u8>>,
}

fn refuse(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": { "message": message, "type": "invalid_request_error" } }))).into_response()
}

/// Checks the bearer key and that `body` has exactly the `allowed` fields, the
/// `required` ones among them.
fn check(headers: &HeaderMap, body: &Value, required: &[&str], allowed: &[&str]) -> Option<Response> {
    if headers.get("authorization").and_then(|value| value.to_str().ok()) != Some(&format!("Bearer {KEY}")) {
        return Some(refuse(StatusCode::UNAUTHORIZED, "Incorrect API key provided"));
    }
    let fields = body.as_object()?;
    if let Some(stray) = fields.keys().find(|field| !allowed.contains(&field.as_str())) {
        return Some(refuse(StatusCode::BAD_REQUEST, &format!("Unrecognized request argument supplied: {stray}")));
    }
    if let Some(missing) = required.iter().find(|field| !fields.contains_key(**field)) {
        return Some(refuse(StatusCode::BAD_REQUEST, &format!("Missing required parameter: '{missing}'")));
    }
    None
}

async fn images(State(fake): State<Fake>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    fake.requests.lock().expect("requests").push(("images".into(), body.clone()));
    if let Some(refused) =
        check(&headers, &body, &["model", "prompt"], &["model", "prompt", "n", "size", "response_format"])
    {
        return refused;
    }
    let (width, height) = match body["size"].as_str() {
        Some("1024x1024") => (1024, 1024),
        Some("1536x1024") => (1536, 1024),
        Some("1024x1536") => (1024, 1536),
        _ => return refuse(StatusCode::BAD_REQUEST, "Invalid value for 'size'"),
    };
    if body["n"] != json!(1)
        || body["response_format"] != "b64_json"
        || body["prompt"].as_str().is_none_or(str::is_empty)
    {
        return refuse(StatusCode::BAD_REQUEST, "Invalid value for 'n', 'response_format' or 'prompt'");
    }
    let png = match fake.behaviour {
        Behaviour::Fails => return refuse(StatusCode::INTERNAL_SERVER_ERROR, "The server had an error"),
        Behaviour::Garbles => b"GIF89a, not what was asked for".to_vec(),
        Behaviour::Answers => {
            let mut png = Vec::new();
            image::RgbImage::from_pixel(width, height, image::Rgb([200, 120, 40]))
                .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
                .expect("a PNG");
            png
        }
    };
    let b64 = base64::engine::general_purpose::STANDARD.encode(png);
    Json(json!({
        "created": 1_764_700_000,
        "data": [{ "b64_json": b64 }],
        "usage": { "input_tokens": 52, "output_tokens": 4160, "total_tokens": 4212,
                   "input_tokens_details": { "text_tokens": 52, "image_tokens": 0 } },
    }))
    .into_response()
}

async fn speech(State(fake): State<Fake>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    fake.requests.lock().expect("requests").push(("speech".into(), body.clone()));
    if let Some(refused) = check(
        &headers,
        &body,
        &["model", "input", "voice"],
        &["model", "input", "voice", "speed", "response_format", "instructions"],
    ) {
        return refused;
    }
    let voices = ["alloy", "ash", "ballad", "coral", "echo", "fable", "onyx", "nova", "sage", "shimmer", "verse"];
    let known_voice = body["voice"].as_str().is_some_and(|voice| voices.contains(&voice));
    let speed_ok = body["speed"].as_f64().is_none_or(|speed| (0.25..=4.0).contains(&speed));
    let input_ok = body["input"].as_str().is_some_and(|input| !input.is_empty() && input.chars().count() <= 4096);
    if !known_voice || !speed_ok || !input_ok || body["response_format"] != "opus" {
        return refuse(StatusCode::BAD_REQUEST, "Invalid value for 'voice', 'speed', 'input' or 'response_format'");
    }
    match fake.behaviour {
        Behaviour::Fails => refuse(StatusCode::INTERNAL_SERVER_ERROR, "The server had an error"),
        Behaviour::Garbles => ([("content-type", "audio/ogg")], b"RIFF....WAVE".to_vec()).into_response(),
        Behaviour::Answers => ([("content-type", "audio/ogg")], fake.speech.as_ref().clone()).into_response(),
    }
}

/// What the fake was sent: the endpoint (`images`, `speech`) and the JSON body.
pub(crate) type Sent = Arc<Mutex<Vec<(String, Value)>>>;

/// Starts the fake; answers its `/v1` base URL and what it was sent. `spoken` is the
/// Ogg/Opus the speech endpoint answers with.
pub(crate) async fn serve(behaviour: Behaviour, spoken: Vec<u8>) -> (String, Sent) {
    let requests = Arc::new(Mutex::new(Vec::new()));
    let fake = Fake { behaviour, requests: requests.clone(), speech: Arc::new(spoken) };
    let app = Router::new()
        .route("/v1/images/generations", post(images))
        .route("/v1/audio/speech", post(speech))
        .with_state(fake);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let address = listener.local_addr().expect("an address");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("the fake serves") });
    (format!("http://{address}/v1"), requests)
}
