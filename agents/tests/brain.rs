//! The brain, told as stories: the offline brain, the shape check, and the remote brain
//! against a scripted OpenAI-compatible server on 127.0.0.1 (nothing reaches the
//! internet).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use boardroom_agents::brain::{
    Brain, BrainError, BrainRequest, DecisionSource, ExpectedShape, OfflineBrain, RemoteBrain, RemoteBrainConfig,
    TokenUsage,
};
use boardroom_memory::TenantId;
use serde_json::{Value, json};

const KEY: &str = "sk-test-0123456789-secret";
const PREFIX: &str = "You are HustleBot: bold, fast, and obsessed with growth.";
const MEMORY: &str = "In March a price just under the cheapest rival sold twice as many copies.";
const VALID: &str = r#"{"price": 11.5, "reason": "rivals are at 12"}"#;

// ---------------------------------------------------------------------------------------
// A scripted OpenAI-compatible server.
// ---------------------------------------------------------------------------------------

/// What the fake server does with one request for a model.
#[derive(Clone)]
enum Reply {
    /// A chat completion whose message content is `content`.
    Answer { content: String, prompt_tokens: u32, completion_tokens: u32 },
    /// An error status with an OpenAI-style error body.
    Status { status: u16, retry_after: Option<&'static str>, message: String },
    /// Waits, then replies.
    Slow { delay: Duration, then: Box<Reply> },
}

fn answer(content: &str, prompt_tokens: u32, completion_tokens: u32) -> Reply {
    Reply::Answer { content: content.to_string(), prompt_tokens, completion_tokens }
}

fn status(status: u16, message: &str) -> Reply {
    Reply::Status { status, retry_after: None, message: message.to_string() }
}

/// Per model, the replies in order; the last one repeats forever.
type Script = HashMap<String, Vec<Reply>>;

#[derive(Default)]
struct Recorded {
    /// Request bodies per model, in arrival order.
    bodies: HashMap<String, Vec<Value>>,
    /// Everything about a request that a real endpoint would not have accepted.
    violations: Vec<String>,
}

struct ServerState {
    script: Script,
    recorded: Mutex<Recorded>,
}

struct FakeLlm {
    base_url: String,
    state: Arc<ServerState>,
}

impl FakeLlm {
    /// Starts a server on a random local port that answers per `script`.
    async fn start(script: impl IntoIterator<Item = (&'static str, Vec<Reply>)>) -> Self {
        let script = script.into_iter().map(|(model, replies)| (model.to_string(), replies)).collect();
        let state = Arc::new(ServerState { script, recorded: Mutex::new(Recorded::default()) });
        let app = Router::new()
            .route("/v1/chat/completions", post(chat_completions))
            .fallback(unexpected_path)
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a local port");
        let address = listener.local_addr().expect("a local address");
        tokio::spawn(async move {
            axum::serve(listener, app).await.expect("the fake server runs");
        });
        Self { base_url: format!("http://{address}/v1"), state }
    }

    fn requests_for(&self, model: &str) -> usize {
        self.bodies_for(model).len()
    }

    fn bodies_for(&self, model: &str) -> Vec<Value> {
        let recorded = self.state.recorded.lock().expect("not poisoned");
        recorded.bodies.get(model).cloned().unwrap_or_default()
    }

    /// Every request so far had the expected path, key, body and system prompt.
    fn assert_requests_were_well_formed(&self) {
        let recorded = self.state.recorded.lock().expect("not poisoned");
        assert!(recorded.violations.is_empty(), "malformed requests: {:#?}", recorded.violations);
    }

    /// A brain on this server with quick back-offs, trying `models` in order.
    fn brain(&self, models: &[&str]) -> RemoteBrain {
        RemoteBrain::new(self.config(models)).expect("a valid configuration")
    }

    fn config(&self, models: &[&str]) -> RemoteBrainConfig {
        let mut config = RemoteBrainConfig::new(KEY);
        config.base_url = self.base_url.clone();
        config.models = models.iter().map(|model| model.to_string()).collect();
        config.initial_backoff = Duration::from_millis(10);
        config.max_backoff = Duration::from_secs(3);
        config.request_timeout = Duration::from_secs(5);
        config
    }
}

async fn unexpected_path(State(state): State<Arc<ServerState>>, uri: Uri) -> StatusCode {
    let mut recorded = state.recorded.lock().expect("not poisoned");
    recorded.violations.push(format!("request to {uri}"));
    StatusCode::NOT_FOUND
}

async fn chat_completions(State(state): State<Arc<ServerState>>, headers: HeaderMap, body: String) -> Response {
    let body: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let model = body["model"].as_str().unwrap_or_default().to_string();
    let reply = {
        let mut recorded = state.recorded.lock().expect("not poisoned");
        let problems = request_problems(&headers, &body);
        recorded.violations.extend(problems);
        let bodies = recorded.bodies.entry(model.clone()).or_default();
        bodies.push(body);
        let seen = bodies.len();
        state.script.get(&model).map(|replies| {
            let index = (seen - 1).min(replies.len() - 1);
            replies[index].clone()
        })
    };
    let Some(reply) = reply else {
        return status_response(404, None, &format!("{model} is not a valid model ID"));
    };
    reply_with(reply, &model).await
}

async fn reply_with(mut reply: Reply, model: &str) -> Response {
    loop {
        match reply {
            Reply::Slow { delay, then } => {
                tokio::time::sleep(delay).await;
                reply = *then;
            }
            Reply::Status { status, retry_after, message } => return status_response(status, retry_after, &message),
            Reply::Answer { content, prompt_tokens, completion_tokens } => {
                let completion = json!({
                    "id": "chatcmpl-test",
                    "object": "chat.completion",
                    "created": 1_700_000_000,
                    "model": model,
                    "choices": [{
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop"
                    }],
                    "usage": {
                        "prompt_tokens": prompt_tokens,
                        "completion_tokens": completion_tokens,
                        "total_tokens": prompt_tokens + completion_tokens
                    }
                });
                return axum::Json(completion).into_response();
            }
        }
    }
}

fn status_response(status: u16, retry_after: Option<&'static str>, message: &str) -> Response {
    let status = StatusCode::from_u16(status).expect("a valid status");
    let body = json!({"error": {"code": status.as_u16(), "message": message}});
    let mut response = (status, axum::Json(body)).into_response();
    if let Some(seconds) = retry_after {
        response.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from_static(seconds));
    }
    response
}

/// What a real OpenAI-compatible endpoint (and our prompt contract) requires.
fn request_problems(headers: &HeaderMap, body: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let authorization = headers.get(header::AUTHORIZATION).and_then(|value| value.to_str().ok());
    if authorization != Some(&format!("Bearer {KEY}")) {
        problems.push(format!("Authorization header was {authorization:?}"));
    }
    if headers.get("x-title").is_none() {
        problems.push("no X-Title header".to_string());
    }
    if !body["model"].is_string() {
        problems.push(format!("no model in {body}"));
    }
    let Some(messages) = body["messages"].as_array().filter(|list| !list.is_empty()) else {
        problems.push(format!("no messages in {body}"));
        return problems;
    };
    let system = &messages[0];
    let content = system["content"].as_str().unwrap_or_default();
    if system["role"] != "system" || !content.starts_with(PREFIX) {
        problems.push(format!("system message does not open with the prefix: {system}"));
    }
    if !content.contains(MEMORY) {
        problems.push(format!("system message lacks the memory: {content}"));
    }
    if messages[1]["role"] != "user" {
        problems.push(format!("second message is not the user's: {}", messages[1]));
    }
    problems
}

// ---------------------------------------------------------------------------------------
// Requests.
// ---------------------------------------------------------------------------------------

fn price_shape() -> ExpectedShape {
    ExpectedShape::object().number("price", Some(0.01), None).string("reason", 500)
}

fn pricing_request() -> BrainRequest {
    BrainRequest {
        tenant: TenantId(7),
        agent: "pricing".to_string(),
        prompt_prefix: PREFIX.to_string(),
        memories: vec![MEMORY.to_string()],
        instruction: "Set the price of the e-book.".to_string(),
        input: json!({"unit_cost": 2.0, "rival_prices": [12.0, 14.5]}),
        proposal: json!({"price": 11.99, "reason": "just under the cheapest rival"}),
        shape: price_shape(),
        deadline: None,
    }
}

fn remote(model: &str) -> DecisionSource {
    DecisionSource::Remote { model: model.to_string() }
}

fn usage(model: &str, prompt_tokens: u32, completion_tokens: u32) -> Option<TokenUsage> {
    Some(TokenUsage { model: model.to_string(), prompt_tokens, completion_tokens })
}

/// The content of the last message of a recorded request body.
fn last_message(body: &Value) -> String {
    let messages = body["messages"].as_array().expect("messages");
    messages[messages.len() - 1]["content"].as_str().expect("text content").to_string()
}

// ---------------------------------------------------------------------------------------
// The remote brain.
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn the_remote_brain_returns_the_models_decision_with_its_usage() {
    let server = FakeLlm::start([("alpha", vec![answer(VALID, 120, 30)])]).await;
    let brain = server.brain(&["alpha", "beta"]);

    let answer = brain.decide(pricing_request()).await.expect("a decision");

    assert_eq!(answer.decision, json!({"price": 11.5, "reason": "rivals are at 12"}));
    assert_eq!(answer.source, remote("alpha"));
    assert_eq!(answer.usage, usage("alpha", 120, 30));
    let body = &server.bodies_for("alpha")[0];
    let user = last_message(body);
    assert!(user.starts_with("Set the price of the e-book."), "{user}");
    assert!(user.contains("rival_prices") && user.contains("just under the cheapest rival"));
    assert_eq!(body["response_format"], json!({"type": "json_object"}));
    server.assert_requests_were_well_formed();
}

#[tokio::test]
async fn a_rate_limited_model_is_asked_again_after_its_retry_after() {
    let rate_limited = Reply::Status { status: 429, retry_after: Some("1"), message: "slow down".to_string() };
    let server = FakeLlm::start([("alpha", vec![rate_limited, answer(VALID, 10, 5)])]).await;
    let brain = server.brain(&["alpha", "beta"]);

    let started = Instant::now();
    let answer = brain.decide(pricing_request()).await.expect("a decision");

    assert_eq!(answer.source, remote("alpha"));
    assert_eq!(server.requests_for("alpha"), 2);
    assert_eq!(server.requests_for("beta"), 0);
    // The back-off alone would be ~10 ms; only Retry-After explains a wait near 1 s.
    assert!(started.elapsed() >= Duration::from_millis(900));
    server.assert_requests_were_well_formed();
}

#[tokio::test]
async fn a_retry_after_longer_than_the_longest_back_off_moves_to_the_next_model() {
    let rate_limited =
        Reply::Status { status: 429, retry_after: Some("3600"), message: "rate limited for an hour".to_string() };
    let server = FakeLlm::start([("alpha", vec![rate_limited]), ("beta", vec![answer(VALID, 1, 1)])]).await;
    let brain = server.brain(&["alpha", "beta"]);

    let started = Instant::now();
    let answer = brain.decide(pricing_request()).await.expect("a decision");

    assert_eq!(answer.source, remote("beta"));
    assert_eq!(server.requests_for("alpha"), 1);
    assert!(started.elapsed() < Duration::from_secs(3));
    server.assert_requests_were_well_formed();
}

#[tokio::test]
async fn a_model_answering_503_every_time_falls_through_to_the_next_model() {
    let server =
        FakeLlm::start([("alpha", vec![status(503, "overloaded")]), ("beta", vec![answer(VALID, 40, 8)])]).await;
    let brain = server.brain(&["alpha", "beta"]);

    let answer = brain.decide(pricing_request()).await.expect("a decision");

    assert_eq!(answer.source, remote("beta"));
    assert_eq!(answer.source.to_string(), "llm:beta");
    // One call and max_retries_per_model (2) retries.
    assert_eq!(server.requests_for("alpha"), 3);
    assert_eq!(server.requests_for("beta"), 1);
    server.assert_requests_were_well_formed();
}

#[tokio::test]
async fn a_model_that_does_not_know_the_request_is_skipped_without_retrying() {
    let server = FakeLlm::start([
        ("alpha", vec![status(404, "no endpoints found for alpha")]),
        ("beta", vec![answer(VALID, 1, 1)]),
    ])
    .await;
    let brain = server.brain(&["alpha", "beta"]);

    let answer = brain.decide(pricing_request()).await.expect("a decision");

    assert_eq!(answer.source, remote("beta"));
    assert_eq!(server.requests_for("alpha"), 1);
    server.assert_requests_were_well_formed();
}

#[tokio::test]
async fn a_call_that_times_out_is_retried_on_the_same_model() {
    let slow = Reply::Slow { delay: Duration::from_secs(3), then: Box::new(answer(VALID, 1, 1)) };
    let server = FakeLlm::start([("alpha", vec![slow, answer(VALID, 7, 3)])]).await;
    let mut config = server.config(&["alpha"]);
    config.request_timeout = Duration::from_millis(300);
    let brain = RemoteBrain::new(config).expect("a valid configuration");

    let answer = brain.decide(pricing_request()).await.expect("a decision");

    assert_eq!(server.requests_for("alpha"), 2);
    // The timed-out call never answered, so only the second one counts.
    assert_eq!(answer.usage, usage("alpha", 7, 3));
    server.assert_requests_were_well_formed();
}

#[tokio::test]
async fn a_model_slower_than_the_deadline_is_cut_off_before_it_and_no_other_model_is_asked() {
    let slow = Reply::Slow { delay: Duration::from_secs(20), then: Box::new(answer(VALID, 1, 1)) };
    let server = FakeLlm::start([("alpha", vec![slow]), ("beta", vec![answer(VALID, 7, 3)])]).await;
    let brain = server.brain(&["alpha", "beta"]);
    let mut request = pricing_request();
    request.deadline = Some(tokio::time::Instant::now() + Duration::from_millis(900));

    let started = Instant::now();
    let error = brain.decide(request).await.expect_err("out of time");
    println!("cut off after {} ms (deadline 900 ms, model 20 s)", started.elapsed().as_millis());

    let BrainError::OutOfTime { attempts, usage: None } = &error else {
        panic!("expected OutOfTime without usage, got {error:?}");
    };
    assert!(attempts.len() == 1 && attempts[0].starts_with("alpha: "), "{attempts:?}");
    assert!(started.elapsed() < Duration::from_secs(10), "the deadline, not the model, ends the decision");
    assert_eq!(server.requests_for("beta"), 0);
}

#[tokio::test]
async fn with_too_little_time_left_no_model_is_asked() {
    let server = FakeLlm::start([("alpha", vec![answer(VALID, 7, 3)])]).await;
    let brain = server.brain(&["alpha"]);
    let mut request = pricing_request();
    request.deadline = Some(tokio::time::Instant::now() + Duration::from_millis(100));

    let error = brain.decide(request).await.expect_err("out of time");

    assert!(matches!(error, BrainError::OutOfTime { .. }), "{error:?}");
    assert_eq!(server.requests_for("alpha"), 0);
}

#[tokio::test]
async fn an_answer_that_is_not_json_is_repaired_and_both_calls_are_counted() {
    let server =
        FakeLlm::start([("alpha", vec![answer("Sure! I would charge 11.50.", 100, 20), answer(VALID, 130, 25)])]).await;
    let brain = server.brain(&["alpha", "beta"]);

    let answer = brain.decide(pricing_request()).await.expect("a decision");

    assert_eq!(answer.decision["price"], json!(11.5));
    assert_eq!(answer.source, remote("alpha"));
    assert_eq!(answer.usage, usage("alpha", 230, 45));
    let bodies = server.bodies_for("alpha");
    assert_eq!(bodies.len(), 2);
    let repair = &bodies[1]["messages"];
    assert_eq!(repair[2]["role"], "assistant");
    assert_eq!(repair[2]["content"], "Sure! I would charge 11.50.");
    assert!(last_message(&bodies[1]).contains("not valid JSON"));
    assert_eq!(server.requests_for("beta"), 0);
    server.assert_requests_were_well_formed();
}

#[tokio::test]
async fn an_answer_that_breaks_the_shape_is_repaired_with_every_problem_listed() {
    let server = FakeLlm::start([("alpha", vec![answer(r#"{"price": -3}"#, 50, 5), answer(VALID, 60, 6)])]).await;
    let brain = server.brain(&["alpha"]);

    let answer = brain.decide(pricing_request()).await.expect("a decision");

    assert_eq!(answer.usage, usage("alpha", 110, 11));
    let correction = last_message(&server.bodies_for("alpha")[1]);
    assert!(correction.contains("price: expected a number ≥ 0.01, got -3"), "{correction}");
    assert!(correction.contains("reason: missing"), "{correction}");
    server.assert_requests_were_well_formed();
}

#[tokio::test]
async fn answers_that_stay_invalid_on_every_model_fail_listing_every_model() {
    let server =
        FakeLlm::start([("alpha", vec![answer("no idea", 10, 1)]), ("beta", vec![answer("[1, 2, 3]", 20, 2)])]).await;
    let brain = server.brain(&["alpha", "beta"]);

    let error = brain.decide(pricing_request()).await.expect_err("no model can answer");

    let BrainError::AllModelsFailed { attempts, usage } = &error else {
        panic!("expected AllModelsFailed, got {error:?}");
    };
    assert_eq!(attempts.len(), 2, "{attempts:?}");
    assert!(attempts[0].starts_with("alpha: "), "{attempts:?}");
    assert!(attempts[1].starts_with("beta: "), "{attempts:?}");
    assert!(attempts[1].contains("expected a JSON object, got an array"));
    // Each model: one call and one repair call, all of them paid for.
    assert_eq!(server.requests_for("alpha"), 2);
    assert_eq!(server.requests_for("beta"), 2);
    assert_eq!(usage, &self::usage("beta", 60, 6));
    assert_eq!(error.usage(), usage.as_ref());
    server.assert_requests_were_well_formed();
}

#[tokio::test]
async fn usage_adds_up_over_failed_models_repairs_and_the_answer() {
    let server = FakeLlm::start([
        ("alpha", vec![answer("nope", 11, 1), answer("still nope", 13, 2)]),
        ("beta", vec![answer("{}", 17, 3), answer(VALID, 19, 4)]),
    ])
    .await;
    let brain = server.brain(&["alpha", "beta", "gamma"]);

    let answer = brain.decide(pricing_request()).await.expect("a decision");

    assert_eq!(answer.source, remote("beta"));
    assert_eq!(answer.usage, usage("beta", 11 + 13 + 17 + 19, 1 + 2 + 3 + 4));
    assert_eq!(answer.usage.expect("usage").total_tokens(), 70);
    assert_eq!(server.requests_for("gamma"), 0);
    server.assert_requests_were_well_formed();
}

#[tokio::test]
async fn out_of_credits_stops_at_once_and_the_next_model_is_never_asked() {
    let server = FakeLlm::start([
        ("alpha", vec![status(402, "Insufficient credits. Add more using https://openrouter.ai/credits")]),
        ("beta", vec![answer(VALID, 1, 1)]),
    ])
    .await;
    let brain = server.brain(&["alpha", "beta"]);

    let error = brain.decide(pricing_request()).await.expect_err("no credits");

    assert!(matches!(&error, BrainError::OutOfCredits { model, usage: None, .. } if model == "alpha"), "{error:?}");
    assert!(error.to_string().contains("out of credits"), "{error}");
    assert_eq!(server.requests_for("alpha"), 1);
    assert_eq!(server.requests_for("beta"), 0);
    server.assert_requests_were_well_formed();
}

#[tokio::test]
async fn a_refused_key_stops_at_once_and_the_error_never_shows_the_key() {
    let server = FakeLlm::start([
        ("alpha", vec![status(401, &format!("Incorrect API key provided: {KEY}"))]),
        ("beta", vec![answer(VALID, 1, 1)]),
    ])
    .await;
    let brain = server.brain(&["alpha", "beta"]);

    let error = brain.decide(pricing_request()).await.expect_err("key refused");

    assert!(matches!(&error, BrainError::Unauthorized { status: 401, .. }), "{error:?}");
    assert!(!error.to_string().contains(KEY), "{error}");
    assert!(!format!("{error:?}").contains(KEY), "{error:?}");
    assert_eq!(server.requests_for("alpha"), 1);
    assert_eq!(server.requests_for("beta"), 0);
    server.assert_requests_were_well_formed();
}

#[tokio::test]
async fn the_remote_brain_refuses_a_broken_proposal_before_calling_any_model() {
    let server = FakeLlm::start([("alpha", vec![answer(VALID, 1, 1)])]).await;
    let brain = server.brain(&["alpha"]);
    let mut request = pricing_request();
    request.proposal = json!({"price": "cheap"});

    let error = brain.decide(request).await.expect_err("an agent bug");

    assert!(matches!(error, BrainError::InvalidProposal { .. }), "{error:?}");
    assert_eq!(server.requests_for("alpha"), 0);
}

#[tokio::test]
async fn the_remote_brain_describes_itself_without_its_key() {
    let server = FakeLlm::start([]).await;
    let brain = server.brain(&["alpha", "beta"]);

    let info = brain.describe();

    assert_eq!(info.backend, "remote");
    assert_eq!(info.models, ["alpha", "beta"]);
    assert_eq!(info.base_url.as_deref(), Some(server.base_url.as_str()));
    let shown = format!("{} {brain:?}", serde_json::to_string(&info).expect("json"));
    assert!(!shown.contains(KEY), "{shown}");
}

#[test]
fn a_remote_brain_needs_a_usable_configuration() {
    let mut bad_url = RemoteBrainConfig::new(KEY);
    bad_url.base_url = "openrouter.ai".to_string();
    let mut no_models = RemoteBrainConfig::new(KEY);
    no_models.models = vec![" ".to_string()];
    let bad_key = RemoteBrainConfig::new("sk-abc\ndef");

    for config in [bad_url, no_models, bad_key] {
        let error = RemoteBrain::new(config).expect_err("misconfigured");
        assert!(matches!(error, BrainError::Configuration(_)), "{error:?}");
    }
}

// ---------------------------------------------------------------------------------------
// Configuration from the environment.
// ---------------------------------------------------------------------------------------

fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let pairs: HashMap<String, String> =
        pairs.iter().map(|(name, value)| (name.to_string(), value.to_string())).collect();
    move |name| pairs.get(name).cloned()
}

#[test]
fn without_a_key_the_environment_means_offline() {
    assert_eq!(RemoteBrainConfig::from_env(env(&[])), Ok(None));
    assert_eq!(RemoteBrainConfig::from_env(env(&[("LLM_API_KEY", " "), ("LLM_MODELS", "x")])), Ok(None));
}

#[test]
fn the_environment_sets_key_base_url_and_models() {
    let config = RemoteBrainConfig::from_env(env(&[
        ("LLM_API_KEY", KEY),
        ("LLM_BASE_URL", "http://127.0.0.1:11434/v1/"),
        ("LLM_MODELS", "llama3, qwen2.5 ,,"),
    ]))
    .expect("valid")
    .expect("a key");

    assert_eq!(config.api_key, KEY);
    assert_eq!(config.base_url, "http://127.0.0.1:11434/v1");
    assert_eq!(config.models, ["llama3", "qwen2.5"]);
    assert!(!format!("{config:?}").contains(KEY));
}

#[test]
fn the_environment_defaults_to_openrouter_and_accepts_its_key_name() {
    let config = RemoteBrainConfig::from_env(env(&[("OPENROUTER_API_KEY", KEY)])).expect("valid").expect("a key");

    assert_eq!(config.base_url, "https://openrouter.ai/api/v1");
    assert_eq!(config.models, ["anthropic/claude-3-opus", "openai/gpt-4o-mini", "meta-llama/llama-3.1-8b-instruct"]);
    assert_eq!(config.request_timeout, Duration::from_secs(30));
    assert_eq!(config.max_retries_per_model, 2);
}

#[test]
fn bad_environment_values_are_errors_naming_the_variable() {
    let cases = [
        (vec![("LLM_API_KEY", KEY), ("LLM_BASE_URL", "ftp://example.com")], "LLM_BASE_URL"),
        (vec![("LLM_API_KEY", KEY), ("LLM_BASE_URL", "not a url")], "LLM_BASE_URL"),
        (vec![("LLM_API_KEY", KEY), ("LLM_MODELS", " , ")], "LLM_MODELS"),
        (vec![("OPENROUTER_API_KEY", "sk-with space")], "OPENROUTER_API_KEY"),
    ];
    for (pairs, variable) in cases {
        let error = RemoteBrainConfig::from_env(env(&pairs)).expect_err("a bad value");
        assert!(error.contains(variable), "{error}");
        assert!(!error.contains(KEY), "{error}");
    }
}

// ---------------------------------------------------------------------------------------
// The offline brain and the shape.
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn the_offline_brain_returns_the_proposal_unchanged() {
    let brain = OfflineBrain::new();
    let request = pricing_request();
    let proposal = request.proposal.clone();

    let first = brain.decide(request.clone()).await.expect("a decision");
    let second = brain.decide(request).await.expect("a decision");

    assert_eq!(first.decision, proposal);
    assert_eq!(first.source, DecisionSource::Offline);
    assert_eq!(first.usage, None);
    assert_eq!(first, second);
    assert_eq!(brain.describe().backend, "offline");
}

#[tokio::test]
async fn the_offline_brain_refuses_a_proposal_that_breaks_its_shape() {
    let mut request = pricing_request();
    request.proposal = json!({"price": 0, "reason": 12});

    let error = OfflineBrain::new().decide(request).await.expect_err("an agent bug");

    assert_eq!(
        error,
        BrainError::InvalidProposal {
            agent: "pricing".to_string(),
            problems: vec![
                "price: expected a number ≥ 0.01, got 0".to_string(),
                "reason: expected a string of at most 500 characters, got 12".to_string(),
            ],
        }
    );
}

#[test]
fn the_shape_check_reports_every_problem() {
    let shape = ExpectedShape::object()
        .number("price", Some(0.01), None)
        .number("share", Some(0.0), Some(1.0))
        .string("reason", 10)
        .bool("approve")
        .string_array("tags")
        .object_field("details");
    let value = json!({
        "price": -3,
        "share": 1.5,
        "reason": "far too long for ten",
        "approve": "yes",
        "tags": ["ok", 7],
        "extra": "ignored"
    });

    let problems = shape.check(&value).expect_err("six problems");

    assert_eq!(
        problems,
        [
            "price: expected a number ≥ 0.01, got -3",
            "share: expected a number ≥ 0 and ≤ 1, got 1.5",
            "reason: expected a string of at most 10 characters, got 20 characters",
            "approve: expected true or false, got \"yes\"",
            "tags: expected an array of strings, got 7 at index 1",
            "details: missing, expected a JSON object",
        ]
    );
    assert_eq!(shape.check(&json!([])), Err(vec!["expected a JSON object, got an array".to_string()]));
    let fine = json!({"price": 1, "share": 0, "reason": "ok", "approve": false,
                      "tags": [], "details": {"a": 1}});
    assert_eq!(shape.check(&fine), Ok(()));
}

#[test]
fn the_shape_describes_itself_for_the_prompt() {
    assert_eq!(price_shape().describe(), r#"{"price": a number ≥ 0.01, "reason": a string of at most 500 characters}"#);
}

#[test]
fn decision_sources_serialise_and_display() {
    assert_eq!(serde_json::to_value(DecisionSource::Offline).expect("json"), json!("offline"));
    assert_eq!(
        serde_json::to_value(remote("openai/gpt-4o-mini")).expect("json"),
        json!({"remote": "openai/gpt-4o-mini"})
    );
    let parsed: DecisionSource = serde_json::from_value(json!({"remote": "x/y"})).expect("a source");
    assert_eq!(parsed, remote("x/y"));
    assert_eq!(DecisionSource::Offline.to_string(), "offline");
    assert_eq!(remote("openai/gpt-4o-mini").to_string(), "llm:openai/gpt-4o-mini");
}
