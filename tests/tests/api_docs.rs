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
    ("GET", "/api/business/{id}"),
    ("PUT", "/api/business/{id}"),
    ("DELETE", "/api/business/{id}"),
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
    ("GET", "/api/media/list"),
    ("GET", "/api/media/{id}"),
    ("DELETE", "/api/media/{id}"),
    ("GET", "/api/live/{id}/events"),
    ("GET", "/api/live/{id}/swarm"),
    ("GET", "/api/live/{id}/series"),
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
    assert_eq!(properties, names(&["name", "domain", "personality", "autopilot", "autopilot_interval_secs"]));
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

    // Creating a product: money is a decimal string.
    let product = request_schema(&document, "POST", "/api/products/create");
    assert_eq!(strings(&product["required"]), names(&["business_id", "title", "niche", "price", "cost"]));
    assert_eq!(product["properties"]["price"]["type"], "string");
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
        // A file upload is raw bytes, not JSON.
        if body["content"].get("application/json").is_none() {
            assert!(body["content"]["application/octet-stream"].is_object(), "{method} {path}: {body:?}");
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
                assert_eq!(dereferenced(&document, named)["additionalProperties"], false, "{method} {path}");
                strict_bodies += 1;
            }
            None => assert!(path.starts_with("/webhooks/"), "{method} {path} has an untyped body"),
        }
    }

    assert!(strict_bodies >= 20, "only {strict_bodies} typed request bodies");

    // Every name a person gives states the name rule as a pattern: no control,
    // bidirectional-override/isolate or zero-width characters.
    let name_rule = r"^[^\u0000-\u001F\u007F-\u009F\u200B-\u200D\u202A-\u202E\u2060\u2066-\u2069\uFEFF]*$";
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
            .find_map(|candidate| candidate["pattern"].as_str());
        assert_eq!(stated, Some(name_rule), "{method} {path} {field}: {schema}");
    }
    let upload = operation(&document, "POST", "/api/media/upload");
    let name = upload["parameters"].as_array().expect("parameters").iter().find(|p| p["name"] == "name").expect("name");
    assert_eq!(name["schema"]["pattern"], name_rule, "{name}");

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
    for convention in
        ["Unknown fields are rejected", "?after=&limit=", "next_after", "64 KiB", "404", "X-CSRF-Token", "Bearer br_"]
    {
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
