//! `/api/products/*`: a business's products, and its agents' advice on one.
//!
//! Money is exact ([`Decimal`]) in and out; JSON numbers and decimal strings are both
//! accepted (see `fields`), answers carry strings (`"19.99"`) so no float ever rounds a
//! price.
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
use crate::http::fields::{Checked, Description, Niche, NonNegativeAmount, PositiveAmount, Tag, Title};
use crate::http::tiers::{self, Counted};

/// Most tags a product has.
const MAX_TAGS: usize = 20;
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
    /// The product's title.
    #[schema(value_type = Title)]
    title: Checked<Title>,
    /// What it is (default empty).
    #[serde(default)]
    #[schema(value_type = Option<Description>)]
    description: Option<Checked<Description>>,
    /// The market niche it sells in.
    #[schema(value_type = Niche)]
    niche: Checked<Niche>,
    /// Its selling price.
    #[schema(value_type = PositiveAmount)]
    price: Checked<PositiveAmount>,
    /// What one unit costs.
    #[schema(value_type = NonNegativeAmount)]
    cost: Checked<NonNegativeAmount>,
    /// At most 20 tags.
    #[serde(default)]
    #[schema(value_type = Vec<Tag>, max_items = 20)]
    tags: Vec<Checked<Tag>>,
}

/// The statuses a client may set on a product (`deleted` is set by `DELETE`).
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
enum ProductStatus {
    Draft,
    Active,
    Archived,
}

impl ProductStatus {
    fn as_str(self) -> &'static str {
        match self {
            ProductStatus::Draft => "draft",
            ProductStatus::Active => "active",
            ProductStatus::Archived => "archived",
        }
    }
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
    let title = request.title.check(&mut problems, "title");
    let description = Checked::check_optional(request.description, &mut problems, "description");
    let niche = request.niche.check(&mut problems, "niche");
    let price = request.price.check(&mut problems, "price");
    let cost = request.cost.check(&mut problems, "cost");
    let tags = if request.tags.len() > MAX_TAGS {
        problems.insert("tags".into(), format!("must be at most {MAX_TAGS} tags"));
        None
    } else {
        let tags: Vec<Option<Tag>> = request
            .tags
            .into_iter()
            .enumerate()
            .map(|(index, tag)| tag.check(&mut problems, &format!("tags[{index}]")))
            .collect();
        tags.into_iter().collect::<Option<Vec<Tag>>>()
    };
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
                niche: niche.into_inner(),
                title: title.into_inner(),
                description: description.map(Description::into_inner).unwrap_or_default(),
                tags: tags.into_iter().map(Tag::into_inner).collect(),
                price: price.value(),
                cost: cost.value(),
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
    /// A new price.
    #[serde(default)]
    price: Option<PositiveAmount>,
    /// A new status.
    #[serde(default)]
    status: Option<ProductStatus>,
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
    if let Some(price) = request.price {
        state.app.store.update_product_price(tenant.id, current.id, price.value()).await?;
    }
    if let Some(status) = request.status {
        state.app.store.set_product_status(tenant.id, current.id, status.as_str()).await?;
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
    let market = activate_owned(&state, &tenant).await?.market_for_api();
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
