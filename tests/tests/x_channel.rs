//! An X account as one of the business's marketing channels: its owner connects it with
//! the platform's X application (client id and secret) and the refresh token they
//! granted; the server signs in once (here to a local server that speaks X's API v2 as
//! documented and refuses anything else), learns the account, keeps the credentials
//! sealed (with the refresh token X rotated on that sign-in), and links the account to
//! one business. A refused grant, missing credentials and another business's account are
//! clear refusals that echo no secret.

#[allow(unreachable_pub, reason = "the adapters' fakes, of which these stories use a part")]
#[path = "../../adapters/tests/support/mod.rs"]
mod support;

use boardroom_memory::Tier;
use boardroom_tests::{ApiResponse, Backends, Caller, spawn_app_with};
use serde_json::{Value, json};
use support::LocalServer;
use support::x_fake::{CLIENT_ID, CLIENT_SECRET, FIRST_REFRESH_TOKEN, XFake};

async fn connect(owner: &Caller, business: i64, api_origin: &str, credentials: Value) -> ApiResponse {
    owner
        .post(
            "/api/stores/connect",
            &json!({ "business_id": business, "platform": "x", "store_url": api_origin, "credentials": credentials }),
        )
        .await
}

fn credentials(refresh_token: &str) -> Value {
    json!({ "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "refresh_token": refresh_token })
}

fn echoes(response: &ApiResponse, secret: &str) -> bool {
    response.raw.windows(secret.len()).any(|window| window == secret.as_bytes())
}

async fn an_owner_connects_the_businesss_x_account_once_and_for_one_business(backends: Backends) {
    let x = XFake::new();
    let server = LocalServer::start(x.router()).await;
    let app = spawn_app_with(backends, &[("DEMO_TENANT", "false")]).await;
    let (owner, business) = app.owner_with_business("ada@example.com", Tier::Enterprise, "Focus & Flow").await;

    let connected = connect(&owner, business, server.base_url(), credentials(FIRST_REFRESH_TOKEN)).await;
    assert_eq!(connected.status, 201, "{}", connected.body);
    assert_eq!(connected.body["platform"], "x");
    assert_eq!(connected.body["credential_fields"], json!(["client_id", "client_secret", "refresh_token"]));
    assert!(!echoes(&connected, CLIENT_SECRET) && !echoes(&connected, "fake-x-refresh"), "{}", connected.body);
    assert_eq!(x.refreshes(), 1, "one sign-in");
    assert_ne!(x.refresh_token(), FIRST_REFRESH_TOKEN, "X rotated the owner's refresh token on that sign-in");
    let listed = owner.get(&format!("/api/stores/list?business_id={business}")).await;
    assert_eq!(listed.body["items"].as_array().map(Vec::len), Some(1), "{}", listed.body);

    // The same account for a second business: refused, with the rotated token too.
    let (other_owner, other) = app.owner_with_business("bob@example.com", Tier::Enterprise, "Focus & Flow").await;
    let taken = connect(&other_owner, other, server.base_url(), credentials(&x.refresh_token())).await;
    assert_eq!((taken.status, taken.error_code()), (409, "account_taken"), "{}", taken.body);
    assert!(taken.body["error"]["message"].as_str().is_some_and(|m| m.contains("X account")), "{}", taken.body);
}

async fn a_refused_grant_or_missing_credentials_are_clear_refusals_that_echo_no_secret(backends: Backends) {
    let x = XFake::new();
    let server = LocalServer::start(x.router()).await;
    let app = spawn_app_with(backends, &[("DEMO_TENANT", "false")]).await;
    let (owner, business) = app.owner_with_business("ada@example.com", Tier::Enterprise, "Focus & Flow").await;

    // A refresh token X does not know (revoked, or rotated away by an earlier sign-in).
    let refused = connect(&owner, business, server.base_url(), credentials("fake-x-refresh-revoked")).await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    let problem = refused.body["error"]["fields"]["credentials"].as_str().expect("on credentials");
    assert!(problem.contains("invalid_grant") && problem.contains("connect x again"), "{problem}");
    assert!(!echoes(&refused, "fake-x-refresh-revoked") && !echoes(&refused, CLIENT_SECRET), "{}", refused.body);

    let without_secret = json!({ "client_id": CLIENT_ID, "refresh_token": FIRST_REFRESH_TOKEN });
    let missing = connect(&owner, business, server.base_url(), without_secret).await;
    assert_eq!(missing.status, 422, "{}", missing.body);
    assert!(
        missing.body["error"]["fields"]["credentials"].as_str().is_some_and(|p| p.contains("client_secret")),
        "{}",
        missing.body
    );
    assert_eq!(x.refreshes(), 1, "missing credentials send nothing to X");

    let listed = owner.get(&format!("/api/stores/list?business_id={business}")).await;
    assert_eq!(listed.body["items"], json!([]), "nothing refused was kept");
}

// Every story runs twice: `sqlite::…` and `postgres::…`.
boardroom_tests::on_both_backends! {
    an_owner_connects_the_businesss_x_account_once_and_for_one_business,
    a_refused_grant_or_missing_credentials_are_clear_refusals_that_echo_no_secret,
}
