//! A server-sent events client for the live view's stream, read as a browser's
//! `EventSource` reads it: the parsing is `eventsource-stream`'s, which follows the
//! WHATWG algorithm (fields, blank-line dispatch, comments, the sticky last event ID).

use std::pin::Pin;
use std::time::Duration;

use eventsource_stream::{Event, EventStreamError, Eventsource};
use futures::{Stream, StreamExt};
use serde_json::Value;

use crate::{ApiResponse, Caller};

/// How long a test waits for the next message before it fails.
const PATIENCE: Duration = Duration::from_secs(20);

/// One message of the stream.
#[derive(Debug, Clone, PartialEq)]
pub struct SseMessage {
    /// `event:`: `swarm`, `activity` or `skipped`.
    pub event: String,
    /// The last event ID, as `EventSource.lastEventId` reports it: a persisted event's
    /// sequence number; a message without `id:` (activity) keeps the one before it, so
    /// a reconnection resumes after the last persisted event. `None` before any.
    pub id: Option<i64>,
    /// `data:`, parsed as JSON.
    pub data: Value,
}

type Messages = Pin<Box<dyn Stream<Item = Result<Event, EventStreamError<reqwest::Error>>> + Send>>;

/// An open stream.
pub struct EventStream {
    messages: Messages,
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
        Ok(EventStream { messages: Box::pin(response.bytes_stream().eventsource()) })
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
        match tokio::time::timeout(patience, self.messages.next()).await {
            Err(_) => None,
            Ok(Some(Ok(event))) => Some(Some(SseMessage {
                id: event.id.parse().ok(),
                data: serde_json::from_str(&event.data).unwrap_or(Value::Null),
                event: event.event,
            })),
            Ok(Some(Err(_)) | None) => Some(None),
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
