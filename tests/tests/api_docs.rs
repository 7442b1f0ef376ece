//! The API describes itself: `/api/openapi.json` is a valid OpenAPI 3.1 document whose
//! every reference resolves, that lists exactly the routes the router answers (probed
//! over HTTP, method by method), whose request schemas are the strict types the handlers
//! read, and that states the conventions; `/api/docs` renders it from the binary alone.

use std::collections::BTreeSet;

use boardroom_tests::{Backends, TestApp, spawn_app_with};
use serde_json::{Value, json};

/// Every route the API serves, as the reference must list it. A route added to the
/// router is added here too, which is the moment to check its documentation.
const EVERY_ROUTE: &[(&str, &str)] = &[
    ("GET", "/health"),
    ("GET", "/metrics"),
    ("GET", "/api/openapi.json"),
    ("GET", "/api/docs"),
    ("GET", "/api/docs/docs.js"),
    ("GET", "/api/docs/docs.css"),
    ("POST", "/api/auth/signup"),
    ("POST", "/api/auth/login"),
    ("POST", "/api/auth/logout"),
    ("GET", "/api/auth/profile"),
    ("GET", "/api/auth/tokens"),
    ("POST", "/api/auth/tokens"),
    ("DELETE", "/api/auth/tokens/{id}"),
    ("POST", "/api/business/create"),
    ("GET", "/api/business/list"),
    ("GET", "/api/business/demo"),
    ("GET", "/api/business/{id}"),
    ("PUT", "/api/business/{id}"),
    ("DELETE", "/api/business/{id}"),
    ("GET", "/api/business/{id}/reports"),
    ("GET", "/api/business/{id}/guard"),
    ("PUT", "/api/business/{id}/guard"),
    ("GET", "/api/business/{id}/approvals"),
    ("POST", "/api/approvals/{id}/approve"),
    ("POST", "/api/approvals/{id}/reject"),
    ("GET", "/api/business/{id}/stripe"),
    ("POST", "/api/business/{id}/stripe/onboard"),
    ("POST", "/api/business/{id}/refunds"),
    ("POST", "/api/products/create"),
    ("GET", "/api/products/list"),
    ("POST", "/api/products/optimize"),
    ("PUT", "/api/products/{id}"),
    ("DELETE", "/api/products/{id}"),
    ("POST", "/api/stores/connect"),
    ("GET", "/api/stores/list"),
    ("POST", "/api/stores/sync"),
    ("GET", "/api/stores/analytics"),
    ("POST", "/api/marketing/campaign"),
    ("GET", "/api/marketing/list"),
    ("GET", "/api/marketing/analytics"),
    ("PUT", "/api/marketing/{id}"),
    ("POST", "/api/social/post"),
    ("GET", "/api/social/calendar"),
    ("POST", "/api/social/analyze"),
    ("GET", "/api/finance/revenue"),
    ("GET", "/api/finance/expenses"),
    ("POST", "/api/finance/goal"),
    ("GET", "/api/finance/projections"),
    ("POST", "/api/ai/analyze-market"),
    ("POST", "/api/ai/generate-content"),
    ("POST", "/api/ai/optimize-pricing"),
    ("GET", "/api/ai/recommendations"),
    ("POST", "/api/media/upload"),
    ("POST", "/api/media/generate"),
    ("GET", "/api/media/list"),
    ("GET", "/api/media/voices/{personality}"),
    ("GET", "/api/media/{id}"),
    ("DELETE", "/api/media/{id}"),
    ("GET", "/api/live/{id}/events"),
    ("GET", "/api/live/{id}/swarm"),
    ("GET", "/api/live/{id}/series"),
    ("GET", "/api/live/{id}/series/days"),
    ("POST", "/api/live/{id}/run-cycle"),
    ("PUT", "/api/live/{id}/products/{product_id}/price-override"),
    ("GET", "/"),
    ("GET", "/login"),
    ("GET", "/signup"),
    ("GET", "/app"),
    ("GET", "/admin"),
    ("GET", "/favicon.ico"),
    ("GET", "/assets/{name}"),
    ("POST", "/admin/generate-invite"),
    ("POST", "/admin/toggle-private"),
    ("GET", "/admin/toggle-private"),
    ("GET", "/admin/businesses"),
    ("GET", "/admin/users"),
    ("PUT", "/admin/users/{id}/role"),
    ("GET", "/admin/analytics"),
    ("PUT", "/admin/users/{id}/tier"),
    ("GET", "/admin/businesses/{id}/swarm"),
    ("POST", "/admin/businesses/{id}/swarm"),
    ("PUT", "/admin/businesses/{id}/throttle"),
    ("DELETE", "/admin/businesses/{id}/throttle"),
    ("POST", "/webhooks/stripe"),
    ("POST", "/webhooks/shopify"),
    ("POST", "/webhooks/gumroad/{secret}"),
];

/// The methods a route can be registered for.
const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

async fn spawn_app() -> TestApp {
    spawn_app_with(Backends::Embedded, &[("DEMO_TENANT", "false")]).await
}

/// The document as served, as text and as JSON.
async fn fetch_document(app: &TestApp) -> (String, Value) {
    let response =
        app.client.get(format!("{}/api/openapi.json", app.address)).send().await.expect("GET /api/openapi.json");
    assert_eq!(response.status(), 200);
    assert_eq!(content_type(&response), "application/json");
    let text = response.text().await.expect("document text");
    let json = serde_json::from_str(&text).expect("the document is JSON");
    (text, json)
}

fn content_type(response: &reqwest::Response) -> String {
    response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// Every `(METHOD, path)` the document describes.
fn documented_routes(document: &Value) -> BTreeSet<(String, String)> {
    let paths = document["paths"].as_object().expect("paths");
    paths
        .iter()
        .flat_map(|(path, item)| {
            METHODS
                .iter()
                .filter(|method| item.get(method.to_lowercase()).is_some())
                .map(|method| ((*method).to_owned(), path.clone()))
        })
        .collect()
}

/// The operation at `method path`.
fn operation<'a>(document: &'a Value, method: &str, path: &str) -> &'a Value {
    let operation = &document["paths"][path][method.to_lowercase()];
    assert!(operation.is_object(), "{method} {path} is not in the document");
    operation
}

/// What a JSON pointer `#/a/b` points at in the document.
fn resolve<'a>(document: &'a Value, reference: &str) -> Option<&'a Value> {
    document.pointer(reference.strip_prefix('#')?)
}

/// The schema behind a `$ref` (or the schema itself).
fn dereferenced<'a>(document: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(reference) => resolve(document, reference).unwrap_or_else(|| panic!("{reference} does not resolve")),
        None => schema,
    }
}

/// The JSON request body schema of an operation, dereferenced.
fn request_schema<'a>(document: &'a Value, method: &str, path: &str) -> &'a Value {
    let schema = &operation(document, method, path)["requestBody"]["content"]["application/json"]["schema"];
    assert!(schema.is_object(), "{method} {path} has no JSON request body");
    dereferenced(document, schema)
}

fn strings(value: &Value) -> BTreeSet<String> {
    value.as_array().into_iter().flatten().filter_map(Value::as_str).map(str::to_owned).collect()
}

fn names(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|item| (*item).to_owned()).collect()
}

fn collect_references<'a>(value: &'a Value, found: &mut Vec<&'a str>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get("$ref") {
                found.push(reference);
            }
            map.values().for_each(|child| collect_references(child, found));
        }
        Value::Array(items) => items.iter().for_each(|child| collect_references(child, found)),
        _ => {}
    }
}

#[tokio::test]
async fn the_api_serves_a_valid_openapi_3_1_document_whose_every_reference_resolves() {
    let app = spawn_app().await;

    let (text, document) = fetch_document(&app).await;

    // A real parser reads it as OpenAPI 3.1.
    let spec = oas3::from_json(&text).expect("oas3 parses the document");
    spec.validate_version().expect("an OpenAPI version oas3 supports");
    assert!(spec.openapi.starts_with("3.1."), "{}", spec.openapi);
    assert_eq!(spec.info.title, "Boardroom API");
    // Every operation's parameters, body and responses resolve through the parser.
    let mut operations = 0;
    for (path, method, operation) in spec.operations() {
        operations += 1;
        operation.parameters(&spec).unwrap_or_else(|error| panic!("{method} {path} parameters: {error}"));
        operation.request_body(&spec).unwrap_or_else(|error| panic!("{method} {path} request body: {error}"));
        let declared = operation.responses.as_ref().map_or(0, |responses| responses.len());
        assert!(declared > 0, "{method} {path} declares no response");
        assert_eq!(operation.responses(&spec).len(), declared, "{method} {path} has a response that does not resolve");
    }
    assert_eq!(operations, EVERY_ROUTE.len());
    let operation_ids: BTreeSet<&str> =
        spec.operations().filter_map(|(_, _, operation)| operation.operation_id.as_deref()).collect();
    assert_eq!(operation_ids.len(), EVERY_ROUTE.len(), "operation ids must be unique: {operation_ids:?}");

    // And so does every `$ref` anywhere in it, schemas nested in schemas included.
    let mut references = Vec::new();
    collect_references(&document, &mut references);
    assert!(references.len() > 100, "only {} references: is the document generated?", references.len());
    let broken: Vec<&str> =
        references.iter().copied().filter(|reference| resolve(&document, reference).is_none()).collect();
    assert!(broken.is_empty(), "references that do not resolve: {broken:?}");
}

#[tokio::test]
async fn the_document_lists_exactly_the_routes_the_router_answers() {
    let app = spawn_app().await;
    let (_, document) = fetch_document(&app).await;

    let documented = documented_routes(&document);
    let expected: BTreeSet<(String, String)> =
        EVERY_ROUTE.iter().map(|(method, path)| ((*method).to_owned(), (*path).to_owned())).collect();
    assert_eq!(
        documented.difference(&expected).collect::<Vec<_>>(),
        Vec::<&(String, String)>::new(),
        "documented but not in EVERY_ROUTE"
    );
    assert_eq!(
        expected.difference(&documented).collect::<Vec<_>>(),
        Vec::<&(String, String)>::new(),
        "in EVERY_ROUTE but not documented"
    );

    // Probe the router itself: on every documented path, each documented method reaches
    // a handler and every other method is refused with 405. So the router and the
    // document agree path by path, method by method.
    let anonymous = app.anonymous();
    let paths: BTreeSet<&String> = documented.iter().map(|(_, path)| path).collect();
    for path in paths {
        let concrete = path.replace("{id}", "1");
        for method in METHODS {
            let response = anonymous.send(method.parse().expect("method"), &concrete, None).await;
            let reached_no_route = response.status == 405
                || (response.status == 404 && response.body["error"]["message"] == "route not found");
            if documented.contains(&(method.to_owned(), path.clone())) {
                assert!(!reached_no_route, "{method} {path} is documented but not routed: {}", response.status);
            } else {
                assert_eq!(response.status, 405, "{method} {path} is routed but not documented");
            }
        }
    }

    // A path the document does not have is not served either.
    let unknown = anonymous.get("/api/not-a-route").await;
    assert_eq!((unknown.status, unknown.error_code()), (404, "not_found"));
    assert!(!document["paths"].as_object().expect("paths").contains_key("/api/not-a-route"));
}

#[tokio::test]
async fn request_schemas_are_the_strict_types_the_handlers_read() {
    let app = spawn_app().await;
    let (_, document) = fetch_document(&app).await;

    // Creating a business: the fields of `CreateBusiness`, only `name` required.
    let create = request_schema(&document, "POST", "/api/business/create");
    let properties: BTreeSet<String> = create["properties"].as_object().expect("properties").keys().cloned().collect();
    assert_eq!(
        properties,
        names(&["name", "domain", "personality", "autopilot", "autopilot_interval_secs", "start_from_demo"])
    );
    assert_eq!(strings(&create["required"]), names(&["name"]));
    assert_eq!(create["additionalProperties"], false);
    // The autopilot interval states its range, on creation and on change.
    let update = request_schema(&document, "PUT", "/api/business/{id}");
    for schema in [&create, &update] {
        let interval = &schema["properties"]["autopilot_interval_secs"];
        assert_eq!(
            (interval["minimum"].as_f64(), interval["maximum"].as_f64()),
            (Some(1.0), Some(2_592_000.0)),
            "{interval}"
        );
    }

    // Creating a product: money is a decimal string or a number, in whole cents, in range.
    let product = request_schema(&document, "POST", "/api/products/create");
    assert_eq!(strings(&product["required"]), names(&["business_id", "title", "niche", "price", "cost"]));
    let price = dereferenced(&document, &product["properties"]["price"]);
    assert_eq!(price["type"], json!(["string", "number"]), "{price}");
    assert_eq!(
        (price["exclusiveMinimum"].as_f64(), price["maximum"].as_f64(), price["multipleOf"].as_f64()),
        (Some(0.0), Some(1_000_000.0), Some(0.01)),
        "{price}"
    );
    assert!(price["pattern"].as_str().is_some_and(|pattern| pattern.starts_with('^')), "{price}");
    assert_eq!(dereferenced(&document, &product["properties"]["cost"])["minimum"].as_f64(), Some(0.0));
    assert_eq!(product["properties"]["business_id"]["type"], "integer");

    // A nested type: the content brief is its own strict object.
    let content = request_schema(&document, "POST", "/api/ai/generate-content");
    let brief = dereferenced(&document, &content["properties"]["brief"]);
    assert_eq!(strings(&brief["required"]), names(&["product", "niche", "price"]));
    assert_eq!(brief["additionalProperties"], false);

    // Every JSON body the API reads rejects unknown fields, and the document says so.
    let mut strict_bodies = 0;
    for (method, path) in EVERY_ROUTE {
        let Some(body) = document["paths"][path][method.to_lowercase()]["requestBody"].as_object() else {
            continue;
        };
        // A file upload is raw bytes, and a Gumroad ping a form, not JSON.
        if body["content"].get("application/json").is_none() {
            let raw = body["content"]["application/octet-stream"].is_object();
            let ping = *path == "/webhooks/gumroad/{secret}"
                && body["content"]["application/x-www-form-urlencoded"].is_object();
            assert!(raw || ping, "{method} {path}: {body:?}");
            continue;
        }
        // A named schema, or an optional one (`oneOf` null or the schema); a webhook's
        // raw event is an inline object and is not the API's to restrict.
        let schema = &body["content"]["application/json"]["schema"];
        let named = std::iter::once(schema)
            .chain(schema["oneOf"].as_array().into_iter().flatten())
            .find(|candidate| candidate["$ref"].is_string());
        match named {
            Some(named) => {
                // An object, or a choice of objects (a social post, one per network).
                let body = dereferenced(&document, named);
                let objects: Vec<&Value> = match body["oneOf"].as_array() {
                    Some(choices) => choices.iter().collect(),
                    None => vec![body],
                };
                for object in objects {
                    assert_eq!(object["additionalProperties"], false, "{method} {path}");
                }
                strict_bodies += 1;
            }
            None => assert!(path.starts_with("/webhooks/"), "{method} {path} has an untyped body"),
        }
    }

    assert!(strict_bodies >= 20, "only {strict_bodies} typed request bodies");

    // Every name a person gives states the name rule as a pattern: no control,
    // bidirectional-override/isolate or zero-width characters, and not all white space.
    let forbidden = r"\u0000-\u001F\u007F-\u009F\u200B-\u200D\u202A-\u202E\u2060\u2066-\u2069\uFEFF";
    let white_space = r"\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000";
    let name_rule = format!("^[^{forbidden}]*[^{forbidden}{white_space}][^{forbidden}]*$");
    for (method, path, field) in [
        ("POST", "/api/business/create", "name"),
        ("PUT", "/api/business/{id}", "name"),
        ("POST", "/api/products/create", "title"),
        ("POST", "/api/marketing/campaign", "name"),
        ("POST", "/api/auth/tokens", "name"),
    ] {
        let schema = &request_schema(&document, method, path)["properties"][field];
        let stated = std::iter::once(schema)
            .chain(schema["oneOf"].as_array().into_iter().flatten())
            .find_map(|candidate| dereferenced(&document, candidate)["pattern"].as_str());
        assert_eq!(stated, Some(name_rule.as_str()), "{method} {path} {field}: {schema}");
    }
    let upload = operation(&document, "POST", "/api/media/upload");
    let name = upload["parameters"].as_array().expect("parameters").iter().find(|p| p["name"] == "name").expect("name");
    assert_eq!(name["schema"]["pattern"], name_rule, "{name}");
    assert_eq!(name["required"], true, "{name}");

    // Query and path parameters: a paginated list, and a delete that names its business.
    let list = operation(&document, "GET", "/api/products/list");
    let parameters: BTreeSet<(String, String, bool)> = list["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .map(|parameter| {
            let name = parameter["name"].as_str().expect("name").to_owned();
            let location = parameter["in"].as_str().expect("in").to_owned();
            (name, location, parameter["required"] == true)
        })
        .collect();
    assert_eq!(
        parameters,
        BTreeSet::from([
            ("business_id".to_owned(), "query".to_owned(), true),
            ("after".to_owned(), "query".to_owned(), false),
            ("limit".to_owned(), "query".to_owned(), false),
        ])
    );
    let page = dereferenced(&document, &list["responses"]["200"]["content"]["application/json"]["schema"]);
    assert!(page["properties"]["items"].is_object() && page["properties"]["next_after"].is_object(), "{page}");
    let delete = operation(&document, "DELETE", "/api/products/{id}");
    let located: BTreeSet<String> = delete["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .map(|parameter| {
            format!("{}:{}", parameter["in"].as_str().unwrap_or("?"), parameter["name"].as_str().unwrap_or("?"))
        })
        .collect();
    assert_eq!(located, names(&["path:id", "query:business_id"]));

    // What the document says is what the API enforces: a field it does not list is refused.
    let owner = app.new_account("owner@example.com").await;
    let refused = owner.post("/api/business/create", &json!({ "name": "Mugs", "colour": "blue" })).await;
    assert_eq!((refused.status, refused.error_code()), (422, "validation"), "{}", refused.body);
    assert!(refused.body["error"]["fields"]["colour"].is_string(), "{}", refused.body);
}

#[tokio::test]
async fn the_document_states_how_to_authenticate_and_what_every_failure_looks_like() {
    let app = spawn_app().await;
    let (_, document) = fetch_document(&app).await;

    let schemes = &document["components"]["securitySchemes"];
    let session = &schemes["session_cookie"];
    assert_eq!((session["type"].as_str(), session["in"].as_str()), (Some("apiKey"), Some("cookie")));
    assert_eq!(session["name"], "boardroom_session");
    assert_eq!(
        (schemes["csrf_header"]["in"].as_str(), schemes["csrf_header"]["name"].as_str()),
        (Some("header"), Some("X-CSRF-Token"))
    );
    assert_eq!(
        (schemes["bearer_token"]["type"].as_str(), schemes["bearer_token"]["scheme"].as_str()),
        (Some("http"), Some("bearer"))
    );

    // Writes by cookie need the CSRF header; reads do not; tokens need neither.
    assert_eq!(
        operation(&document, "POST", "/api/business/create")["security"],
        json!([{ "session_cookie": [], "csrf_header": [] }, { "bearer_token": [] }])
    );
    assert_eq!(
        operation(&document, "GET", "/api/auth/profile")["security"],
        json!([{ "session_cookie": [] }, { "bearer_token": [] }])
    );
    // Public routes say so.
    for (method, path) in [("POST", "/api/auth/signup"), ("POST", "/webhooks/stripe"), ("GET", "/api/docs")] {
        assert_eq!(operation(&document, method, path)["security"], json!([{}]), "{method} {path}");
    }
    // `/health` is public and shows an admin more; `/metrics` needs its own token.
    let health = operation(&document, "GET", "/health");
    assert_eq!(health["security"], json!([{}, { "session_cookie": [] }, { "bearer_token": [] }]));
    assert!(health["responses"].get("401").is_none(), "a bad credential is not refused: {health}");
    let metrics = operation(&document, "GET", "/metrics");
    assert_eq!(metrics["security"], json!([{ "metrics_token": [] }]));
    assert_eq!(schemes["metrics_token"]["scheme"], "bearer");
    for status in ["200", "401", "404"] {
        assert!(metrics["responses"][status].is_object(), "/metrics {status}: {metrics}");
    }
    assert!(metrics["responses"].get("403").is_none() && metrics["responses"].get("429").is_none(), "{metrics}");
    // The abuse limits are stated where they apply.
    let signup = &operation(&document, "POST", "/api/auth/signup")["responses"];
    assert!(signup["429"].is_object() && signup.get("409").is_none(), "{signup}");
    let business = &operation(&document, "POST", "/api/business/create")["responses"];
    assert!(business["402"]["description"].as_str().is_some_and(|text| text.contains("tier_limit")), "{business}");

    // Every failure has the one error body; the shared ones say their codes.
    let error_body = &document["components"]["schemas"]["ErrorBody"];
    assert_eq!(strings(&error_body["required"]), names(&["error"]));
    let detail = dereferenced(&document, &error_body["properties"]["error"]);
    assert_eq!(strings(&detail["required"]), names(&["code", "message", "fields"]));
    let create = &operation(&document, "POST", "/api/products/create")["responses"];
    for status in ["400", "401", "402", "403", "404", "413", "415", "422", "429", "500", "503"] {
        let response = dereferenced(&document, &create[status]);
        let schema = &response["content"]["application/json"]["schema"];
        assert_eq!(schema["$ref"], "#/components/schemas/ErrorBody", "POST /api/products/create {status}");
    }
    let rate_limited = dereferenced(&document, &create["429"]);
    assert!(rate_limited["headers"]["Retry-After"].is_object(), "{rate_limited}");
    let too_large = dereferenced(&document, &create["413"]);
    assert!(too_large["description"].as_str().is_some_and(|text| text.contains("65536")), "{too_large}");
    // Another user's resource is a 404, and the document says which.
    let show = &operation(&document, "GET", "/api/business/{id}")["responses"]["404"];
    assert!(show["description"].as_str().is_some_and(|text| text.contains("not the caller's")), "{show}");

    // The conventions a client needs before any route.
    let overview = document["info"]["description"].as_str().expect("description");
    for convention in [
        "Unknown fields are rejected",
        "Schemas are the rules",
        "?after=&limit=",
        "next_after",
        "64 KiB",
        "404",
        "X-CSRF-Token",
        "Bearer br_",
    ] {
        assert!(overview.contains(convention), "the overview does not mention {convention}");
    }
}

#[tokio::test]
async fn the_docs_page_is_served_by_the_binary_with_no_outside_asset() {
    let app = spawn_app().await;
    let get = |path: &str| app.client.get(format!("{}{path}", app.address)).send();

    let page = get("/api/docs").await.expect("GET /api/docs");
    assert_eq!(page.status(), 200);
    assert_eq!(content_type(&page), "text/html; charset=utf-8");
    let csp = page.headers().get("content-security-policy").and_then(|value| value.to_str().ok());
    assert_eq!(csp, Some("default-src 'self'"));
    let html = page.text().await.expect("page");
    assert!(html.contains(r#"<script src="/api/docs/docs.js""#), "{html}");
    assert!(html.contains(r#"<link rel="stylesheet" href="/api/docs/docs.css">"#), "{html}");
    // Nothing the policy would block: no inline script or style, nothing from elsewhere.
    assert_eq!(html.matches("<script").count(), 1, "{html}");
    assert!(!html.contains("<style") && !html.contains("style=") && !html.contains("onload="), "{html}");
    assert!(!html.contains("http://") && !html.contains("https://") && !html.contains("//cdn"), "{html}");

    for (path, expected_type, marker) in [
        ("/api/docs/docs.js", "text/javascript; charset=utf-8", "/api/openapi.json"),
        ("/api/docs/docs.css", "text/css; charset=utf-8", ".operation"),
    ] {
        let asset = get(path).await.expect(path);
        assert_eq!(asset.status(), 200, "{path}");
        assert_eq!(content_type(&asset), expected_type, "{path}");
        let text = asset.text().await.expect(path);
        assert!(text.contains(marker), "{path} does not mention {marker}");
        assert!(!text.contains("https://") && !text.contains("http://"), "{path} loads something from elsewhere");
    }
}

// ---- The server enforces what the document states ----
//
// Each story below is one disagreement schemathesis found between the document and the
// server (`scripts/api-contract` runs it in CI), pinned down on both backends.

boardroom_tests::on_both_backends! {
    bodies_are_read_as_their_json_schema_reads_them,
    money_is_whole_cents_in_range_as_a_string_or_a_number,
    names_texts_and_lists_are_checked_as_sent,
    addresses_and_choices_are_what_the_document_lists,
    throttle_overrides_and_roles_are_refused_as_the_document_says,
    live_queries_and_events_are_as_documented,
    a_resume_point_past_the_log_is_refused,
    finance_periods_are_checked_as_a_pair,
    a_post_scheduled_in_the_past_is_refused,
    files_assets_and_webhooks_are_typed_as_served,
}

/// An account with one business, and the business's id.
async fn owner_with_business(app: &TestApp, email: &str) -> (boardroom_tests::Caller, i64) {
    let owner = app.new_account(email).await;
    let created = owner.post("/api/business/create", &json!({ "name": "Mugs" })).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["id"].as_i64().expect("business id");
    (owner, id)
}

/// The document says `"type": "object"` and `"type": "integer"`; JSON Schema reads `1.0`
/// as an integer and never reads an array as an object, and so does the server now.
async fn bodies_are_read_as_their_json_schema_reads_them(backends: Backends) {
    let app = spawn_app_with(backends, &[("DEMO_TENANT", "false")]).await;
    let (owner, business) = owner_with_business(&app, "owner@example.com").await;

    // An array where an object is due: serde would take it as the fields in order.
    let update = owner.put(&format!("/api/business/{business}"), &json!([null, null])).await;
    assert_eq!((update.status, update.error_code()), (422, "validation"), "{}", update.body);
    let invite = owner.post("/admin/generate-invite", &json!([null, null])).await;
    assert_eq!((invite.status, invite.error_code()), (422, "validation"), "{}", invite.body);
    let brief = json!({ "business_id": business, "kind": "blog_post", "brief": ["Mug", "kitchen", "19.99"] });
    let nested = owner.post("/api/ai/generate-content", &brief).await;
    assert_eq!(nested.status, 422, "{}", nested.body);
    assert!(nested.body["error"]["fields"]["brief"].is_string(), "{}", nested.body);

    // A whole number spelt with a fraction or an exponent is an integer.
    let spelt = format!(r#"{{"business_id": {business}.0}}"#);
    let analysed =
        owner.send_raw(reqwest::Method::POST, "/api/ai/analyze-market", Some("application/json"), spelt.into()).await;
    assert_eq!(analysed.status, 200, "{}", analysed.body);
    let interval = r#"{"name": "Cups", "autopilot_interval_secs": 36e2}"#;
    let created =
        owner.send_raw(reqwest::Method::POST, "/api/business/create", Some("application/json"), interval.into()).await;
    assert!(created.status == 201 || created.status == 402, "not a 422: {} {}", created.status, created.body);
    let fraction = format!(r#"{{"business_id": {business}.5}}"#);
    let refused = owner
        .send_raw(reqwest::Method::POST, "/api/ai/analyze-market", Some("application/json"), fraction.into())
        .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(refused.body["error"]["fields"]["business_id"].is_string(), "{}", refused.body);

    // A key given twice is refused, not silently the last one.
    let twice = r#"{"name": "Mugs", "name": "Cups"}"#;
    let duplicate = owner
        .send_raw(reqwest::Method::PUT, &format!("/api/business/{business}"), Some("application/json"), twice.into())
        .await;
    assert_eq!(duplicate.status, 422, "{}", duplicate.body);
    assert!(
        duplicate.body["error"]["message"].as_str().is_some() && duplicate.raw.windows(9).any(|w| w == b"duplicate"),
        "{}",
        duplicate.body
    );
}

/// The schema of a request body's field, dereferenced (a field may be a `$ref` to a
/// shared component such as `PositiveAmount`).
fn field_schema<'a>(document: &'a Value, method: &str, path: &str, field: &str) -> &'a Value {
    let schema = &request_schema(document, method, path)["properties"][field];
    assert!(schema.is_object(), "{method} {path} has no field {field}");
    dereferenced(document, schema)
}

/// Money is an amount in whole cents up to 1,000,000, above 0 or from 0: as a decimal
/// string matching the schema's pattern, or a JSON number within its bounds and
/// `multipleOf`. The document used to call it a string while the server took numbers.
async fn money_is_whole_cents_in_range_as_a_string_or_a_number(backends: Backends) {
    let app = spawn_app_with(backends, &[("DEMO_TENANT", "false")]).await;
    let (owner, business) = owner_with_business(&app, "owner@example.com").await;
    let (_, document) = fetch_document(&app).await;

    let price = field_schema(&document, "POST", "/api/products/create", "price");
    let cost = field_schema(&document, "POST", "/api/products/create", "cost");
    assert_eq!(price["type"], json!(["string", "number"]), "{price}");
    assert_eq!((price["exclusiveMinimum"].as_f64(), cost["minimum"].as_f64()), (Some(0.0), Some(0.0)));
    for (method, path, field) in [
        ("POST", "/api/marketing/campaign", "budget"),
        ("POST", "/api/finance/goal", "monthly_revenue"),
        ("POST", "/api/ai/optimize-pricing", "reference_price"),
        ("PUT", "/api/live/{id}/products/{product_id}/price-override", "price"),
    ] {
        let schema = &request_schema(&document, method, path)["properties"][field];
        let amount = std::iter::once(schema)
            .chain(schema["oneOf"].as_array().into_iter().flatten())
            .map(|candidate| dereferenced(&document, candidate))
            .find(|candidate| candidate["multipleOf"].is_number());
        assert!(amount.is_some_and(|amount| amount["exclusiveMinimum"] == 0), "{method} {path} {field}: {schema}");
    }

    let product = |price: Value, cost: Value| json!({ "business_id": business, "title": "Mug", "niche": "kitchen", "price": price, "cost": cost });
    for (price, cost, kept) in [
        (json!("19.99"), json!("0"), "19.99"),
        (json!(19.99), json!(4.5), "19.99"),
        (json!(0.07), json!(0), "0.07"),
        (json!("1000000"), json!("1000000.00"), "1000000.00"),
    ] {
        let created = owner.post("/api/products/create", &product(price.clone(), cost)).await;
        assert_eq!(created.status, 201, "{price}: {}", created.body);
        assert_eq!(created.body["price"], kept, "{price}");
    }
    for (price, cost, field) in [
        (json!("0"), json!("0"), "price"),
        (json!(0), json!(0), "price"),
        (json!("-0"), json!("1"), "price"),
        (json!("1.001"), json!("0"), "price"),
        (json!(0.015), json!("0"), "price"),
        (json!("1000000.01"), json!("0"), "price"),
        (json!("1e2"), json!("0"), "price"),
        (json!(" 5"), json!("0"), "price"),
        (json!("5"), json!(-1), "cost"),
        (json!("5"), json!("-0"), "cost"),
        (json!("5"), json!(2_000_000), "cost"),
    ] {
        let refused = owner.post("/api/products/create", &product(price.clone(), cost.clone())).await;
        assert_eq!((refused.status, refused.error_code()), (422, "validation"), "{price} {cost}: {}", refused.body);
        assert!(refused.body["error"]["fields"][field].is_string(), "{price} {cost}: {}", refused.body);
    }
    // A price above 0, on every route that takes one.
    let goal = owner.post("/api/finance/goal", &json!({ "business_id": business, "monthly_revenue": "0" })).await;
    assert_eq!(goal.status, 422, "{}", goal.body);
    let pricing =
        json!({ "business_id": business, "unit_cost": "4.50", "reference_price": "21.00", "current_price": "0" });
    let refused = owner.post("/api/ai/optimize-pricing", &pricing).await;
    assert!(refused.body["error"]["fields"]["current_price"].is_string(), "{}", refused.body);
}

/// Names and free text are checked as sent (the document's `maxLength` counts the
/// white space around them, its pattern refuses a control character anywhere and a
/// name that is only white space), lists and credential maps are bounded as stated, and
/// every field that breaks its rule is named in one answer.
async fn names_texts_and_lists_are_checked_as_sent(backends: Backends) {
    let app = spawn_app_with(backends, &[("DEMO_TENANT", "false")]).await;
    let (owner, business) = owner_with_business(&app, "owner@example.com").await;
    let (_, document) = fetch_document(&app).await;

    let name = field_schema(&document, "POST", "/api/business/create", "name");
    assert_eq!((name["minLength"].as_u64(), name["maxLength"].as_u64()), (Some(1), Some(100)), "{name}");
    let tags = &request_schema(&document, "POST", "/api/products/create")["properties"]["tags"];
    assert_eq!(tags["maxItems"], 20, "{tags}");
    assert_eq!(dereferenced(&document, &tags["items"])["minLength"], 1, "{tags}");
    let credentials = field_schema(&document, "POST", "/api/stores/connect", "credentials");
    assert_eq!((credentials["minProperties"].as_u64(), credentials["maxProperties"].as_u64()), (Some(1), Some(10)));
    assert_eq!(credentials["additionalProperties"]["minLength"], 1, "{credentials}");

    // 99 characters and two spaces around them are 101 characters.
    let padded = format!(" {} ", "x".repeat(99));
    for (body, field) in [
        (json!({ "name": padded }), "name"),
        (json!({ "name": " \t Mugs" }), "name"),
        (json!({ "name": "\u{3000}" }), "name"),
    ] {
        let refused = owner.post("/api/business/create", &body).await;
        assert_eq!(refused.status, 422, "{body}: {}", refused.body);
        assert!(refused.body["error"]["fields"][field].is_string(), "{body}: {}", refused.body);
    }
    // Every broken field at once.
    let refused =
        owner.post("/api/business/create", &json!({ "name": " ", "personality": "Grumpy", "domain": "nope." })).await;
    let fields = &refused.body["error"]["fields"];
    assert_eq!(
        (fields["name"].as_str(), fields["personality"].is_string(), fields["domain"].is_string()),
        (Some("must not be empty"), true, true),
        "{fields}"
    );

    // Tags and keywords are each 1 to 50 characters of text, named by their index.
    let product = json!({ "business_id": business, "title": "Mug", "niche": "kitchen", "price": "5", "cost": "1",
                          "tags": ["ceramic", " "] });
    let refused = owner.post("/api/products/create", &product).await;
    assert!(refused.body["error"]["fields"]["tags[1]"].is_string(), "{}", refused.body);
    let too_many = json!({ "business_id": business, "title": "Mug", "niche": "kitchen", "price": "5", "cost": "1",
                           "tags": vec!["t"; 21] });
    assert!(owner.post("/api/products/create", &too_many).await.body["error"]["fields"]["tags"].is_string());

    // A store needs at least one credential, each named and not empty.
    let store = |credentials: Value| {
        json!({ "business_id": business, "platform": "etsy", "store_url": "https://mugs.myshopify.com",
                "credentials": credentials })
    };
    for credentials in [json!({}), json!({ "api_key": "" }), json!({ "api key": "x" })] {
        let refused = owner.post("/api/stores/connect", &store(credentials.clone())).await;
        assert_eq!(refused.status, 422, "{credentials}: {}", refused.body);
        assert!(refused.body["error"]["fields"]["credentials"].is_string(), "{}", refused.body);
    }
}

/// Addresses and choices are what the document lists: an e-mail address matching its
/// pattern (a login reads any text: an address that cannot be an account's is a wrong
/// one), a store's address on `https://` (or this machine), enumerated values exactly
/// as listed, and a post no longer than its network's limit.
async fn addresses_and_choices_are_what_the_document_lists(backends: Backends) {
    let app = spawn_app_with(backends, &[("DEMO_TENANT", "false")]).await;
    let (owner, business) = owner_with_business(&app, "owner@example.com").await;
    let (_, document) = fetch_document(&app).await;

    let email = field_schema(&document, "POST", "/api/auth/signup", "email");
    assert!(email["pattern"].as_str().is_some_and(|pattern| pattern.contains('@')), "{email}");
    let signup = app.sign_up("000", boardroom_tests::TEST_PASSWORD, None).await;
    assert!(signup.body["error"]["fields"]["email"].is_string(), "{}", signup.body);
    let signup = app.sign_up(" padded@example.com", "short", None).await;
    let fields = &signup.body["error"]["fields"];
    assert!(fields["email"].is_string() && fields["password"].is_string(), "both fields: {fields}");
    let (login, _) = app.log_in("000", "whatever").await;
    assert_eq!((login.status, login.error_code()), (401, "invalid_credentials"), "{}", login.body);

    let channel = field_schema(&document, "POST", "/api/marketing/campaign", "channel");
    assert!(strings(&channel["enum"]).contains("meta_ads"), "{channel}");
    let campaign = json!({ "business_id": business, "name": "Launch", "channel": "Email", "budget": "10" });
    let refused = owner.post("/api/marketing/campaign", &campaign).await;
    assert!(refused.body["error"]["fields"]["channel"].is_string(), "exact values only: {}", refused.body);

    let url = field_schema(&document, "POST", "/api/stores/connect", "store_url");
    assert_eq!(url["maxLength"], 500, "{url}");
    for store_url in ["http://localhost.evil.example", " https://mugs.myshopify.com", "https:///path"] {
        let store = json!({ "business_id": business, "platform": "etsy", "store_url": store_url,
                            "credentials": { "api_key": "k" } });
        let refused = owner.post("/api/stores/connect", &store).await;
        assert!(refused.body["error"]["fields"]["store_url"].is_string(), "{store_url}: {}", refused.body);
    }

    // A post: one schema per network, each with its own longest content.
    let post = dereferenced(
        &document,
        &operation(&document, "POST", "/api/social/post")["requestBody"]["content"]["application/json"]["schema"],
    );
    let on_x = post["oneOf"]
        .as_array()
        .expect("one per network")
        .iter()
        .find(|choice| choice["properties"]["platform"]["enum"] == json!(["x"]))
        .expect("x");
    assert_eq!(on_x["properties"]["content"]["maxLength"], 280, "{on_x}");
    let long = json!({ "business_id": business, "platform": "x", "content": "a".repeat(281) });
    assert_eq!(owner.post("/api/social/post", &long).await.status, 422);
    let fits = json!({ "business_id": business, "platform": "linkedin", "content": "a".repeat(281) });
    assert_eq!(owner.post("/api/social/post", &fits).await.status, 201);
}

/// A throttle override names at least one limit, each within the range the document
/// states (`int64` fields with their own bounds, not `int32` ones the server exceeds);
/// and an admin changing their own role is refused as a request they may not make
/// (403), not as a malformed one: the body was valid.
async fn throttle_overrides_and_roles_are_refused_as_the_document_says(backends: Backends) {
    let app = spawn_app_with(backends, &[("DEMO_TENANT", "false")]).await;
    let (admin, business) = owner_with_business(&app, "admin@example.com").await;
    let (_, document) = fetch_document(&app).await;

    let throttle = request_schema(&document, "PUT", "/admin/businesses/{id}/throttle");
    assert_eq!((throttle["minProperties"].as_u64(), throttle.get("maxProperties")), (Some(1), None), "{throttle}");
    let adapters = &throttle["properties"]["concurrent_adapter_calls"];
    assert_eq!((adapters["format"].as_str(), adapters["maximum"].as_u64()), (Some("int64"), Some(4_294_967_295)));
    let path = format!("/admin/businesses/{business}/throttle");
    let empty = admin.put(&path, &json!({})).await;
    assert_eq!(empty.status, 422, "{}", empty.body);
    let wide = admin.put(&path, &json!({ "concurrent_adapter_calls": 2_147_483_648_u64 })).await;
    assert_eq!(wide.status, 200, "within the stated maximum: {}", wide.body);
    let too_wide = admin.put(&path, &json!({ "concurrent_adapter_calls": 4_294_967_296_u64 })).await;
    assert_eq!(too_wide.status, 422, "{}", too_wide.body);
    let tokens = admin.put(&path, &json!({ "llm_tokens_per_day": 9_223_372_036_854_775_808_u64 })).await;
    assert!(tokens.body["error"]["fields"]["llm_tokens_per_day"].is_string(), "past int64: {}", tokens.body);

    let own_id = admin.get("/api/auth/profile").await.body["user"]["id"].as_i64().expect("id");
    let own = admin.put(&format!("/admin/users/{own_id}/role"), &json!({ "role": "user" })).await;
    assert_eq!((own.status, own.error_code()), (403, "own_role"), "{}", own.body);
    let documented = &operation(&document, "PUT", "/admin/users/{id}/role")["responses"]["403"]["description"];
    assert!(documented.as_str().is_some_and(|text| text.contains("own_role")), "{documented}");
}

/// The live view's queries: a value outside the range the document states is a 400
/// `invalid_query` like any other bad query value (`minutes=0` was an undocumented
/// 422), `after` is checked even when `Last-Event-ID` wins, and the stream's events are
/// described one by one rather than as a bare string.
async fn live_queries_and_events_are_as_documented(backends: Backends) {
    let app = spawn_app_with(backends, &[("DEMO_TENANT", "false")]).await;
    let (owner, business) = owner_with_business(&app, "owner@example.com").await;
    let (_, document) = fetch_document(&app).await;

    for minutes in ["0", "10081", "-5"] {
        let refused = owner.get(&format!("/api/live/{business}/series?minutes={minutes}")).await;
        assert_eq!((refused.status, refused.error_code()), (400, "invalid_query"), "{minutes}: {}", refused.body);
    }
    assert_eq!(owner.get(&format!("/api/live/{business}/series?minutes=10080")).await.status, 200);
    for days in ["days=0", "days=366", "days=-1", "days=1.5", "days=7&minutes=60"] {
        let refused = owner.get(&format!("/api/live/{business}/series/days?{days}")).await;
        assert_eq!((refused.status, refused.error_code()), (400, "invalid_query"), "{days}: {}", refused.body);
    }
    let one_year = owner.get(&format!("/api/live/{business}/series/days?days=365")).await;
    assert_eq!((one_year.status, &one_year.body["unit"]), (200, &json!("day")), "{}", one_year.body);
    let both = owner.with_header("Last-Event-ID", "0").get(&format!("/api/live/{business}/events?after=-1")).await;
    assert_eq!((both.status, both.error_code()), (400, "invalid_query"), "{}", both.body);

    let events = operation(&document, "GET", "/api/live/{id}/events");
    let stream = dereferenced(&document, &events["responses"]["200"]["content"]["text/event-stream"]["schema"]);
    let kinds: BTreeSet<String> = stream["oneOf"]
        .as_array()
        .expect("one schema per kind of event")
        .iter()
        .map(|kind| {
            assert_eq!(kind["properties"]["data"]["contentMediaType"], "application/json", "{kind}");
            strings(&kind["properties"]["event"]["enum"]).into_iter().next().expect("its name")
        })
        .collect();
    assert_eq!(kinds, names(&["swarm", "activity", "skipped"]));
    let after =
        events["parameters"].as_array().expect("parameters").iter().find(|p| p["name"] == "after").expect("after");
    assert_eq!(after["schema"]["minimum"], 0, "{after}");
}

/// A resume point past the log's last event is refused with the 422 the document
/// lists: which events the log has is the server's state, which no schema can state
/// (`scripts/api-contract.toml` excuses this 422, and only it, for valid input).
async fn a_resume_point_past_the_log_is_refused(backends: Backends) {
    let app = spawn_app_with(backends, &[("DEMO_TENANT", "false")]).await;
    let (owner, business) = owner_with_business(&app, "owner@example.com").await;
    let (_, document) = fetch_document(&app).await;

    let path = format!("/api/live/{business}/events");
    for caller in [owner.with_header("Last-Event-ID", "9223372036854775807"), owner.clone()] {
        let query = if caller.headers.is_empty() { "?after=9223372036854775807" } else { "" };
        let refused = caller.get(&format!("{path}{query}")).await;
        assert_eq!((refused.status, refused.error_code()), (422, "validation"), "{}", refused.body);
    }
    let documented = &operation(&document, "GET", "/api/live/{id}/events")["responses"]["422"]["description"];
    assert!(documented.as_str().is_some_and(|text| text.contains("Last-Event-ID")), "{documented}");
}

/// A finance period's two ends are checked as a pair: `from` before `to`, at most 3660
/// days apart. A rule between two parameters, which no schema can state: the 422 is
/// documented (`scripts/api-contract.toml` excuses it for otherwise valid input).
async fn finance_periods_are_checked_as_a_pair(backends: Backends) {
    let app = spawn_app_with(backends, &[("DEMO_TENANT", "false")]).await;
    let (owner, business) = owner_with_business(&app, "owner@example.com").await;
    let (_, document) = fetch_document(&app).await;

    for route in ["revenue", "expenses"] {
        let path = format!("/api/finance/{route}?business_id={business}");
        let fine = owner.get(&format!("{path}&from=2020-01-01T00:00:00Z&to=2026-01-01T00:00:00Z")).await;
        assert_eq!(fine.status, 200, "{route}: {}", fine.body);
        for (from, to) in
            [("2026-01-02T00:00:00Z", "2026-01-01T00:00:00Z"), ("2000-01-01T00:00:00Z", "2026-01-01T00:00:00Z")]
        {
            let refused = owner.get(&format!("{path}&from={from}&to={to}")).await;
            assert_eq!(
                (refused.status, refused.error_code()),
                (422, "validation"),
                "{route} {from}..{to}: {}",
                refused.body
            );
        }
        let documented =
            &operation(&document, "GET", &format!("/api/finance/{route}"))["responses"]["422"]["description"];
        assert!(documented.as_str().is_some_and(|text| text.contains("3660")), "{documented}");
    }
}

/// A post cannot be scheduled in the past: a rule of the clock, which no schema can
/// state; the schema says so in words (`scripts/api-contract.toml` excuses the 422).
async fn a_post_scheduled_in_the_past_is_refused(backends: Backends) {
    let app = spawn_app_with(backends, &[("DEMO_TENANT", "false")]).await;
    let (owner, business) = owner_with_business(&app, "owner@example.com").await;
    let (_, document) = fetch_document(&app).await;

    let post =
        |when: &str| json!({ "business_id": business, "platform": "x", "content": "Hello", "scheduled_time": when });
    let refused = owner.post("/api/social/post", &post("2000-01-01T00:00:00Z")).await;
    assert!(refused.body["error"]["fields"]["scheduled_time"].is_string(), "{}", refused.body);
    let later = (chrono::Utc::now() + chrono::TimeDelta::days(1)).to_rfc3339();
    assert_eq!(owner.post("/api/social/post", &post(&later)).await.status, 201);
    let schema = dereferenced(
        &document,
        &operation(&document, "POST", "/api/social/post")["requestBody"]["content"]["application/json"]["schema"],
    );
    let said = &schema["oneOf"][0]["properties"]["scheduled_time"]["description"];
    assert!(said.as_str().is_some_and(|text| text.contains("not in the past")), "{said}");
}

/// What is served is what is typed: an asset under the media type the document lists
/// for it (the icon is SVG, not the `text/plain` a bare string is), `/favicon.ico` as a
/// redirect with its `Location`; an upload's body as bytes (not an array of integers),
/// its name as a required parameter with the name rule, its refusals as the documented
/// 422; a webhook's signature header as a non-empty string.
async fn files_assets_and_webhooks_are_typed_as_served(backends: Backends) {
    let app = spawn_app_with(
        backends,
        &[("DEMO_TENANT", "false"), ("STRIPE_WEBHOOK_SECRET", "whsec_test"), ("SHOPIFY_WEBHOOK_SECRET", "shopify")],
    )
    .await;
    let (owner, business) = owner_with_business(&app, "owner@example.com").await;
    let (_, document) = fetch_document(&app).await;
    let anonymous = app.anonymous();

    let asset = operation(&document, "GET", "/assets/{name}");
    let listed: BTreeSet<String> =
        asset["responses"]["200"]["content"].as_object().expect("content").keys().cloned().collect();
    let names_listed = strings(&asset["parameters"][0]["schema"]["enum"]);
    assert!(names_listed.contains("favicon.svg"), "{asset}");
    for name in &names_listed {
        let served = anonymous.get(&format!("/assets/{name}")).await;
        let served_type = served.header("content-type").unwrap_or_default().to_owned();
        assert!(
            listed.contains(&served_type),
            "/assets/{name} is served as {served_type}, the document lists {listed:?}"
        );
    }
    let icon = operation(&document, "GET", "/favicon.ico");
    assert!(icon["responses"]["308"]["headers"]["Location"].is_object(), "{icon}");

    let upload = operation(&document, "POST", "/api/media/upload");
    let body = &upload["requestBody"]["content"]["application/octet-stream"]["schema"];
    let body = dereferenced(&document, body);
    assert_eq!(
        (body["type"].as_str(), body["format"].as_str(), body["minLength"].as_u64()),
        (Some("string"), Some("binary"), Some(1))
    );
    assert!(upload["responses"]["422"]["description"].as_str().is_some_and(|text| text.contains("empty")), "{upload}");
    let path = |name: &str| format!("/api/media/upload?business_id={business}&name={name}");
    for name in ["", "%20%20"] {
        let refused = owner.send_raw(reqwest::Method::POST, &path(name), Some("text/plain"), b"hello".to_vec()).await;
        assert_eq!((refused.status, refused.error_code()), (422, "validation"), "{name:?}: {}", refused.body);
    }

    for (path, header) in [("/webhooks/stripe", "Stripe-Signature"), ("/webhooks/shopify", "X-Shopify-Hmac-Sha256")] {
        let operation = operation(&document, "POST", path);
        let parameter = operation["parameters"]
            .as_array()
            .expect("parameters")
            .iter()
            .find(|p| p["name"] == header)
            .expect("the header");
        assert_eq!((parameter["required"].as_bool(), parameter["schema"]["minLength"].as_u64()), (Some(true), Some(1)));
        let empty = anonymous.with_header(header, "").post(path, &json!({})).await;
        assert_eq!((empty.status, empty.error_code()), (400, "missing_signature"), "{path}: {}", empty.body);
    }
}
