//! `GET /api/live/{business_id}/events`: a tenant's swarm as server-sent events.
//!
//! Two sources are merged into one stream:
//!
//! - **Persisted events** (`event: swarm`, `id: <seq>`), from the event log's
//!   subscription: first those after the resume point read from the database, then live
//!   ones, gap-free. The resume point is the `Last-Event-ID` header a reconnecting
//!   `EventSource` sends on its own, else `?after=`, else the last
//!   [`RECENT_EVENTS`] events (a fresh page wants some history, not the whole log).
//! - **Live activity** (`event: activity`, no id), the supervisor's unpersisted signal of
//!   messages and agent states. Having no id, it never moves the browser's resume point.
//!
//! ## Slow clients
//! The stream is pulled by the server only as fast as the socket takes bytes (beyond
//! hyper's bounded write buffer and the kernel's socket buffer), so a slow client never
//! makes events pile up in its connection:
//! - persisted events it has not taken stay in the database; its subscription's bounded
//!   broadcast buffer overflows and it reads the missing ones from the database when it
//!   is ready (no gap, no duplicate, bounded memory);
//! - activity it was too slow for is skipped, and it gets an `event: skipped` marker
//!   saying how many signals it missed.
//!
//! Each persisted event is encoded once, however many viewers its tenant has: the first
//! stream to send it writes its SSE frame into the event the log shares with every
//! subscriber ([`LoggedEvent::encoded`]), and the others send those same bytes.
//!
//! Every 15 seconds of silence a `: keep-alive` comment keeps proxies from closing the
//! connection. Streams end when the server shuts down (so graceful shutdown is not held
//! up by viewers) or when the database cannot be read (the browser reconnects and
//! resumes).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use boardroom_memory::{EventSubscription, LoggedEvent, SwarmEvent, TenantId};
use boardroom_supervisor::Activity;
use bytes::{BufMut, Bytes, BytesMut};
use futures::{Stream, StreamExt, stream};
use serde::Deserialize;
use tokio::sync::broadcast;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::{IntoParams, PartialSchema, ToSchema};

use super::LiveStreams;
use crate::http::ApiState;
use crate::http::auth::CurrentUser;
use crate::http::error::ApiError;
use crate::http::extract::{Path, Query};
use crate::http::routes::owned_business;

/// How many past events a viewer that names no resume point gets first.
pub(crate) const RECENT_EVENTS: i64 = 100;
/// Silence after which a keep-alive comment is sent.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// `?after=`: resume after this sequence number (`Last-Event-ID` wins when both are sent).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct StreamQuery {
    /// Resume after this sequence number (0 or more, at most the log's last); without it
    /// (and without `Last-Event-ID`) the stream starts with the last 100 events.
    #[serde(default)]
    #[param(minimum = 0)]
    after: Option<i64>,
}

/// One event of the stream, as an SSE client reads it: its `event` name, its `data`
/// (one line of JSON) and, for persisted events, its `id`.
pub(super) struct StreamEvent;

impl PartialSchema for StreamEvent {
    fn schema() -> RefOr<Schema> {
        // An SSE client keeps the last `id` it saw, so events without one of their own
        // are read with the previous one's: `id` is allowed on every kind.
        let kind = |name: &str, description: &str, data: &str, id_required: bool| {
            let mut event = ObjectBuilder::new()
                .schema_type(Type::Object)
                .title(Some(format!("event: {name}")))
                .description(Some(description))
                .property("event", ObjectBuilder::new().schema_type(Type::String).enum_values(Some([name])))
                .required("event")
                .property(
                    "data",
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .content_media_type("application/json")
                        .description(Some(data)),
                )
                .required("data")
                .property(
                    "id",
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .pattern(Some("^[0-9]+$"))
                        .description(Some("A persisted event's sequence number.")),
                )
                .additional_properties(Some(AdditionalProperties::FreeForm(false)));
            if id_required {
                event = event.required("id");
            }
            event
        };
        OneOfBuilder::new()
            .description(Some(
                "One server-sent event: its `event` name, its `data` (one line of JSON) and, for persisted events, \
                 its `id`.",
            ))
            .item(kind(
                "swarm",
                "A persisted swarm event; `id` is its sequence number, which `Last-Event-ID` resumes from.",
                "The event: `{tenant_id, seq, occurred_at, actor, kind, summary, data, revenue_impact}` (money as a \
                 decimal string or `null`).",
                true,
            ))
            .item(kind(
                "activity",
                "Live activity, not persisted: a message between agents and adapters, or an agent restarting.",
                "`{\"type\": \"message\", from, to, action, phase}` (phase `sent`, `throttled`, `refused`, `started`, \
                 `finished` or `failed`) or `{\"type\": \"agent\", agent, state}` (state `restarting` or `idle`).",
                false,
            ))
            .item(kind(
                "skipped",
                "The viewer was too slow for live activity and missed some.",
                "`{\"missed\": n}`: how many activity signals were skipped.",
                false,
            ))
            .into()
    }
}

impl ToSchema for StreamEvent {}

/// The business's swarm as server-sent events: `event: swarm` (persisted, `id` = its
/// sequence number, so a reconnecting browser's `Last-Event-ID` resumes without gap or
/// duplicate), `event: activity` (live messages between agents and adapters, no id),
/// and `event: skipped` when a slow viewer missed live activity.
#[utoipa::path(
    get,
    path = "/api/live/{id}/events",
    tag = "live",
    params(
        ("id" = i64, Path, description = "The business's id."),
        ("Last-Event-ID" = Option<u64>, Header, minimum = 0,
            description = "The last sequence number received (at most the log's last)."),
        StreamQuery,
    ),
    responses(
        (status = 200, description = "The stream: each event as the schema says.", content_type = "text/event-stream",
            body = StreamEvent),
        (status = 404, description = "`not_found`: no such business, or not the caller's."),
        (status = 422, description = "`validation`: `Last-Event-ID` is not a sequence number, or it or `after` is \
            past the log's last event (a rule of the log's state, which a schema cannot state)."),
    )
)]
pub(super) async fn events(
    State(state): State<ApiState>,
    caller: CurrentUser,
    Path(business_id): Path<i64>,
    Query(query): Query<StreamQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let tenant = owned_business(&state, &caller, business_id).await?.id;
    // Events are stored before they are sent, so no stream has sent an id past the
    // log's last: a larger resume point is refused (the subscription counts on from it,
    // and `i64::MAX + 1` must never be asked).
    let last = state.app.store.last_event_seq(tenant).await?;
    // Both are checked, even when `Last-Event-ID` wins: below the document's `minimum`,
    // `after` is a bad query value whatever else is sent.
    if query.after.is_some_and(|after| after < 0) {
        return Err(ApiError::invalid_query("after", "must not be negative"));
    }
    let after = match (resume_point(&headers)?, query.after) {
        (Some(after), _) => within_log("Last-Event-ID", after, last)?,
        (None, Some(after)) => within_log("after", after, last)?,
        (None, None) => (last - RECENT_EVENTS).max(0),
    };
    let stream = with_keep_alive(tenant_stream(&state.app.live, &state, tenant, after));
    let mut response = Response::new(Body::from_stream(stream));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(response)
}

/// The `Last-Event-ID` a reconnecting `EventSource` sends: the last persisted event
/// it received.
fn resume_point(headers: &HeaderMap) -> Result<Option<i64>, ApiError> {
    let Some(value) = headers.get("last-event-id") else { return Ok(None) };
    let text = value.to_str().unwrap_or_default().trim();
    if text.is_empty() {
        return Ok(None);
    }
    match text.parse::<i64>() {
        Ok(seq) if seq >= 0 => Ok(Some(seq)),
        _ => Err(ApiError::invalid("Last-Event-ID", "must be the id of an event this stream sent")),
    }
}

/// A resume point no later than `last`, the log's last sequence number.
fn within_log(field: &str, after: i64, last: i64) -> Result<i64, ApiError> {
    if after > last {
        return Err(ApiError::invalid(field, format!("must be the id of an event this stream sent (at most {last})")));
    }
    Ok(after)
}

/// What the merged stream yields: whole SSE frames.
type SseItem = Result<Bytes, Infallible>;

/// The comment sent after [`KEEP_ALIVE`] of silence.
const KEEP_ALIVE_FRAME: &[u8] = b": keep-alive\n\n";

/// One SSE frame: `event`, then `id` if it has one, then `data` (one line: JSON, whose
/// strings escape their line breaks), then the blank line that ends it.
fn frame(event: &str, id: Option<i64>, data: &[u8]) -> Bytes {
    let mut frame = BytesMut::with_capacity(data.len() + event.len() + 40);
    frame.put_slice(b"event: ");
    frame.put_slice(event.as_bytes());
    if let Some(id) = id {
        frame.put_slice(b"\nid: ");
        frame.put_slice(id.to_string().as_bytes());
    }
    frame.put_slice(b"\ndata: ");
    frame.put_slice(data);
    frame.put_slice(b"\n\n");
    frame.freeze()
}

/// `stream` with a keep-alive comment wherever it is silent for [`KEEP_ALIVE`].
fn with_keep_alive(
    stream: impl Stream<Item = SseItem> + Send + 'static,
) -> impl Stream<Item = SseItem> + Send + 'static {
    stream::unfold(Box::pin(stream), |mut stream| async move {
        match tokio::time::timeout(KEEP_ALIVE, stream.next()).await {
            Ok(Some(item)) => Some((item, stream)),
            Ok(None) => None,
            Err(_silence) => Some((Ok(Bytes::from_static(KEEP_ALIVE_FRAME)), stream)),
        }
    })
}

/// The merged stream of one tenant from `after` on, ending at shutdown. Counted in
/// [`LiveStreams::connected`] while it lives.
fn tenant_stream(
    live: &LiveStreams,
    state: &ApiState,
    tenant: TenantId,
    after: i64,
) -> impl Stream<Item = SseItem> + Send + 'static {
    let connection = live.connect();
    // A watched swarm is not passivated for idleness while its viewer looks at it.
    let pin = state.app.swarms.get(tenant).map(|swarm| swarm.pin());
    let subscription = state.app.events.subscribe(tenant, after);
    let activity = state.app.swarms.watch_activity(tenant);
    // The swarm may run on another node: its events and activity come through Redis too.
    let (watching, relayed) = match &state.app.live_relay {
        Some(relay) => {
            let (watching, relayed) = relay.watch(tenant, after);
            (Some(watching), stream::unfold(relayed, next_relayed_activity).left_stream())
        }
        None => (None, stream::empty().right_stream()),
    };
    let persisted = stream::unfold(subscription, next_persisted);
    let activity = stream::select(stream::unfold(activity, next_activity), relayed);
    let closing = live.closed();
    stream::select(persisted, activity).take_until(closing).map(move |item| {
        // Keeps the connection counted, the swarm pinned and the tenant watched across
        // nodes for as long as the stream is alive.
        let _ = (&connection, &pin, &watching);
        item
    })
}

async fn next_persisted(mut subscription: EventSubscription) -> Option<(SseItem, EventSubscription)> {
    match subscription.next().await? {
        Ok(event) => Some((Ok(persisted_event(&event)), subscription)),
        Err(error) => {
            // Ending the stream makes the browser reconnect and resume from its last id.
            tracing::warn!(%error, "live stream could not read the event log; closing it");
            None
        }
    }
}

/// The event's frame, shared with every other stream that sends it.
fn persisted_event(event: &Arc<LoggedEvent>) -> Bytes {
    event.encoded(swarm_frame)
}

fn swarm_frame(event: &SwarmEvent) -> Bytes {
    let data = serde_json::to_vec(event).unwrap_or_else(|_| b"{}".to_vec());
    frame("swarm", Some(event.seq), &data)
}

async fn next_activity(
    mut receiver: broadcast::Receiver<Activity>,
) -> Option<(SseItem, broadcast::Receiver<Activity>)> {
    let event = match receiver.recv().await {
        Ok(activity) => {
            let data = serde_json::to_vec(&activity).unwrap_or_else(|_| b"{}".to_vec());
            frame("activity", None, &data)
        }
        // Too slow for the activity buffer: say so and carry on from the newest signal.
        Err(broadcast::error::RecvError::Lagged(missed)) => {
            frame("skipped", None, format!("{{\"missed\":{missed}}}").as_bytes())
        }
        Err(broadcast::error::RecvError::Closed) => return None,
    };
    Some((Ok(event), receiver))
}

/// Activity relayed from the node that runs the swarm: its JSON, framed as ours is.
async fn next_relayed_activity(
    mut receiver: broadcast::Receiver<Bytes>,
) -> Option<(SseItem, broadcast::Receiver<Bytes>)> {
    let event = match receiver.recv().await {
        Ok(data) => frame("activity", None, &data),
        Err(broadcast::error::RecvError::Lagged(missed)) => {
            frame("skipped", None, format!("{{\"missed\":{missed}}}").as_bytes())
        }
        Err(broadcast::error::RecvError::Closed) => return None,
    };
    Some((Ok(event), receiver))
}

#[cfg(test)]
mod tests {
    use super::*;
    use boardroom_supervisor::AgentState;

    #[test]
    fn a_persisted_event_is_one_frame_with_its_id_shared_by_every_stream() {
        let event = Arc::new(LoggedEvent::new(SwarmEvent {
            tenant_id: TenantId(3),
            seq: 41,
            occurred_at: chrono::DateTime::UNIX_EPOCH,
            actor: "ceo".into(),
            kind: "cycle.started".into(),
            summary: "line one\nline two".into(),
            data: serde_json::json!({"day": 2}),
            revenue_impact: None,
        }));
        let first = persisted_event(&event);
        let text = wire(&first);
        assert!(text.starts_with("event: swarm\nid: 41\ndata: {"), "{text}");
        assert!(text.ends_with("}\n\n") && text.matches('\n').count() == 4, "one data line: {text}");
        let data: serde_json::Value = serde_json::from_str(text["event: swarm\nid: 41\ndata: ".len()..].trim_end())
            .expect("the data line is the event's JSON");
        assert_eq!(data["summary"], "line one\nline two");
        assert_eq!(persisted_event(&event).as_ptr(), first.as_ptr(), "a second viewer sends the same bytes");
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_stream_sends_a_keep_alive_comment_and_carries_on() {
        let (sender, receiver) = tokio::sync::mpsc::unbounded_channel::<SseItem>();
        let mut stream = Box::pin(with_keep_alive(tokio_stream_of(receiver)));
        assert_eq!(
            stream.next().await.map(|item| wire(&item.expect("infallible"))).as_deref(),
            Some(": keep-alive\n\n")
        );
        sender.send(Ok(frame("activity", None, b"{}"))).expect("open");
        assert_eq!(
            stream.next().await.map(|item| wire(&item.expect("infallible"))).as_deref(),
            Some("event: activity\ndata: {}\n\n")
        );
        drop(sender);
        assert!(stream.next().await.is_none(), "the stream ends with its source");
    }

    fn tokio_stream_of(
        mut receiver: tokio::sync::mpsc::UnboundedReceiver<SseItem>,
    ) -> impl Stream<Item = SseItem> + Send {
        stream::poll_fn(move |context| receiver.poll_recv(context))
    }

    /// The frame as it goes on the wire.
    fn wire(frame: &Bytes) -> String {
        String::from_utf8_lossy(frame).into_owned()
    }

    #[tokio::test]
    async fn a_viewer_too_slow_for_the_activity_buffer_skips_ahead_and_is_told_how_far() {
        let (sender, receiver) = broadcast::channel(2);
        for _ in 0..5 {
            let _ = sender.send(Activity::Agent { agent: "seo", state: AgentState::Idle });
        }
        let (skipped, receiver) = next_activity(receiver).await.expect("a marker");
        let skipped = wire(&skipped.expect("infallible"));
        assert_eq!(skipped, "event: skipped\ndata: {\"missed\":3}\n\n");
        // Then it carries on with the newest signals it still has.
        let (next, _) = next_activity(receiver).await.expect("an activity");
        assert!(wire(&next.expect("infallible")).contains("event: activity"));
    }

    #[test]
    fn the_resume_point_is_the_last_event_id_when_one_is_sent() {
        let mut headers = HeaderMap::new();
        assert_eq!(resume_point(&headers).ok(), Some(None));
        headers.insert("last-event-id", HeaderValue::from_static(" 42 "));
        assert_eq!(resume_point(&headers).ok(), Some(Some(42)));
        headers.insert("last-event-id", HeaderValue::from_static("-1"));
        assert!(resume_point(&headers).is_err());
        headers.insert("last-event-id", HeaderValue::from_static("abc"));
        assert!(resume_point(&headers).is_err());
        headers.insert("last-event-id", HeaderValue::from_static("9223372036854775808"));
        assert!(resume_point(&headers).is_err(), "past i64");
    }

    #[test]
    fn a_resume_point_past_the_logs_end_is_refused_naming_the_field() {
        assert_eq!(within_log("after", 7, 7).ok(), Some(7));
        assert_eq!(within_log("after", 0, 0).ok(), Some(0));
        let refused = within_log("Last-Event-ID", i64::MAX, 7).expect_err("past the end");
        assert_eq!(refused.status().as_u16(), 422);
        assert!(
            matches!(&refused, ApiError::Validation(fields) if fields.contains_key("Last-Event-ID")),
            "{refused:?}"
        );
    }
}
