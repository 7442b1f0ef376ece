//! `/api/ai/*`: a business's agents asked directly. Each answer is the agent's own,
//! with its `source` (`offline` for the agents' built-in rules, or the model that
//! answered).

use axum::extract::State;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{BusinessBody, ask_agent, owned_business};
use crate::http::ApiState;
use crate::http::auth::CurrentUser;
use crate::http::error::{ApiError, Fields};
use crate::http::extract::{Json, Query};
use crate::http::fields::{ActionType, Checked, Niche, NonNegativeAmount, PositiveAmount, PriceText, Subject, Tag};

/// What `generate-content` can write, each the `content` agent's action of that name.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
enum ContentKind {
    ProductDescription,
    SocialPosts,
    BlogPost,
    Calendar,
}

impl ContentKind {
    fn as_str(self) -> &'static str {
        match self {
            ContentKind::ProductDescription => "product_description",
            ContentKind::SocialPosts => "social_posts",
            ContentKind::BlogPost => "blog_post",
            ContentKind::Calendar => "calendar",
        }
    }
}

/// Most keywords a brief has.
const MAX_KEYWORDS: usize = 20;
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
    /// What to write.
    kind: ContentKind,
    /// What the content is about.
    brief: Brief,
}

/// What the content is about.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Brief {
    /// The product.
    #[schema(value_type = Subject)]
    product: Checked<Subject>,
    /// Its niche.
    #[schema(value_type = Niche)]
    niche: Checked<Niche>,
    /// Its price, as the content should show it.
    #[schema(value_type = PriceText)]
    price: Checked<PriceText>,
    /// At most 20 keywords.
    #[serde(default)]
    #[schema(value_type = Vec<Tag>, max_items = 20)]
    keywords: Vec<Checked<Tag>>,
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
    let Brief { product, niche, price, keywords } = request.brief;
    let mut problems = Fields::new();
    let product = product.check(&mut problems, "brief.product");
    let niche = niche.check(&mut problems, "brief.niche");
    let price = price.check(&mut problems, "brief.price");
    let keywords = if keywords.len() > MAX_KEYWORDS {
        problems.insert("brief.keywords".into(), format!("must be at most {MAX_KEYWORDS} keywords"));
        None
    } else {
        let keywords: Vec<Option<Tag>> = keywords
            .into_iter()
            .enumerate()
            .map(|(index, keyword)| keyword.check(&mut problems, &format!("brief.keywords[{index}]")))
            .collect();
        keywords.into_iter().collect::<Option<Vec<Tag>>>()
    };
    let (Some(product), Some(niche), Some(price), Some(keywords)) = (product, niche, price, keywords) else {
        return Err(ApiError::Validation(problems));
    };
    let brief = json!({ "product": product, "niche": niche, "price": price, "keywords": keywords });
    let kind = request.kind.as_str();
    let answer = ask_agent(&state, tenant.id, "content", kind, json!({ "brief": brief })).await?;
    let source = answer["source"].clone();
    Ok(Json(GeneratedContent { kind: kind.to_owned(), content: answer, source }))
}

/// `POST /api/ai/optimize-pricing`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct OptimizePricing {
    /// The business asking.
    business_id: i64,
    /// What one unit costs.
    #[schema(value_type = NonNegativeAmount)]
    unit_cost: Checked<NonNegativeAmount>,
    /// The price to start from, such as the market's.
    #[schema(value_type = PositiveAmount)]
    reference_price: Checked<PositiveAmount>,
    /// The price charged now.
    #[serde(default)]
    #[schema(value_type = Option<PositiveAmount>)]
    current_price: Option<Checked<PositiveAmount>>,
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
    let unit_cost = request.unit_cost.check(&mut problems, "unit_cost");
    let reference_price = request.reference_price.check(&mut problems, "reference_price");
    let current_price = Checked::check_optional(request.current_price, &mut problems, "current_price");
    let (Some(unit_cost), Some(reference_price), Some(current_price)) = (unit_cost, reference_price, current_price)
    else {
        return Err(ApiError::Validation(problems));
    };
    let mut input = json!({ "unit_cost": unit_cost.value(), "reference_price": reference_price.value() });
    if let Some(price) = current_price {
        input["current_price"] = json!(price.value());
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
    /// The experiences to learn from (default `autopilot_cycle`).
    #[serde(default)]
    #[param(inline, value_type = Option<ActionType>)]
    action_type: Option<ActionType>,
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
    let action_type = query.action_type.as_ref().map_or(DEFAULT_ACTION_TYPE, ActionType::as_str);
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
