//! A tenant selling through its Stripe Connect account as the swarm's market, against a
//! local fake of Stripe's API that follows the protocol and refuses anything else: the
//! store opens only once the account can take charges; a listing is a product, a price
//! and a payment link paying the tenant less the platform's fee, made once per key even
//! when the listing is cut short and resumed; a new price is a new price and link with
//! the old link retired; the report counts the paid checkouts of the market's own links
//! between its day marks.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use boardroom_adapters::{
    AdapterError, CallBudget, IdempotencyKey, Marketplace, PLATFORM_FEE_METADATA, Platform, PlatformFeeShare,
    ProductListing, ResilienceSettings, RetryPolicy, SandboxMarket, StripeAccount, StripeClient, StripeLinkRegistry,
    StripeMarket, StripePaymentLinkDraft,
};
use boardroom_memory::TenantId;
use chrono::Utc;
use rust_decimal::Decimal;
use serde_json::json;
use support::stripe_fake::{StripeFake, StripeFault};

const TENANT: TenantId = TenantId(7);
const PRODUCTS: &str = "POST /v1/products";
const PRICES: &str = "POST /v1/prices";
const LINKS: &str = "POST /v1/payment_links";
const LINK_UPDATES: &str = "POST /v1/payment_links/{payment_link}";

/// The links a market recorded, in order.
#[derive(Default)]
struct RecordedLinks(Mutex<Vec<(TenantId, String)>>);

#[async_trait]
impl StripeLinkRegistry for RecordedLinks {
    async fn register_payment_link(&self, tenant: TenantId, link: &str) -> Result<(), AdapterError> {
        self.0.lock().expect("not poisoned").push((tenant, link.to_owned()));
        Ok(())
    }
}

impl RecordedLinks {
    fn links(&self) -> Vec<(TenantId, String)> {
        self.0.lock().expect("not poisoned").clone()
    }
}

fn settings() -> ResilienceSettings {
    ResilienceSettings {
        retry: RetryPolicy { max_attempts: 2, base_delay: Duration::from_millis(10), ..RetryPolicy::default() },
        budget: CallBudget { per_request_timeout: Duration::from_secs(10), default_deadline: Duration::from_secs(30) },
        ..ResilienceSettings::default()
    }
}

struct Setup {
    fake: StripeFake,
    client: StripeClient,
    links: Arc<RecordedLinks>,
}

async fn setup() -> Setup {
    let fake = StripeFake::start().await;
    let client = StripeClient::with_settings(fake.connection(), settings()).expect("a valid connection");
    Setup { fake, client, links: Arc::new(RecordedLinks::default()) }
}

impl Setup {
    async fn account(&self, onboarded: bool) -> StripeAccount {
        let key = IdempotencyKey::for_step(TENANT, 0, "stripe_connect", "account");
        let account = self.client.create_connected_account("ada@example.com", "US", &key).await.expect("an account");
        if onboarded {
            self.fake.complete_onboarding(&account.id);
        }
        account
    }

    fn market(&self, account: &StripeAccount) -> StripeMarket {
        let research: Arc<dyn Marketplace> = Arc::new(SandboxMarket::new(42));
        StripeMarket::new(
            TENANT,
            self.client.clone(),
            &account.id,
            PlatformFeeShare::DEFAULT,
            research,
            self.links.clone(),
        )
        .expect("a market")
    }
}

fn listing() -> ProductListing {
    ProductListing {
        store_id: "acct".to_owned(),
        niche: "planners".to_owned(),
        title: "Deep Work Planner".to_owned(),
        description: "Ninety days of focused work".to_owned(),
        tags: vec!["planner".to_owned()],
        price: Decimal::new(2900, 2),
        unit_cost: Decimal::new(150, 2),
    }
}

fn key(item: &str) -> IdempotencyKey {
    IdempotencyKey::for_step(TENANT, 1, "store_setup", item)
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields.iter().find(|(field, _)| field == name).map(|(_, value)| value.as_str())
}

#[tokio::test]
async fn a_listing_is_a_product_a_price_and_a_link_paying_the_tenant_less_the_fee_made_once_per_key() {
    let setup = setup().await;
    let account = setup.account(true).await;
    let market = setup.market(&account);

    let listed = market.list_product(TENANT, &listing(), &key("product-1")).await.expect("listed");
    let again = market.list_product(TENANT, &listing(), &key("product-1")).await.expect("replayed");

    assert_eq!(again, listed, "the same key gives the same product and link back");
    let fake = &setup.fake;
    assert_eq!((fake.objects("product").len(), fake.objects("price").len()), (1, 1));
    let links = fake.objects("payment_link");
    assert_eq!(links.len(), 1);
    let (owner, link) = &links[0];
    assert_eq!(*owner, None, "a destination charge is the platform's");
    assert_eq!(link["url"], json!(listed.url), "the listing's URL is the link's");
    assert_eq!(link["transfer_data"]["destination"], json!(account.id));
    assert_eq!(link["application_fee_amount"], 203, "7 % of 29.00");
    assert_eq!(link["metadata"][PLATFORM_FEE_METADATA], "203", "the fee travels to each checkout");
    assert_eq!(listed.product_id, fake.objects("product")[0].1["id"].as_str().expect("an id"));
    let price = &fake.objects("price")[0].1;
    assert_eq!((price["unit_amount"].as_u64(), price["currency"].as_str()), (Some(2900), Some("usd")));
    let sent = fake.last(LINKS);
    assert_eq!(field(&sent.fields, "line_items[0][quantity]"), Some("1"));
    assert_eq!(sent.idempotency_key.as_deref(), Some(key("product-1").part("link").as_str()));
    assert_eq!(fake.calls(PRODUCTS) + fake.calls(PRICES) + fake.calls(LINKS), 6, "each sent twice");
    assert_eq!(fake.replays(), 3, "and acted on once");
    let recorded = setup.links.links();
    assert!(recorded.iter().all(|(tenant, link)| *tenant == TENANT && *link == links[0].1["id"]), "{recorded:?}");
    assert!(!recorded.is_empty(), "the link was recorded before its URL was handed out");
}

#[tokio::test]
async fn a_listing_cut_short_after_its_product_resumes_without_a_second_product_price_or_link() {
    let setup = setup().await;
    let account = setup.account(true).await;
    let market = setup.market(&account);
    setup.fake.fail_next(Some(LINKS), 1, StripeFault::ServerError { should_retry: Some(false) });

    let failed = market.list_product(TENANT, &listing(), &key("product-1")).await;
    let resumed = market.list_product(TENANT, &listing(), &key("product-1")).await.expect("resumed");

    let failure = failed.expect_err("the link was refused").to_string();
    assert!(failure.contains("create_payment_link") && failure.contains("500"), "{failure}");
    let fake = &setup.fake;
    assert_eq!(
        (fake.objects("product").len(), fake.objects("price").len(), fake.objects("payment_link").len()),
        (1, 1, 1)
    );
    assert_eq!(resumed.url, fake.objects("payment_link")[0].1["url"]);
}

#[tokio::test]
async fn the_store_opens_only_once_the_account_can_take_charges() {
    let setup = setup().await;
    let account = setup.account(false).await;
    let market = setup.market(&account);

    let refused = market.create_store(TENANT, "Focus", &key("store")).await.expect_err("not onboarded");
    let AdapterError::Rejected { platform: Platform::Stripe, message } = refused else { panic!("{refused:?}") };
    assert!(message.contains("onboarding") && message.contains(&account.id), "{message}");

    setup.fake.complete_onboarding(&account.id);
    let store = market.create_store(TENANT, "Focus", &key("store")).await.expect("opened");
    assert_eq!(store.store_id, account.id);
    assert!(!market.advertises() && !market.is_simulated());
    assert!(market.create_store(TenantId(8), "Focus", &key("store")).await.is_err(), "another business's");
}

#[tokio::test]
async fn a_new_price_is_a_new_price_and_link_and_the_old_link_is_retired_once() {
    let setup = setup().await;
    let account = setup.account(true).await;
    let market = setup.market(&account);
    let listed = market.list_product(TENANT, &listing(), &key("product-1")).await.expect("listed");

    let reprice = IdempotencyKey::for_step(TENANT, 2, "optimisation", &listed.product_id);
    market.set_price(TENANT, &listed.product_id, Decimal::new(2400, 2), &reprice).await.expect("re-priced");
    market.set_price(TENANT, &listed.product_id, Decimal::new(2400, 2), &reprice).await.expect("a harmless repeat");

    let fake = &setup.fake;
    let links: Vec<_> = fake.objects("payment_link").into_iter().map(|(_, link)| link).collect();
    assert_eq!(links.len(), 2, "one new link, however often the call is made");
    assert_eq!((links[0]["active"].as_bool(), links[1]["active"].as_bool()), (Some(false), Some(true)));
    assert_eq!(links[1]["application_fee_amount"], 168, "7 % of 24.00");
    assert_eq!(fake.objects("price").len(), 2);
    assert_eq!(fake.objects("price")[1].1["unit_amount"], 2400);
    assert_eq!(fake.calls(LINK_UPDATES), 1, "retired once");
    let retired = fake.last(LINK_UPDATES).fields;
    assert_eq!(field(&retired, "active"), Some("false"));
    let pointer = field(&retired, "inactive_message").expect("a message for the old link's buyers");
    assert!(pointer.ends_with(links[1]["url"].as_str().expect("a url")), "{pointer}");
    let unknown = market.set_price(TENANT, "prod_unknown", Decimal::ONE, &reprice).await;
    assert!(matches!(unknown, Err(AdapterError::Rejected { .. })), "{unknown:?}");
}

#[tokio::test]
async fn the_report_counts_the_paid_checkouts_of_the_markets_own_links_within_its_days() {
    let setup = setup().await;
    let account = setup.account(true).await;
    let market = setup.market(&account);
    let listed = market.list_product(TENANT, &listing(), &key("product-1")).await.expect("listed");
    let link = setup.fake.objects("payment_link")[0].1["id"].as_str().expect("an id").to_owned();
    // A link that is not this market's: its sales are not the tenant's.
    let other_product =
        setup.client.create_product("Other", "", &Default::default(), &key("other")).await.expect("a product");
    let other_price =
        setup.client.create_price(&other_product.id, 500, "usd", &key("other-price")).await.expect("a price");
    let other_link = setup
        .client
        .create_payment_link(&StripePaymentLinkDraft::new(&other_price.id, 1), &key("other-link"))
        .await
        .expect("a link");
    setup.fake.buy(&link);
    setup.fake.buy(&link);
    setup.fake.buy(&other_link.id);
    // Day 0 ends an hour from now (the fake's clock runs ahead of the wall's by a
    // second an object): a restored state whose marks fall around the sales.
    let mut state = market.export_state(TENANT).await.expect("a state");
    let now = Utc::now();
    state["day_starts"] = json!([now - chrono::Duration::hours(1), now + chrono::Duration::hours(1)]);
    market.import_state(TENANT, state).await.expect("restored");

    let report = market.report(TENANT, 0, 1).await.expect("a report");
    let nothing_yet = market.report(TENANT, 1, 2).await.expect("today has not happened");

    let product = report.product(&listed.product_id).expect("the product");
    assert_eq!((product.units_sold, product.gross_revenue), (2, Decimal::new(5800, 2)));
    assert_eq!(product.payment_fees, Decimal::new(406, 2), "the platform's fee on each sale");
    assert_eq!(report.products.len(), 1);
    assert_eq!((report.today, report.platform), (1, Platform::Stripe));
    assert_eq!(nothing_yet.units_sold(), 0);
    let asked = setup.fake.last("GET /v1/checkout/sessions");
    assert_eq!(field(&asked.fields, "payment_link"), Some(link.as_str()), "only this link's sessions are read");
    assert!(field(&asked.fields, "created[gte]").is_some(), "from the day's start");
    assert!(market.import_state(TENANT, json!({ "day_starts": [], "listed": {} })).await.is_err());
}
