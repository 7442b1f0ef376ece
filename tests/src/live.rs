//! A server-sent events client for the live view's stream, as a browser's
//! `EventSource` would read it: `event:`, `id:` and `data:` fields, blocks split by a
//! blank line, `:` comments (keep-alives) skipped.

use std::time::Duration;

use serde_json::Value;

use crate::{ApiResponse, Caller};

/// How long a test waits for the next message before it fails.
const PATIENCE: Duration = Duration::from_secs(20);

/// One message of the stream.
#[derive(Debug, Clone, PartialEq)]
pub struct SseMessage {
    /// `event:`: `swarm`, `activity` or `skipped`.
    pub event: String,
    /// `id:`: the sequence number of a persisted event; `None` for activity.
    pub id: Option<i64>,
    /// `data:`, parsed as JSON.
    pub data: Value,
}

/// An open stream.
pub struct EventStream {
    response: reqwest::Response,
    buffer: String,
}

impl Caller {
    /// Opens `GET path` as an event stream, sending `Last-Event-ID` when given; the
    /// error response when it is refused.
    pub async fn open_stream(&self, path: &str, last_event_id: Option<i64>) -> Result<EventStream, ApiResponse> {
        let mut request = self.client.get(format!("{}{path}", self.address)).header("Accept", "text/event-stream");
        if let Some(cookie) = &self.cookie {
            request = request.header(reqwest::header::COOKIE, format!("boardroom_session={cookie}"));
        }
        if let Some(token) = &self.bearer {
            request = request.bearer_auth(token);
        }
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id.to_string());
        }
        let response = request.send().await.expect("stream request sent");
        if response.status().as_u16() != 200 {
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let bytes = response.bytes().await.unwrap_or_default();
            return Err(ApiResponse {
                status,
                headers,
                body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
                raw: bytes.to_vec(),
            });
        }
        Ok(EventStream { response, buffer: String::new() })
    }
}

impl EventStream {
    /// The next message, `None` when the server ended the stream. Panics when nothing
    /// arrives for 20 seconds.
    pub async fn next(&mut self) -> Option<SseMessage> {
        self.next_within(PATIENCE).await.unwrap_or_else(|| panic!("no message on the stream for {PATIENCE:?}"))
    }

    /// The next message within `patience`: `None` when it did not come in time,
    /// `Some(None)` when the stream ended.
    pub async fn next_within(&mut self, patience: Duration) -> Option<Option<SseMessage>> {
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                if let Some(message) = parse_block(&block) {
                    return Some(Some(message));
                }
            }
            match tokio::time::timeout_at(deadline, self.response.chunk()).await {
                Err(_) => return None,
                Ok(Ok(Some(bytes))) => self.buffer.push_str(&String::from_utf8_lossy(&bytes)),
                Ok(Ok(None) | Err(_)) => return Some(None),
            }
        }
    }

    /// The next persisted (`swarm`) event, skipping activity. Panics if the stream ends.
    pub async fn next_swarm_event(&mut self) -> SseMessage {
        loop {
            let message = self.next().await.expect("the stream ended");
            if message.event == "swarm" {
                return message;
            }
        }
    }
}

fn parse_block(block: &str) -> Option<SseMessage> {
    let mut event = "message".to_owned();
    let mut id = None;
    let mut data = Vec::new();
    for line in block.lines() {
        if line.starts_with(':') || line.is_empty() {
            continue;
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "event" => event = value.to_owned(),
            "id" => id = value.parse().ok(),
            "data" => data.push(value),
            _ => {}
        }
    }
    if data.is_empty() {
        return None;
    }
    let data = serde_json::from_str(&data.join("\n")).unwrap_or(Value::Null);
    Some(SseMessage { event, id, data })
}
