//! The brain fits inside the agent call it serves: with a model slower than the call's
//! deadline, the agent still answers in time, by its own rules, and says so with a
//! `brain.fallback` event; with a quick model, the model decides.
//!
//! The model is a local OpenAI-compatible endpoint written here on a bare TCP listener
//! (nothing reaches the internet), answering every chat completion after a set delay.

use std::sync::Arc;
use std::time::{Duration, Instant};

use boardroom_adapters::SandboxMarket;
use boardroom_agents::brain::{RemoteBrain, RemoteBrainConfig};
use boardroom_agents::{AgentRegistry, Task};
use boardroom_memory::testing::{TestSqlite, create_tenant, fresh_sqlite};
use boardroom_memory::{EventLog, EventLogConfig, SharedStore, TenantId};
use boardroom_supervisor::{SupervisorConfig, SwarmRoot, SwarmServices, TenantHandle};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// How long an agent call may take: the deadline the brain must fit in.
const CALL_TIMEOUT: Duration = Duration::from_secs(3);
/// The slow model answers long after that (and within the brain's own 30 s time-out).
const SLOW: Duration = Duration::from_secs(20);

/// Starts an OpenAI-compatible endpoint that answers every chat completion after
/// `delay` with a niche choice; returns its base URL.
async fn model_endpoint(delay: Duration) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind a local port");
    let address = listener.local_addr().expect("a local address");
    tokio::spawn(async move {
        while let Ok((connection, _)) = listener.accept().await {
            tokio::spawn(answer_after(connection, delay));
        }
    });
    format!("http://{address}/v1")
}

/// Reads one HTTP request (headers and a `Content-Length` body), waits, answers.
async fn answer_after(mut connection: TcpStream, delay: Duration) {
    let mut request = Vec::new();
    let mut buffer = [0_u8; 8192];
    loop {
        let Ok(read) = connection.read(&mut buffer).await else { return };
        if read == 0 {
            return;
        }
        request.extend_from_slice(&buffer[..read]);
        let text = String::from_utf8_lossy(&request);
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|line| {
                    let (name, value) = line.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length").then(|| value.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if request.len() >= end + 4 + length {
                break;
            }
        }
    }
    tokio::time::sleep(delay).await;
    let model = String::from_utf8_lossy(&request)
        .split("\"model\":\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or("unknown")
        .to_owned();
    let content = json!({ "niche": "a niche the rules did not rank", "reason": "the model's own idea" }).to_string();
    let completion = json!({
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": model,
        "choices": [{ "index": 0, "message": { "role": "assistant", "content": content }, "finish_reason": "stop" }],
        "usage": { "prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120 }
    })
    .to_string();
    let response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{completion}",
        completion.len()
    );
    let _ = connection.write_all(response.as_bytes()).await;
    let _ = connection.shutdown().await;
}

struct World {
    _database: TestSqlite,
    events: EventLog,
    root: SwarmRoot,
    tenant: TenantId,
}

/// A swarm whose brain is a chain of three models at `base_url`, with the brain's
/// default 30 s per call, and agent calls that time out after [`CALL_TIMEOUT`].
async fn world(base_url: String) -> World {
    let database = fresh_sqlite().await;
    let store: SharedStore = Arc::new(database.store.clone());
    let events = EventLog::start(store.clone(), EventLogConfig::default());
    let mut config = RemoteBrainConfig::new("sk-test-key");
    config.base_url = base_url;
    config.models = vec!["first".into(), "second".into(), "third".into()];
    let services = SwarmServices {
        store: store.clone(),
        events: events.clone(),
        brain: Arc::new(RemoteBrain::new(config).expect("a valid brain configuration")),
        market: Arc::new(SandboxMarket::new(7)),
        redis: None,
        markets: None,
        media: None,
    };
    let supervisor = SupervisorConfig { call_timeout: CALL_TIMEOUT, ..SupervisorConfig::default() };
    let root = SwarmRoot::start_with(services, AgentRegistry::standard(), supervisor).await.expect("root starts");
    let tenant = create_tenant(store.as_ref(), "Acme", "coachty").await;
    World { _database: database, events, root, tenant }
}

impl World {
    async fn swarm(&self) -> TenantHandle {
        self.root.activate(self.tenant).await.expect("swarm activates")
    }

    /// The kinds of the tenant's events so far, once the log has written them.
    async fn event_kinds(&self) -> Vec<String> {
        self.events.flush().await.expect("events written");
        let events = self.events.store().events_after(self.tenant, 0, 1000).await.expect("event log readable");
        events.into_iter().map(|event| event.kind).collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_model_slower_than_the_call_deadline_the_agent_answers_in_time_by_its_own_rules() {
    let world = world(model_endpoint(SLOW).await).await;
    let swarm = world.swarm().await;

    let started = Instant::now();
    let answer = swarm.call("strategist", Task::new("rank_niches", json!({}))).await;
    let took = started.elapsed();
    println!("slow model: the strategist answered in {} ms (call deadline {CALL_TIMEOUT:?})", took.as_millis());

    let answer = answer.expect("the agent answers before its caller's deadline");
    assert_eq!(answer["source"], "offline", "{answer}");
    let kinds = world.event_kinds().await;
    assert!(kinds.iter().any(|kind| kind == "brain.fallback"), "{kinds:?}");
    world.root.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_quick_model_the_model_decides_within_the_call_deadline() {
    let world = world(model_endpoint(Duration::from_millis(50)).await).await;
    let swarm = world.swarm().await;

    let answer = swarm.call("strategist", Task::new("rank_niches", json!({}))).await.expect("the agent answers");

    assert_eq!(answer["source"], "llm:first", "{answer}");
    let kinds = world.event_kinds().await;
    assert!(!kinds.iter().any(|kind| kind == "brain.fallback"), "{kinds:?}");
    world.root.shutdown().await;
}
