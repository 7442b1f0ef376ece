//! `/api/social/*`: a business's social posts, their calendar and their engagement.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use boardroom_memory::{NewSocialPost, SocialPost};
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{
    AdditionalProperties, KnownFormat, ObjectBuilder, OneOfBuilder, Schema, SchemaFormat, SchemaType, Type,
};
use utoipa::{PartialSchema, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{BusinessBody, BusinessQuery, Items, calendar_time, owned_business};
use crate::http::ApiState;
use crate::http::auth::CurrentUser;
use crate::http::error::ApiError;
use crate::http::extract::{Json, Query};
use crate::http::names::WHITESPACE_CLASS;
use crate::markets::MarketMode;

/// Each network and the longest post it takes, in characters.
const NETWORKS: [(&str, usize); 5] =
    [("x", 280), ("linkedin", 3000), ("reddit", 40_000), ("tiktok", 2200), ("youtube", 5000)];
/// How far in the past a scheduled time may be (clock skew between client and server).
const SCHEDULE_SLACK: TimeDelta = TimeDelta::minutes(5);
/// Most posts the calendar and the analysis read.
const RECENT_POSTS: i64 = 200;

pub(super) fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new().routes(routes!(create)).routes(routes!(calendar)).routes(routes!(analyze))
}

/// `POST /api/social/post`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreatePost {
    /// The business posting.
    business_id: i64,
    /// The network.
    platform: String,
    /// The post, within the network's length.
    content: String,
    /// When to publish (RFC 3339); not in the past.
    #[serde(default)]
    scheduled_time: Option<DateTime<Utc>>,
}

/// The schema says what the handler checks: one object per network, each with its own
/// longest `content` (`oneOf`, told apart by `platform`).
impl PartialSchema for CreatePost {
    fn schema() -> RefOr<Schema> {
        let variants = NETWORKS.iter().map(|(network, limit)| {
            let content = ObjectBuilder::new()
                .schema_type(Type::String)
                .description(Some(format!(
                    "The post: 1 to {limit} characters, not all white space (it is kept trimmed)."
                )))
                .min_length(Some(1))
                .max_length(Some(*limit))
                .pattern(Some(format!("[^{WHITESPACE_CLASS}]")));
            let scheduled_time = ObjectBuilder::new()
                .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
                .description(Some(
                    "When to publish (RFC 3339, in the years 0001 to 9999); not in the past (5 minutes of clock \
                     skew allowed: a rule of the clock, which a schema cannot state; 422 otherwise).",
                ));
            ObjectBuilder::new()
                .title(Some(format!("A post on {network}")))
                .property(
                    "business_id",
                    ObjectBuilder::new()
                        .schema_type(Type::Integer)
                        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
                        .description(Some("The business posting.")),
                )
                .required("business_id")
                .property("platform", ObjectBuilder::new().schema_type(Type::String).enum_values(Some([*network])))
                .required("platform")
                .property("content", content)
                .required("content")
                .property("scheduled_time", scheduled_time)
                .additional_properties(Some(AdditionalProperties::FreeForm(false)))
        });
        let mut one_of = OneOfBuilder::new().description(Some(
            "`POST /api/social/post`: the network (`x`, `linkedin`, `reddit`, `tiktok` or `youtube`) and a post \
             within its length (280, 3000, 40000, 2200 and 5000 characters).",
        ));
        for variant in variants {
            one_of = one_of.item(variant);
        }
        one_of.into()
    }
}

impl ToSchema for CreatePost {}

/// Schedules a social post.
#[utoipa::path(
    post,
    path = "/api/social/post",
    tag = "social",
    request_body = CreatePost,
    responses(
        (status = 201, description = "The scheduled post.", body = SocialPost),
        (status = 404, description = "`not_found`: no such business, or not the caller's."),
    )
)]
async fn create(
    State(state): State<ApiState>,
    caller: CurrentUser,
    Json(request): Json<CreatePost>,
) -> Result<Response, ApiError> {
    let tenant = owned_business(&state, &caller, request.business_id).await?;
    let platform = request.platform.as_str();
    let Some((_, limit)) = NETWORKS.iter().find(|(name, _)| *name == platform) else {
        let names: Vec<&str> = NETWORKS.iter().map(|(name, _)| *name).collect();
        return Err(ApiError::invalid("platform", format!("must be one of {}", names.join(", "))));
    };
    // The length as sent, as the document's `maxLength` counts it.
    if request.content.chars().count() > *limit {
        return Err(ApiError::invalid("content", format!("must be at most {limit} characters on {platform}")));
    }
    let content = request.content.trim();
    if content.is_empty() {
        return Err(ApiError::invalid("content", "must not be empty"));
    }
    if let Some(time) = request.scheduled_time {
        calendar_time("scheduled_time", time)?;
        if time < Utc::now() - SCHEDULE_SLACK {
            return Err(ApiError::invalid("scheduled_time", "must not be in the past"));
        }
    }
    let post = state
        .app
        .store
        .create_social_post(NewSocialPost {
            tenant_id: tenant.id,
            platform: platform.to_owned(),
            content: content.to_owned(),
            media_urls: Vec::new(),
            scheduled_time: request.scheduled_time,
            status: "scheduled".into(),
            external_id: None,
        })
        .await?;
    tracing::info!(tenant = %tenant.id, post = post.id, "social post scheduled");
    Ok((StatusCode::CREATED, Json(post)).into_response())
}

/// The latest 200 posts in time order (scheduled or posting time; unscheduled last).
#[utoipa::path(
    get,
    path = "/api/social/calendar",
    tag = "social",
    params(BusinessQuery),
    responses(
        (status = 200, description = "The posts.", body = Items<SocialPost>),
        (status = 404, description = "`not_found`: no such business, or not the caller's."),
    )
)]
async fn calendar(
    State(state): State<ApiState>,
    caller: CurrentUser,
    Query(query): Query<BusinessQuery>,
) -> Result<Json<Items<SocialPost>>, ApiError> {
    let tenant = owned_business(&state, &caller, query.business_id).await?;
    let mut posts = state.app.store.social_posts(tenant.id, RECENT_POSTS).await?;
    let when = |post: &SocialPost| post.scheduled_time.or(post.posted_at);
    posts.sort_by(|a, b| match (when(a), when(b)) {
        (Some(x), Some(y)) => x.cmp(&y).then(a.id.cmp(&b.id)),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.id.cmp(&b.id),
    });
    Ok(Json(Items { items: posts }))
}

/// Engagement on one network.
#[derive(Debug, Serialize, ToSchema)]
struct NetworkEngagement {
    /// The network.
    platform: String,
    /// Posts on it.
    posts: i64,
    /// Their engagement added up.
    engagement: i64,
    /// Engagement per post.
    mean_engagement: f64,
}

/// Engagement over the latest posts.
#[derive(Debug, Serialize, ToSchema)]
struct SocialAnalysis {
    /// Posts analysed (the latest 200 at most).
    posts: usize,
    /// Per network.
    networks: Vec<NetworkEngagement>,
    /// The network with the best engagement per post; `null` without posts.
    best_network: Option<String>,
    /// The most engaging post so far; `null` when none has engagement.
    top_post: Option<SocialPost>,
    /// `live` when the business is live (its posts go to its connected accounts, and
    /// their engagement is read back from the networks), `simulated` on the sandbox or
    /// in a dry run.
    #[schema(example = "live")]
    figures: &'static str,
}

/// Engagement per network over the latest posts, and the best post so far.
#[utoipa::path(
    post,
    path = "/api/social/analyze",
    tag = "social",
    request_body = BusinessBody,
    responses(
        (status = 200, description = "The analysis.", body = SocialAnalysis),
        (status = 404, description = "`not_found`: no such business, or not the caller's."),
    )
)]
async fn analyze(
    State(state): State<ApiState>,
    caller: CurrentUser,
    Json(request): Json<BusinessBody>,
) -> Result<Json<SocialAnalysis>, ApiError> {
    let tenant = owned_business(&state, &caller, request.business_id).await?;
    let posts = state.app.store.social_posts(tenant.id, RECENT_POSTS).await?;
    let mut per_network: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
    for post in &posts {
        let entry = per_network.entry(post.platform.as_str()).or_default();
        entry.0 += 1;
        entry.1 += post.engagement_score;
    }
    let networks: Vec<NetworkEngagement> = per_network
        .iter()
        .map(|(network, (count, total))| NetworkEngagement {
            platform: (*network).to_owned(),
            posts: *count,
            engagement: *total,
            mean_engagement: *total as f64 / *count as f64,
        })
        .collect();
    let best_network = per_network
        .iter()
        .max_by(|a, b| (a.1.1 as f64 / a.1.0 as f64).total_cmp(&(b.1.1 as f64 / b.1.0 as f64)))
        .map(|(network, _)| *network);
    let best_network = best_network.map(str::to_owned);
    let top_post =
        posts.iter().filter(|post| post.engagement_score > 0).max_by_key(|post| post.engagement_score).cloned();
    let figures = if MarketMode::of(&tenant) == MarketMode::Live { "live" } else { "simulated" };
    Ok(Json(SocialAnalysis { posts: posts.len(), networks, best_network, top_post, figures }))
}
