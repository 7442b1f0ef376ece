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
//! Every 15 seconds of silence a `: keep-alive` comment keeps proxies from closing the
//! connection. Streams end when the server shuts down (so graceful shutdown is not held
//! up by viewers) or when the database cannot be read (the browser reconnects and
//! resumes).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use boardroom_memory::{EventSubscription, SwarmEvent, TenantId};
use boardroom_supervisor::Activity;
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
    let stream = tenant_stream(&state.app.live, &state, tenant, after);
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(KEEP_ALIVE).text("keep-alive")).into_response())
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

/// What the merged stream yields.
type SseItem = Result<Event, Infallible>;

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
    let persisted = stream::unfold(subscription, next_persisted);
    let activity = stream::unfold(activity, next_activity);
    let closing = live.closed();
    stream::select(persisted, activity).take_until(closing).map(move |item| {
        // Keeps the connection counted, and the swarm pinned, for as long as the stream is alive.
        let _ = (&connection, &pin);
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

fn persisted_event(event: &Arc<SwarmEvent>) -> Event {
    let data = serde_json::to_string(&**event).unwrap_or_else(|_| "{}".into());
    Event::default().event("swarm").id(event.seq.to_string()).data(data)
}

async fn next_activity(
    mut receiver: broadcast::Receiver<Activity>,
) -> Option<(SseItem, broadcast::Receiver<Activity>)> {
    let event = match receiver.recv().await {
        Ok(activity) => {
            let data = serde_json::to_string(&activity).unwrap_or_else(|_| "{}".into());
            Event::default().event("activity").data(data)
        }
        // Too slow for the activity buffer: say so and carry on from the newest signal.
        Err(broadcast::error::RecvError::Lagged(missed)) => {
            Event::default().event("skipped").data(format!("{{\"missed\":{missed}}}"))
        }
        Err(broadcast::error::RecvError::Closed) => return None,
    };
    Some((Ok(event), receiver))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use boardroom_supervisor::AgentState;

    /// The event as it goes on the wire (axum's `Event` shows its bytes when debugged).
    fn wire(event: &Event) -> String {
        format!("{event:?}")
    }

    #[tokio::test]
    async fn a_viewer_too_slow_for_the_activity_buffer_skips_ahead_and_is_told_how_far() {
        let (sender, receiver) = broadcast::channel(2);
        for _ in 0..5 {
            let _ = sender.send(Activity::Agent { agent: "seo", state: AgentState::Idle });
        }
        let (skipped, receiver) = next_activity(receiver).await.expect("a marker");
        let skipped = wire(&skipped.expect("infallible"));
        assert!(skipped.contains("event: skipped") && skipped.contains(r#"{\"missed\":3}"#), "{skipped}");
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
