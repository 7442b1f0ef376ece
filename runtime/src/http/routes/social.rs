//! `/api/social/*`: a business's social posts, their calendar and their engagement.

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use boardroom_memory::{NewSocialPost, SocialPost};
use chrono::{DateTime, TimeDelta, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{BusinessBody, BusinessQuery, owned_business};
use crate::http::ApiState;
use crate::http::auth::CurrentUser;
use crate::http::error::ApiError;
use crate::http::extract::{Json, Query};

/// Each network and the longest post it takes, in characters.
const NETWORKS: [(&str, usize); 5] =
    [("x", 280), ("linkedin", 3000), ("reddit", 40_000), ("tiktok", 2200), ("youtube", 5000)];
/// How far in the past a scheduled time may be (clock skew between client and server).
const SCHEDULE_SLACK: TimeDelta = TimeDelta::minutes(5);
/// Most posts the calendar and the analysis read.
const RECENT_POSTS: i64 = 200;

pub(super) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/api/social/post", post(create))
        .route("/api/social/calendar", get(calendar))
        .route("/api/social/analyze", post(analyze))
}

/// `POST /api/social/post`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreatePost {
    business_id: i64,
    platform: String,
    content: String,
    #[serde(default)]
    scheduled_time: Option<DateTime<Utc>>,
}

async fn create(
    State(state): State<ApiState>,
    caller: CurrentUser,
    Json(request): Json<CreatePost>,
) -> Result<Response, ApiError> {
    let tenant = owned_business(&state, &caller, request.business_id).await?;
    let platform = request.platform.trim().to_ascii_lowercase();
    let Some((_, limit)) = NETWORKS.iter().find(|(name, _)| *name == platform) else {
        let names: Vec<&str> = NETWORKS.iter().map(|(name, _)| *name).collect();
        return Err(ApiError::invalid("platform", format!("must be one of {}", names.join(", "))));
    };
    let content = request.content.trim();
    if content.is_empty() {
        return Err(ApiError::invalid("content", "must not be empty"));
    }
    if content.chars().count() > *limit {
        return Err(ApiError::invalid("content", format!("must be at most {limit} characters on {platform}")));
    }
    if let Some(time) = request.scheduled_time
        && time < Utc::now() - SCHEDULE_SLACK
    {
        return Err(ApiError::invalid("scheduled_time", "must not be in the past"));
    }
    let post = state
        .app
        .store
        .create_social_post(NewSocialPost {
            tenant_id: tenant.id,
            platform,
            content: content.to_owned(),
            scheduled_time: request.scheduled_time,
            status: "scheduled".into(),
            external_id: None,
        })
        .await?;
    tracing::info!(tenant = %tenant.id, post = post.id, "social post scheduled");
    Ok((StatusCode::CREATED, Json(post)).into_response())
}

/// `GET /api/social/calendar?business_id=`: the latest posts in time order (scheduled
/// time, or posting time; unscheduled drafts last).
async fn calendar(
    State(state): State<ApiState>,
    caller: CurrentUser,
    Query(query): Query<BusinessQuery>,
) -> Result<Json<Value>, ApiError> {
    let tenant = owned_business(&state, &caller, query.business_id).await?;
    let mut posts = state.app.store.social_posts(tenant.id, RECENT_POSTS).await?;
    let when = |post: &SocialPost| post.scheduled_time.or(post.posted_at);
    posts.sort_by(|a, b| match (when(a), when(b)) {
        (Some(x), Some(y)) => x.cmp(&y).then(a.id.cmp(&b.id)),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.id.cmp(&b.id),
    });
    Ok(Json(json!({ "items": posts })))
}

/// `POST /api/social/analyze`: engagement per network over the latest posts, and the
/// best post so far.
async fn analyze(
    State(state): State<ApiState>,
    caller: CurrentUser,
    Json(request): Json<BusinessBody>,
) -> Result<Json<Value>, ApiError> {
    let tenant = owned_business(&state, &caller, request.business_id).await?;
    let posts = state.app.store.social_posts(tenant.id, RECENT_POSTS).await?;
    let mut per_network: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
    for post in &posts {
        let entry = per_network.entry(post.platform.as_str()).or_default();
        entry.0 += 1;
        entry.1 += post.engagement_score;
    }
    let networks: Vec<Value> = per_network
        .iter()
        .map(|(network, (count, total))| {
            json!({ "platform": network, "posts": count, "engagement": total, "mean_engagement": *total as f64 / *count as f64 })
        })
        .collect();
    let best_network = per_network
        .iter()
        .max_by(|a, b| (a.1.1 as f64 / a.1.0 as f64).total_cmp(&(b.1.1 as f64 / b.1.0 as f64)))
        .map(|(network, _)| *network);
    let top_post = posts.iter().filter(|post| post.engagement_score > 0).max_by_key(|post| post.engagement_score);
    Ok(Json(json!({
        "posts": posts.len(),
        "networks": networks,
        "best_network": best_network,
        "top_post": top_post,
    })))
}
