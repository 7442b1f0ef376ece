//! `/api/marketing/*`: a business's campaigns and what they have spent.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use boardroom_memory::{Campaign, NewCampaign, TenantId};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{BusinessPageQuery, BusinessQuery, Page, owned_business};
use crate::http::ApiState;
use crate::http::auth::CurrentUser;
use crate::http::error::{ApiError, Fields};
use crate::http::extract::{Json, Path, Query};
use crate::http::fields::{Checked, Name, PositiveAmount};
use crate::http::tiers::{self, Counted};
use crate::markets::MarketMode;

/// Where a campaign runs.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
enum Channel {
    GoogleAds,
    MetaAds,
    TiktokAds,
    Email,
    X,
    Linkedin,
    Reddit,
}

impl Channel {
    fn as_str(self) -> &'static str {
        match self {
            Channel::GoogleAds => "google_ads",
            Channel::MetaAds => "meta_ads",
            Channel::TiktokAds => "tiktok_ads",
            Channel::Email => "email",
            Channel::X => "x",
            Channel::Linkedin => "linkedin",
            Channel::Reddit => "reddit",
        }
    }
}

/// The statuses a client may set on a campaign.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
enum CampaignStatus {
    Draft,
    Active,
    Paused,
    Ended,
}

impl CampaignStatus {
    fn as_str(self) -> &'static str {
        match self {
            CampaignStatus::Draft => "draft",
            CampaignStatus::Active => "active",
            CampaignStatus::Paused => "paused",
            CampaignStatus::Ended => "ended",
        }
    }
}

pub(super) fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(create))
        .routes(routes!(list))
        .routes(routes!(analytics))
        .routes(routes!(update))
}

/// `POST /api/marketing/campaign`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateCampaign {
    /// The business the campaign is for.
    business_id: i64,
    /// The campaign's name.
    #[schema(value_type = Name)]
    name: Checked<Name>,
    /// Where it runs.
    channel: Channel,
    /// What it may spend.
    #[schema(value_type = PositiveAmount)]
    budget: Checked<PositiveAmount>,
    /// A product of the same business it promotes.
    #[serde(default)]
    product_id: Option<i64>,
}

/// Creates a campaign (as `draft`), within the tier's campaign limit.
#[utoipa::path(
    post,
    path = "/api/marketing/campaign",
    tag = "marketing",
    request_body = CreateCampaign,
    responses(
        (status = 201, description = "The new campaign.", body = Campaign),
        (status = 402, description = "`tier_limit`: the tier's campaigns per business are reached."),
        (status = 404, description = "`not_found`: no such business or product, or not the caller's."),
    )
)]
async fn create(
    State(state): State<ApiState>,
    caller: CurrentUser,
    Json(request): Json<CreateCampaign>,
) -> Result<Response, ApiError> {
    let tenant = owned_business(&state, &caller, request.business_id).await?;
    let mut problems = Fields::new();
    let name = request.name.check(&mut problems, "name");
    let budget = request.budget.check(&mut problems, "budget");
    let (Some(name), Some(budget)) = (name, budget) else {
        return Err(ApiError::Validation(problems));
    };
    if let Some(product_id) = request.product_id {
        // Another business's product is as unknown here as a missing one.
        let product = state.app.store.product(tenant.id, product_id).await?;
        if product.is_none_or(|product| product.status == "deleted") {
            return Err(ApiError::NotFound("product".into()));
        }
    }
    let tier = caller.user.tier;
    let new = NewCampaign {
        tenant_id: tenant.id,
        product_id: request.product_id,
        name: name.into_inner(),
        channel: request.channel.as_str().to_owned(),
        budget: budget.value(),
        status: "draft".into(),
        external_id: None,
    };
    let campaign = state
        .app
        .store
        .create_campaign_within_limit(new, tiers::count_limit(tier, Counted::Campaigns))
        .await
        .map_err(tiers::count_error(tier, Counted::Campaigns))?;
    tracing::info!(tenant = %tenant.id, campaign = campaign.id, "campaign created");
    Ok((StatusCode::CREATED, Json(campaign)).into_response())
}

/// A business's campaigns, one page at a time.
#[utoipa::path(
    get,
    path = "/api/marketing/list",
    tag = "marketing",
    params(BusinessPageQuery),
    responses(
        (status = 200, description = "One page of campaigns.", body = Page<Campaign>),
        (status = 404, description = "`not_found`: no such business, or not the caller's."),
    )
)]
async fn list(
    State(state): State<ApiState>,
    caller: CurrentUser,
    Query(query): Query<BusinessPageQuery>,
) -> Result<Json<Page<Campaign>>, ApiError> {
    let tenant = owned_business(&state, &caller, query.business_id).await?;
    let campaigns = state.app.store.campaigns(tenant.id).await?;
    Ok(Json(query.page(campaigns, |campaign| campaign.id)?))
}

/// `PUT /api/marketing/{id}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct UpdateCampaign {
    /// The business the campaign belongs to.
    business_id: i64,
    /// The new status.
    status: CampaignStatus,
}

/// Changes a campaign's status.
#[utoipa::path(
    put,
    path = "/api/marketing/{id}",
    tag = "marketing",
    params(("id" = i64, Path, description = "The campaign's id.")),
    request_body = UpdateCampaign,
    responses(
        (status = 200, description = "The campaign as changed.", body = Campaign),
        (status = 404, description = "`not_found`: no such business or campaign, or not the caller's."),
    )
)]
async fn update(
    State(state): State<ApiState>,
    caller: CurrentUser,
    Path(id): Path<i64>,
    Json(request): Json<UpdateCampaign>,
) -> Result<Json<Campaign>, ApiError> {
    let tenant = owned_business(&state, &caller, request.business_id).await?;
    campaign(&state, tenant.id, id).await?;
    let status = request.status.as_str();
    state.app.store.set_campaign_status(tenant.id, id, status).await?;
    tracing::info!(tenant = %tenant.id, campaign = id, %status, "campaign updated");
    Ok(Json(campaign(&state, tenant.id, id).await?))
}

/// Each campaign's spend against its budget.
#[derive(Debug, Serialize, ToSchema)]
struct CampaignSpend {
    /// The campaign's id.
    id: i64,
    /// Its name.
    name: String,
    /// Its channel.
    channel: String,
    /// Its status.
    status: String,
    /// Its budget.
    budget: Decimal,
    /// What it has spent.
    spent: Decimal,
    /// Budget left, never below 0.
    remaining: Decimal,
}

/// A business's campaigns' spend, and the totals.
#[derive(Debug, Serialize, ToSchema)]
struct MarketingAnalytics {
    /// Every campaign.
    campaigns: Vec<CampaignSpend>,
    /// The budgets added up.
    total_budget: Decimal,
    /// The spend added up.
    total_spent: Decimal,
    /// `live` when the business is live: a campaign on a connected ad platform counts
    /// the spend booked from the platform's own daily figures. `simulated` on the
    /// sandbox or in a dry run.
    #[schema(example = "live")]
    figures: &'static str,
}

/// Each campaign's spend against its budget, and the totals.
#[utoipa::path(
    get,
    path = "/api/marketing/analytics",
    tag = "marketing",
    params(BusinessQuery),
    responses(
        (status = 200, description = "The spend.", body = MarketingAnalytics),
        (status = 404, description = "`not_found`: no such business, or not the caller's."),
    )
)]
async fn analytics(
    State(state): State<ApiState>,
    caller: CurrentUser,
    Query(query): Query<BusinessQuery>,
) -> Result<Json<MarketingAnalytics>, ApiError> {
    let tenant = owned_business(&state, &caller, query.business_id).await?;
    let mut campaigns = state.app.store.campaigns(tenant.id).await?;
    let live = MarketMode::of(&tenant) == MarketMode::Live;
    if live {
        // What the ad platforms reported, as the monitoring step booked it day by day.
        let (from, to) = (DateTime::<Utc>::MIN_UTC, Utc::now() + chrono::Duration::days(1));
        let booked = state.app.store.ledger_entries(tenant.id, from, to).await?;
        for campaign in &mut campaigns {
            let Some(external) = campaign.external_id.as_deref() else { continue };
            let spent: Decimal = booked
                .iter()
                .filter(|row| row.category == "ad_spend" && row.metadata["campaign_id"].as_str() == Some(external))
                .map(|row| -row.amount)
                .sum();
            campaign.spent = campaign.spent.max(spent);
        }
    }
    let total_budget: Decimal = campaigns.iter().map(|campaign| campaign.budget).sum();
    let total_spent: Decimal = campaigns.iter().map(|campaign| campaign.spent).sum();
    let items: Vec<CampaignSpend> = campaigns
        .into_iter()
        .map(|campaign| CampaignSpend {
            remaining: (campaign.budget - campaign.spent).max(Decimal::ZERO),
            id: campaign.id,
            name: campaign.name,
            channel: campaign.channel,
            status: campaign.status,
            budget: campaign.budget,
            spent: campaign.spent,
        })
        .collect();
    let figures = if live { "live" } else { "simulated" };
    Ok(Json(MarketingAnalytics { campaigns: items, total_budget, total_spent, figures }))
}

/// One of the tenant's campaigns; 404 otherwise.
async fn campaign(state: &ApiState, tenant: TenantId, id: i64) -> Result<Campaign, ApiError> {
    state
        .app
        .store
        .campaigns(tenant)
        .await?
        .into_iter()
        .find(|campaign| campaign.id == id)
        .ok_or_else(|| ApiError::NotFound("campaign".into()))
}
