//! `/api/ai/*`: a business's agents asked directly. Each answer is the agent's own,
//! with its `source` (`offline` for the agents' built-in rules, or the model that
//! answered).

use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

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

pub(super) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/api/ai/analyze-market", post(analyze_market))
        .route("/api/ai/generate-content", post(generate_content))
        .route("/api/ai/optimize-pricing", post(optimize_pricing))
        .route("/api/ai/recommendations", get(recommendations))
}

/// `POST /api/ai/analyze-market`: the strategist's ranking of the market's niches.
async fn analyze_market(
    State(state): State<ApiState>,
    caller: CurrentUser,
    Json(request): Json<BusinessBody>,
) -> Result<Json<Value>, ApiError> {
    let tenant = owned_business(&state, &caller, request.business_id).await?;
    Ok(Json(ask_agent(&state, tenant.id, "strategist", "rank_niches", json!({})).await?))
}

/// `POST /api/ai/generate-content`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GenerateContent {
    business_id: i64,
    kind: String,
    brief: Brief,
}

/// What the content is about.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Brief {
    product: String,
    niche: String,
    price: String,
    #[serde(default)]
    keywords: Vec<String>,
}

async fn generate_content(
    State(state): State<ApiState>,
    caller: CurrentUser,
    Json(request): Json<GenerateContent>,
) -> Result<Json<Value>, ApiError> {
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
    Ok(Json(json!({ "kind": request.kind, "content": answer, "source": answer["source"] })))
}

/// `POST /api/ai/optimize-pricing`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OptimizePricing {
    business_id: i64,
    unit_cost: Decimal,
    reference_price: Decimal,
    #[serde(default)]
    current_price: Option<Decimal>,
}

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
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RecommendationsQuery {
    business_id: i64,
    #[serde(default)]
    action_type: Option<String>,
}

/// `GET /api/ai/recommendations`: the latest lessons the memory agent recalls for an
/// action type (the autopilot's cycles by default) and the strategist's top niches.
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
