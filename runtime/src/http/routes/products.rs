//! `/api/products/*`: a business's products, and its agents' advice on one.
//!
//! Money is exact ([`Decimal`]) in and out; JSON numbers and decimal strings are both
//! accepted, answers carry strings (`"19.99"`) so no float ever rounds a price.
//! Deleting a product only marks it `deleted`: its sales and campaigns keep pointing
//! at it, and the list leaves it out.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use boardroom_memory::{NewProduct, Product, TenantId};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{BusinessPageQuery, BusinessQuery, Page, activate_owned, ask_agent, owned_business};
use crate::http::ApiState;
use crate::http::auth::CurrentUser;
use crate::http::error::{ApiError, Fields};
use crate::http::extract::{Json, Path, Query};
use crate::http::tiers::{self, Counted};

/// Longest title.
const MAX_TITLE_CHARS: usize = 200;
/// Longest description.
const MAX_DESCRIPTION_CHARS: usize = 5000;
/// Longest niche name.
const MAX_NICHE_CHARS: usize = 100;
/// Most tags, and the longest tag.
const MAX_TAGS: usize = 20;
const MAX_TAG_CHARS: usize = 50;
/// Highest price or cost accepted: a guard against a misplaced decimal point.
const MAX_AMOUNT: Decimal = Decimal::from_parts(1_000_000, 0, 0, false, 0);
/// Statuses a client may set; `deleted` is set by `DELETE`.
const SETTABLE_STATUSES: [&str; 3] = ["draft", "active", "archived"];
/// The status of a deleted product (not counted against the tier's limit).
pub(crate) const DELETED: &str = boardroom_memory::DELETED_PRODUCT_STATUS;

pub(super) fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(create))
        .routes(routes!(list))
        .routes(routes!(optimize))
        .routes(routes!(update, remove))
}

/// `POST /api/products/create`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateProduct {
    /// The business (tenant) the product is for.
    business_id: i64,
    /// 1 to 200 characters; no control, bidirectional-override or zero-width characters.
    #[schema(
        example = "Sunrise mug",
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F\u200B-\u200D\u202A-\u202E\u2060\u2066-\u2069\uFEFF]*$"
    )]
    title: String,
    /// At most 5000 characters.
    #[serde(default)]
    #[schema(max_length = 5000)]
    description: Option<String>,
    /// 1 to 100 characters.
    #[schema(example = "kitchen", min_length = 1, max_length = 100)]
    niche: String,
    /// Above 0, at most 1000000, whole cents.
    #[schema(example = "19.99", pattern = r"^[0-9]+(\.[0-9]{1,2})?$")]
    price: Decimal,
    /// 0 or more, whole cents.
    #[schema(example = "4.50", pattern = r"^[0-9]+(\.[0-9]{1,2})?$")]
    cost: Decimal,
    /// At most 20 tags of 1 to 50 characters.
    #[serde(default)]
    tags: Vec<String>,
}

/// Creates a product (as `draft`), within the tier's product limit.
#[utoipa::path(
    post,
    path = "/api/products/create",
    tag = "products",
    request_body = CreateProduct,
    responses(
        (status = 201, description = "The new product.", body = Product),
        (status = 402, description = "`tier_limit`: the tier's products per business are reached."),
        (status = 404, description = "`not_found`: no such business, or not the caller's."),
    )
)]
async fn create(
    State(state): State<ApiState>,
    caller: CurrentUser,
    Json(request): Json<CreateProduct>,
) -> Result<Response, ApiError> {
    let tenant = owned_business(&state, &caller, request.business_id).await?;
    let mut problems = Fields::new();
    let title = check(&mut problems, "title", crate::http::names::parse_name(&request.title, MAX_TITLE_CHARS));
    let description = check(
        &mut problems,
        "description",
        text(request.description.as_deref().unwrap_or(""), MAX_DESCRIPTION_CHARS, false),
    );
    let niche = check(&mut problems, "niche", text(&request.niche, MAX_NICHE_CHARS, true));
    let price = check(&mut problems, "price", price(request.price));
    let cost = check(&mut problems, "cost", cost(request.cost));
    let tags = check(&mut problems, "tags", tags(&request.tags));
    let (Some(title), Some(description), Some(niche), Some(price), Some(cost), Some(tags)) =
        (title, description, niche, price, cost, tags)
    else {
        return Err(ApiError::Validation(problems));
    };
    let tier = caller.user.tier;
    let product = state
        .app
        .store
        .create_product_within_limit(
            NewProduct {
                tenant_id: tenant.id,
                store_id: None,
                niche,
                title,
                description,
                tags,
                price,
                cost,
                currency: "USD".to_owned(),
                status: "draft".to_owned(),
                external_id: None,
            },
            tiers::count_limit(tier, Counted::Products),
        )
        .await
        .map_err(tiers::count_error(tier, Counted::Products))?;
    tracing::info!(tenant = %tenant.id, product = product.id, "product created");
    Ok((StatusCode::CREATED, Json(product)).into_response())
}

/// How many products the business has, deleted ones left out (what its tier counts;
/// the store's limited creation counts the same way).
pub(super) async fn live_products(state: &ApiState, tenant: TenantId) -> Result<usize, ApiError> {
    Ok(state.app.store.products(tenant).await?.iter().filter(|product| product.status != DELETED).count())
}

/// A business's products (deleted ones left out), one page at a time.
#[utoipa::path(
    get,
    path = "/api/products/list",
    tag = "products",
    params(BusinessPageQuery),
    responses(
        (status = 200, description = "One page of products.", body = Page<Product>),
        (status = 404, description = "`not_found`: no such business, or not the caller's."),
    )
)]
async fn list(
    State(state): State<ApiState>,
    caller: CurrentUser,
    Query(query): Query<BusinessPageQuery>,
) -> Result<Json<Page<Product>>, ApiError> {
    let tenant = owned_business(&state, &caller, query.business_id).await?;
    let products = state.app.store.products(tenant.id).await?;
    let live = products.into_iter().filter(|product| product.status != DELETED);
    Ok(Json(query.page(live, |product| product.id)?))
}

/// `PUT /api/products/{id}`: absent fields are kept.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct UpdateProduct {
    /// The business the product belongs to.
    business_id: i64,
    /// A new price: above 0, whole cents.
    #[serde(default)]
    #[schema(pattern = r"^[0-9]+(\.[0-9]{1,2})?$")]
    price: Option<Decimal>,
    /// `draft`, `active` or `archived`.
    #[serde(default)]
    #[schema(example = "active")]
    status: Option<String>,
}

/// Changes a product's price or status.
#[utoipa::path(
    put,
    path = "/api/products/{id}",
    tag = "products",
    params(("id" = i64, Path, description = "The product's id.")),
    request_body = UpdateProduct,
    responses(
        (status = 200, description = "The product as changed.", body = Product),
        (status = 404, description = "`not_found`: no such business or product, or not the caller's."),
    )
)]
async fn update(
    State(state): State<ApiState>,
    caller: CurrentUser,
    Path(id): Path<i64>,
    Json(request): Json<UpdateProduct>,
) -> Result<Json<Product>, ApiError> {
    let tenant = owned_business(&state, &caller, request.business_id).await?;
    let current = live_product(&state, tenant.id, id).await?;
    let mut problems = Fields::new();
    let new_price = request.price.and_then(|value| check(&mut problems, "price", price(value)));
    let new_status = request.status.as_deref().and_then(|value| {
        let status = value.trim().to_ascii_lowercase();
        let parsed = if SETTABLE_STATUSES.contains(&status.as_str()) {
            Ok(status)
        } else {
            Err(format!("must be one of {}", SETTABLE_STATUSES.join(", ")))
        };
        check(&mut problems, "status", parsed)
    });
    if !problems.is_empty() {
        return Err(ApiError::Validation(problems));
    }
    if let Some(price) = new_price {
        state.app.store.update_product_price(tenant.id, current.id, price).await?;
    }
    if let Some(status) = &new_status {
        state.app.store.set_product_status(tenant.id, current.id, status).await?;
    }
    tracing::info!(tenant = %tenant.id, product = id, "product updated");
    Ok(Json(live_product(&state, tenant.id, id).await?))
}

/// Deletes a product: marks it `deleted`, so its sales and campaigns keep pointing at it.
#[utoipa::path(
    delete,
    path = "/api/products/{id}",
    tag = "products",
    params(("id" = i64, Path, description = "The product's id."), BusinessQuery),
    responses(
        (status = 204, description = "Deleted."),
        (status = 404, description = "`not_found`: no such business or product, or not the caller's."),
    )
)]
async fn remove(
    State(state): State<ApiState>,
    caller: CurrentUser,
    Path(id): Path<i64>,
    Query(query): Query<BusinessQuery>,
) -> Result<StatusCode, ApiError> {
    let tenant = owned_business(&state, &caller, query.business_id).await?;
    let product = live_product(&state, tenant.id, id).await?;
    state.app.store.set_product_status(tenant.id, product.id, DELETED).await?;
    tracing::info!(tenant = %tenant.id, product = id, "product deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/products/optimize`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct OptimizeProduct {
    /// The business the product belongs to.
    business_id: i64,
    /// The product to advise on.
    product_id: i64,
}

/// The agents' advice on one product.
#[derive(Debug, serde::Serialize, ToSchema)]
struct ProductAdvice {
    /// The product advised on.
    product_id: i64,
    /// The price the pricing agent started from.
    #[schema(value_type = String, example = "19.99")]
    reference_price: Decimal,
    /// Where the reference came from: `market` (the niche's median) or `current_price`.
    reference: String,
    /// The `pricing` agent's quote, as it answered.
    pricing: Value,
    /// The `seo` agent's listing, as it answered.
    listing: Value,
}

/// Asks the business's agents for a price and a listing for one product.
///
/// The `pricing` agent quotes a price and the `seo` agent writes a listing. The pricing
/// reference is the market's median price for the product's niche when the market knows
/// the niche, else the product's own price.
#[utoipa::path(
    post,
    path = "/api/products/optimize",
    tag = "products",
    request_body = OptimizeProduct,
    responses(
        (status = 200, description = "The agents' advice.", body = ProductAdvice),
        (status = 404, description = "`not_found`: no such business or product, or not the caller's."),
        (status = 429, description = "`rate_limited`: the business's agents are throttled; see `Retry-After`.",
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
        (status = 503, description = "`unavailable`: an agent is restarting or stopped."),
    )
)]
async fn optimize(
    State(state): State<ApiState>,
    caller: CurrentUser,
    Json(request): Json<OptimizeProduct>,
) -> Result<Json<ProductAdvice>, ApiError> {
    let tenant = owned_business(&state, &caller, request.business_id).await?;
    let product = live_product(&state, tenant.id, request.product_id).await?;
    let market = activate_owned(&state, &tenant).await?.market_for_api(state.app.services.market.clone());
    let snapshot = market.market_snapshot(tenant.id).await.ok();
    let niche = snapshot.as_ref().and_then(|snapshot| snapshot.niche(&product.niche)).cloned();
    let reference_price = niche.as_ref().map_or(product.price, |niche| niche.reference_price);
    let pricing = ask_agent(
        &state,
        tenant.id,
        "pricing",
        "quote",
        json!({ "unit_cost": product.cost, "reference_price": reference_price, "current_price": product.price }),
    )
    .await?;
    let pitch = if product.description.is_empty() { &product.title } else { &product.description };
    let mut listing_input = json!({ "niche": product.niche, "product_name": product.title, "pitch": pitch });
    if let Some(niche) = &niche {
        listing_input["category"] = json!(niche.category);
        listing_input["demand"] = json!(niche.demand);
        listing_input["competition"] = json!(niche.competition);
    }
    let listing = ask_agent(&state, tenant.id, "seo", "optimize_listing", listing_input).await?;
    let reference = if niche.is_some() { "market" } else { "current_price" };
    Ok(Json(ProductAdvice {
        product_id: product.id,
        reference_price,
        reference: reference.to_owned(),
        pricing,
        listing,
    }))
}

/// One of the tenant's products that is not deleted; 404 otherwise.
async fn live_product(state: &ApiState, tenant: TenantId, id: i64) -> Result<Product, ApiError> {
    state
        .app
        .store
        .product(tenant, id)
        .await?
        .filter(|product| product.status != DELETED)
        .ok_or_else(|| ApiError::NotFound("product".into()))
}

/// Records a field's problem; the value when there is none.
fn check<T>(problems: &mut Fields, field: &str, parsed: Result<T, String>) -> Option<T> {
    parsed.map_err(|problem| problems.insert(field.to_owned(), problem)).ok()
}

/// Trimmed text of at most `max` characters, without control characters other than
/// line breaks; `required` text must not be empty.
pub(super) fn text(value: &str, max: usize, required: bool) -> Result<String, String> {
    let value = value.trim();
    if required && value.is_empty() {
        return Err("must not be empty".into());
    }
    if value.chars().count() > max {
        return Err(format!("must be at most {max} characters"));
    }
    if value.chars().any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t') {
        return Err("must not contain control characters".into());
    }
    Ok(value.to_owned())
}

/// A selling price: above zero, at most [`MAX_AMOUNT`], in whole cents.
fn price(value: Decimal) -> Result<Decimal, String> {
    if value <= Decimal::ZERO {
        return Err("must be greater than 0".into());
    }
    amount(value)
}

/// A unit cost: zero or more.
fn cost(value: Decimal) -> Result<Decimal, String> {
    if value < Decimal::ZERO {
        return Err("must not be negative".into());
    }
    amount(value)
}

/// Money of at most [`MAX_AMOUNT`] in whole cents, written with exactly 2 decimal
/// places (`29` becomes `29.00`).
pub(super) fn amount(value: Decimal) -> Result<Decimal, String> {
    if value > MAX_AMOUNT {
        return Err(format!("must be at most {MAX_AMOUNT}"));
    }
    if value.normalize().scale() > 2 {
        return Err("must be in whole cents (at most 2 decimal places)".into());
    }
    let mut cents = value;
    cents.rescale(2);
    Ok(cents)
}

fn tags(values: &[String]) -> Result<Vec<String>, String> {
    if values.len() > MAX_TAGS {
        return Err(format!("must be at most {MAX_TAGS} tags"));
    }
    values.iter().map(|tag| text(tag, MAX_TAG_CHARS, true).map_err(|problem| format!("each tag {problem}"))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(units: i64, scale: u32) -> Decimal {
        Decimal::new(units, scale)
    }

    #[test]
    fn prices_are_positive_whole_cents_and_costs_are_not_negative() {
        assert_eq!(price(dec(199, 1)).map(|price| price.to_string()).as_deref(), Ok("19.90"));
        assert!(price(Decimal::ZERO).is_err());
        assert!(price(dec(-1, 0)).is_err());
        assert!(price(dec(1001, 3)).is_err());
        assert!(price(dec(2_000_000, 0)).is_err());
        assert_eq!(cost(Decimal::ZERO), Ok(Decimal::ZERO));
        assert!(cost(dec(-1, 2)).is_err());
    }

    #[test]
    fn texts_are_trimmed_bounded_and_printable() {
        assert_eq!(text("  Mug ", 10, true).as_deref(), Ok("Mug"));
        assert!(text(" ", 10, true).is_err());
        assert_eq!(text("", 10, false).as_deref(), Ok(""));
        assert!(text("abcdefghijk", 10, true).is_err());
        assert!(text("a\u{0}b", 10, true).is_err());
    }
}
