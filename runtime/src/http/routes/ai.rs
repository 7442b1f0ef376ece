//! `/api/ai/*`: a business's agents asked directly. Each answer is the agent's own,
//! with its `source` (`offline` for the agents' built-in rules, or the model that
//! answered).

use axum::extract::State;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::products::{amount, text};
use super::{BusinessBody, ask_agent, owned_business};
use crate::http::ApiState;
use crate::http::auth::CurrentUser;
use crate::http::error::{ApiError, Fields};
use crate::http::extract::{Json, Query};

/// What `generate-content` can write, each the `content` agent's action of that name.
const CONTENT_KINDS: [&str; 4] = ["product_description", "social_posts", "blog_post", "calendar"];
/// The experiences recommendations draw their lessons from, when the query names none.
const DEFAULT_ACTION_TYPE: &str = "autopilot_cycle";
/// How many lessons and opportunities recommendations show.
const TOP: usize = 3;

pub(super) fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(analyze_market))
        .routes(routes!(generate_content))
        .routes(routes!(optimize_pricing))
        .routes(routes!(recommendations))
}

/// The strategist agent's ranking of the market's niches.
///
/// The answer is the agent's own: its ranked `opportunities`, its `choice` and its
/// `source` (`offline` for the built-in rules, or the model that answered).
#[utoipa::path(
    post,
    path = "/api/ai/analyze-market",
    tag = "ai",
    request_body = BusinessBody,
    responses(
        (status = 200, description = "The strategist's answer.", body = Object),
        (status = 404, description = "`not_found`: no such business, or not the caller's."),
        (status = 429, description = "`rate_limited`: the business's agents are throttled; see `Retry-After`.",
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
        (status = 503, description = "`unavailable`: an agent is restarting or stopped."),
    )
)]
async fn analyze_market(
    State(state): State<ApiState>,
    caller: CurrentUser,
    Json(request): Json<BusinessBody>,
) -> Result<Json<Value>, ApiError> {
    let tenant = owned_business(&state, &caller, request.business_id).await?;
    Ok(Json(ask_agent(&state, tenant.id, "strategist", "rank_niches", json!({})).await?))
}

/// `POST /api/ai/generate-content`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct GenerateContent {
    /// The business the content is for.
    business_id: i64,
    /// `product_description`, `social_posts`, `blog_post` or `calendar`.
    #[schema(example = "product_description")]
    kind: String,
    /// What the content is about.
    brief: Brief,
}

/// What the content is about.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Brief {
    /// The product, 1 to 200 characters.
    #[schema(example = "Sunrise mug", min_length = 1, max_length = 200)]
    product: String,
    /// Its niche, 1 to 100 characters.
    #[schema(example = "kitchen", min_length = 1, max_length = 100)]
    niche: String,
    /// Its price as text, 1 to 30 characters.
    #[schema(example = "19.99", min_length = 1, max_length = 30)]
    price: String,
    /// At most 20 keywords of 1 to 50 characters.
    #[serde(default)]
    keywords: Vec<String>,
}

/// Content the `content` agent wrote.
#[derive(Debug, Serialize, ToSchema)]
struct GeneratedContent {
    /// The kind asked for.
    kind: String,
    /// The agent's answer, as it answered.
    content: Value,
    /// `offline` for the built-in rules, or the model that answered.
    source: Value,
}

/// Asks the content agent to write a product description, social posts, a blog post or
/// a content calendar.
#[utoipa::path(
    post,
    path = "/api/ai/generate-content",
    tag = "ai",
    request_body = GenerateContent,
    responses(
        (status = 200, description = "The content.", body = GeneratedContent),
        (status = 404, description = "`not_found`: no such business, or not the caller's."),
        (status = 429, description = "`rate_limited`: the business's agents are throttled; see `Retry-After`.",
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
        (status = 503, description = "`unavailable`: an agent is restarting or stopped."),
    )
)]
async fn generate_content(
    State(state): State<ApiState>,
    caller: CurrentUser,
    Json(request): Json<GenerateContent>,
) -> Result<Json<GeneratedContent>, ApiError> {
    let tenant = owned_business(&state, &caller, request.business_id).await?;
    let mut problems = Fields::new();
    if !CONTENT_KINDS.contains(&request.kind.as_str()) {
        problems.insert("kind".into(), format!("must be one of {}", CONTENT_KINDS.join(", ")));
    }
    let brief = &request.brief;
    for (field, value, max) in
        [("brief.product", &brief.product, 200), ("brief.niche", &brief.niche, 100), ("brief.price", &brief.price, 30)]
    {
        if let Err(problem) = text(value, max, true) {
            problems.insert(field.into(), problem);
        }
    }
    if brief.keywords.len() > 20 || brief.keywords.iter().any(|keyword| text(keyword, 50, true).is_err()) {
        problems.insert("brief.keywords".into(), "must be at most 20 keywords of 1 to 50 characters".into());
    }
    if !problems.is_empty() {
        return Err(ApiError::Validation(problems));
    }
    let answer = ask_agent(&state, tenant.id, "content", &request.kind, json!({ "brief": brief })).await?;
    let source = answer["source"].clone();
    Ok(Json(GeneratedContent { kind: request.kind, content: answer, source }))
}

/// `POST /api/ai/optimize-pricing`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct OptimizePricing {
    /// The business asking.
    business_id: i64,
    /// What one unit costs: 0 or more, whole cents.
    #[schema(example = "4.50", pattern = r"^[0-9]+(\.[0-9]{1,2})?$")]
    unit_cost: Decimal,
    /// The price to start from, such as the market's: above 0.
    #[schema(example = "21.00", pattern = r"^[0-9]+(\.[0-9]{1,2})?$")]
    reference_price: Decimal,
    /// The price charged now: above 0.
    #[serde(default)]
    #[schema(pattern = r"^[0-9]+(\.[0-9]{1,2})?$")]
    current_price: Option<Decimal>,
}

/// Asks the pricing agent for a price.
///
/// The answer is the agent's own quote, with its `source`.
#[utoipa::path(
    post,
    path = "/api/ai/optimize-pricing",
    tag = "ai",
    request_body = OptimizePricing,
    responses(
        (status = 200, description = "The pricing agent's quote.", body = Object),
        (status = 404, description = "`not_found`: no such business, or not the caller's."),
        (status = 429, description = "`rate_limited`: the business's agents are throttled; see `Retry-After`.",
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
        (status = 503, description = "`unavailable`: an agent is restarting or stopped."),
    )
)]
async fn optimize_pricing(
    State(state): State<ApiState>,
    caller: CurrentUser,
    Json(request): Json<OptimizePricing>,
) -> Result<Json<Value>, ApiError> {
    let tenant = owned_business(&state, &caller, request.business_id).await?;
    let mut problems = Fields::new();
    let mut money = |field: &str, value: Decimal, positive: bool| {
        let checked = if value < Decimal::ZERO || (positive && value == Decimal::ZERO) {
            Err(if positive { "must be greater than 0" } else { "must not be negative" }.to_owned())
        } else {
            amount(value)
        };
        checked.map_err(|problem| problems.insert(field.to_owned(), problem)).ok()
    };
    let unit_cost = money("unit_cost", request.unit_cost, false);
    let reference_price = money("reference_price", request.reference_price, true);
    let current_price = request.current_price.map(|price| money("current_price", price, true));
    if !problems.is_empty() {
        return Err(ApiError::Validation(problems));
    }
    let mut input = json!({ "unit_cost": unit_cost, "reference_price": reference_price });
    if let Some(Some(price)) = current_price {
        input["current_price"] = json!(price);
    }
    Ok(Json(ask_agent(&state, tenant.id, "pricing", "quote", input).await?))
}

/// `?business_id=&action_type=`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct RecommendationsQuery {
    /// The business asking.
    business_id: i64,
    /// The experiences to learn from, 1 to 50 characters (default `autopilot_cycle`).
    #[serde(default)]
    #[param(min_length = 1, max_length = 50)]
    action_type: Option<String>,
}

/// The lessons the memory agent recalls and the strategist's top three niches.
///
/// The answer has `lessons` (the latest experiences of the action type, the autopilot's
/// cycles by default), `opportunities` (the top three), `choice` and `source`.
#[utoipa::path(
    get,
    path = "/api/ai/recommendations",
    tag = "ai",
    params(RecommendationsQuery),
    responses(
        (status = 200, description = "The recommendations.", body = Object),
        (status = 422, description = "`validation`: `action_type` is not 1 to 50 characters."),
        (status = 404, description = "`not_found`: no such business, or not the caller's."),
        (status = 429, description = "`rate_limited`: the business's agents are throttled; see `Retry-After`.",
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
        (status = 503, description = "`unavailable`: an agent is restarting or stopped."),
    )
)]
async fn recommendations(
    State(state): State<ApiState>,
    caller: CurrentUser,
    Query(query): Query<RecommendationsQuery>,
) -> Result<Json<Value>, ApiError> {
    let tenant = owned_business(&state, &caller, query.business_id).await?;
    let action_type = query.action_type.as_deref().unwrap_or(DEFAULT_ACTION_TYPE);
    if text(action_type, 50, true).is_err() {
        return Err(ApiError::invalid("action_type", "must be 1 to 50 characters"));
    }
    let recalled =
        ask_agent(&state, tenant.id, "memory", "recall", json!({ "action_type": action_type, "limit": TOP })).await?;
    let ranked = ask_agent(&state, tenant.id, "strategist", "rank_niches", json!({})).await?;
    let opportunities: Vec<Value> =
        ranked["opportunities"].as_array().map(|all| all.iter().take(TOP).cloned().collect()).unwrap_or_default();
    Ok(Json(json!({
        "lessons": recalled["experiences"],
        "opportunities": opportunities,
        "choice": ranked["choice"],
        "source": ranked["source"],
    })))
}
