//! The API's OpenAPI 3.1 document, served at `GET /api/openapi.json` (and read by the
//! page at `/api/docs`, see `docs`).
//!
//! ## Why it cannot drift
//! - Every route is registered with `utoipa_axum`'s `routes!`, which takes the method
//!   and path from the handler's `#[utoipa::path]`: a route is served only if it is
//!   described, at the path it is described at (see `routes` for the pattern).
//! - Request and response types derive `ToSchema` (queries `IntoParams`), so their
//!   schemas are the serde shapes the handlers really use; `deny_unknown_fields`
//!   becomes `additionalProperties: false`.
//! - What every operation shares is added here once, by [`apply_conventions`], from what
//!   the operation itself declares, rather than repeated (and forgotten) per handler.
//! - A field with a rule beyond its JSON type is a `fields` newtype whose parser and
//!   schema are written side by side, and bodies are read as JSON Schema reads them
//!   (`strict_json`). `scripts/api-contract` fuzzes a running server against this
//!   document with schemathesis, so what drift remains shows in CI.
//!
//! ## What [`apply_conventions`] adds
//! - **Operation ids** prefixed with the tag (`products_create`), unique across modules.
//! - **Security**, unless the handler declared its own (`security(())` for a public
//!   route): a session cookie or a bearer token; cookie-authenticated writes also need
//!   the `X-CSRF-Token` header (the `auth` module's rules).
//! - **Error responses**, each with the [`ErrorBody`] schema: 401/403/429/503 for
//!   operations that need a user's session or token (not public ones, nor `/metrics`
//!   with its own token), 400/413/415/422 for operations with a JSON body (a named
//!   request schema, possibly optional, read by the strict `Json` extractor), 400 for
//!   operations with query or path parameters, 500 for all. An error status a handler
//!   lists without a body (its own 404, 402, 409…) gets the error body too.

use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};
use utoipa::openapi::tag::Tag;
use utoipa::openapi::{Components, Content, Header, OpenApi, Ref, RefOr, Response, Schema};
use utoipa::{PartialSchema, ToSchema};

use super::error::ErrorBody;
use super::extract::MAX_BODY_BYTES;

/// The name of the security scheme of the browser session cookie.
const SESSION_COOKIE_SCHEME: &str = "session_cookie";
/// The name of the security scheme of the CSRF header cookie-authenticated writes carry.
const CSRF_HEADER_SCHEME: &str = "csrf_header";
/// The name of the security scheme of API tokens.
const BEARER_TOKEN_SCHEME: &str = "bearer_token";
/// The name of the security scheme of `/metrics` (`METRICS_TOKEN`).
const METRICS_TOKEN_SCHEME: &str = "metrics_token";

/// What the document says about the API as a whole: the conventions a client must know
/// before any single route.
const CONVENTIONS: &str = "\
Boardroom runs AI agent swarms that operate online businesses. This is its HTTP API.

**JSON in and out.** Request bodies are `application/json` (else 415) of at most 64 KiB \
(else 413). Every failure answers `{\"error\": {\"code\", \"message\", \"fields\"}}`: `code` \
is a stable machine-readable word, `fields` maps each offending input (a JSON path such as \
`brief.price`) to what is wrong with it.

**Unknown fields are rejected.** Every request body and query string is strict: a \
misspelt or unsupported field is a 422 (body) or 400 (query) naming it, never silently \
ignored. Request schemas say so with `additionalProperties: false`.

**Schemas are the rules.** Every rule a field has (length, pattern, range, allowed \
values) is in its schema, and bodies are read as JSON Schema reads them (`1.0` is an \
integer, an array is never an object). A body that breaks them is a 422 naming the fields \
at fault; a query value out of range is a 400. The few rules a schema cannot \
state (between two fields, or against the clock or the server's data) are said in \
words on the field and answered with the operation's documented 422.

**Pagination.** Lists take `?after=&limit=` (limit 1 to 100, default 50) and answer \
`{\"items\": [...], \"next_after\": id | null}`; pass `next_after` as `after` for the next page. \
Lists read newest first (a business's reports) page backwards instead: `?before=&limit=`, \
answering `next_before`.

**Ownership.** A business, product, campaign or token of another user answers 404 exactly \
like a missing one, so ids cannot be probed.

**Authentication.** Browsers log in (`POST /api/auth/login`) and send the \
`boardroom_session` cookie; every cookie-authenticated write (POST, PUT, PATCH, DELETE) \
must also send `X-CSRF-Token` with the `csrf_token` that login and profile return. \
Programs send `Authorization: Bearer br_…` (create one with `POST /api/auth/tokens`) \
and need no CSRF token. Each authenticated `/api/*` request counts against the tier's \
monthly API calls (429 with `Retry-After` beyond it); `/admin/*` needs an admin account.

**Money** is exact: decimal strings such as `\"19.99\"` in answers; requests accept a \
decimal string or a JSON number. **Times** are RFC 3339 in UTC.";

/// The document's frame, before any route is added: title, version, the conventions,
/// the tags in reading order, the security schemes and the shared error responses.
pub(crate) fn frame() -> OpenApi {
    let mut document = OpenApi::default();
    document.info.title = "Boardroom API".to_owned();
    document.info.version = env!("CARGO_PKG_VERSION").to_owned();
    document.info.description = Some(CONVENTIONS.to_owned());
    document.tags = Some(
        TAGS.iter()
            .map(|(name, description)| {
                let mut tag = Tag::new(*name);
                tag.description = Some((*description).to_owned());
                tag
            })
            .collect(),
    );
    let mut components = Components::new();
    components.schemas.insert(ErrorBody::name().into_owned(), ErrorBody::schema());
    let mut schemas = Vec::new();
    ErrorBody::schemas(&mut schemas);
    components.schemas.extend(schemas);
    components.security_schemes.insert(
        SESSION_COOKIE_SCHEME.to_owned(),
        SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
            "boardroom_session",
            "The session cookie set by `POST /api/auth/login`.",
        ))),
    );
    components.security_schemes.insert(
        CSRF_HEADER_SCHEME.to_owned(),
        SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
            "X-CSRF-Token",
            "The session's `csrf_token` (from login or profile); required on cookie-authenticated writes.",
        ))),
    );
    let mut bearer = Http::new(HttpAuthScheme::Bearer);
    bearer.bearer_format = Some("br_…".to_owned());
    bearer.description = Some("An API token from `POST /api/auth/tokens`; no CSRF token needed.".to_owned());
    components.security_schemes.insert(BEARER_TOKEN_SCHEME.to_owned(), SecurityScheme::Http(bearer));
    let mut metrics = Http::new(HttpAuthScheme::Bearer);
    metrics.description = Some("`METRICS_TOKEN` from the server's environment; for `GET /metrics` only.".to_owned());
    components.security_schemes.insert(METRICS_TOKEN_SCHEME.to_owned(), SecurityScheme::Http(metrics));
    for shared in SharedResponse::ALL {
        components.responses.insert(shared.name().to_owned(), RefOr::T(shared.response()));
    }
    document.components = Some(components);
    document
}

/// The tags, in the order the docs page shows them.
const TAGS: [(&str, &str); 14] = [
    ("accounts", "Sign-up, login, logout, the caller's profile and API tokens."),
    ("business", "The caller's businesses (tenants), each run by its own agent swarm."),
    ("products", "A business's products, and its agents' advice on one."),
    ("stores", "The external stores a business connects (credentials are sealed, never returned)."),
    ("marketing", "A business's campaigns and their spend."),
    ("social", "A business's social posts, their calendar and engagement."),
    ("finance", "A business's ledger, revenue goal and a linear projection."),
    ("ai", "A business's agents asked directly."),
    ("media", "A business's files (up to 10 MiB each, within the tier's file storage)."),
    (
        "live",
        "The live view's API: a business's swarm as server-sent events, its state, its charts' series and controls.",
    ),
    ("admin", "The admin panel: invites, private mode, users, tiers and live swarm controls. Needs an admin account."),
    ("webhooks", "Signed deliveries from Stripe and Shopify (bodies up to 1 MiB)."),
    ("system", "Health, metrics and this documentation."),
    ("pages", "The web pages (sign-up, login, dashboard, admin) and their built-in assets."),
];

/// The error responses many operations share, kept once under `components.responses`.
#[derive(Clone, Copy)]
enum SharedResponse {
    BadRequest,
    Unauthorized,
    Forbidden,
    PayloadTooLarge,
    UnsupportedMediaType,
    Validation,
    RateLimited,
    Unavailable,
    Internal,
}

impl SharedResponse {
    const ALL: [Self; 9] = [
        Self::BadRequest,
        Self::Unauthorized,
        Self::Forbidden,
        Self::PayloadTooLarge,
        Self::UnsupportedMediaType,
        Self::Validation,
        Self::RateLimited,
        Self::Unavailable,
        Self::Internal,
    ];

    fn name(self) -> &'static str {
        match self {
            Self::BadRequest => "BadRequest",
            Self::Unauthorized => "Unauthorized",
            Self::Forbidden => "Forbidden",
            Self::PayloadTooLarge => "PayloadTooLarge",
            Self::UnsupportedMediaType => "UnsupportedMediaType",
            Self::Validation => "ValidationFailed",
            Self::RateLimited => "RateLimited",
            Self::Unavailable => "Unavailable",
            Self::Internal => "Internal",
        }
    }

    fn status(self) -> &'static str {
        match self {
            Self::BadRequest => "400",
            Self::Unauthorized => "401",
            Self::Forbidden => "403",
            Self::PayloadTooLarge => "413",
            Self::UnsupportedMediaType => "415",
            Self::Validation => "422",
            Self::RateLimited => "429",
            Self::Unavailable => "503",
            Self::Internal => "500",
        }
    }

    fn response(self) -> Response {
        let description = match self {
            Self::BadRequest => "Malformed request: `invalid_json` (the body is not JSON), `invalid_query` (a \
                                 query parameter is invalid or unknown) or `invalid_path` (a path segment does \
                                 not parse); `fields` names the culprit."
                .to_owned(),
            Self::Unauthorized => "Not authenticated: `unauthorized` (no credentials), `invalid_token` or \
                                   `session_expired`."
                .to_owned(),
            Self::Forbidden => "Authenticated but not allowed: `csrf` (a cookie-authenticated write without the \
                                right `X-CSRF-Token`), `ip_not_allowed` (the account's IP allow-list), \
                                `forbidden` (an admin route called by a non-admin)."
                .to_owned(),
            Self::PayloadTooLarge => format!("`payload_too_large`: the body is over {MAX_BODY_BYTES} bytes."),
            Self::UnsupportedMediaType => "`unsupported_media_type`: the body is not `application/json`.".to_owned(),
            Self::Validation => "`validation`: well-formed JSON with wrong values; each field at fault (missing, \
                                 out of range, or **unknown**: unknown fields are rejected) is named in `fields` \
                                 by its JSON path."
                .to_owned(),
            Self::RateLimited => "`rate_limited`: too many requests (the tier's monthly API calls, login \
                                  attempts, or the business's agent throttle); retry after `Retry-After` seconds."
                .to_owned(),
            Self::Unavailable => "`unavailable`: a backing service (session store, agent, store platform) does \
                                  not answer; try again shortly."
                .to_owned(),
            Self::Internal => {
                "`internal`: a server fault; it has been logged, and its cause is never shown.".to_owned()
            }
        };
        let mut response = error_response(description);
        if let Self::RateLimited = self {
            let mut header = Header::new(u64::schema());
            header.description = Some("Whole seconds to wait before trying again (at least 1).".to_owned());
            response.headers.insert("Retry-After".to_owned(), header);
        }
        response
    }

    fn reference(self) -> RefOr<Response> {
        RefOr::Ref(Ref::from_response_name(self.name()))
    }
}

/// A response with the error body.
fn error_response(description: String) -> Response {
    let mut response = Response::new(description);
    response.content.insert("application/json".to_owned(), Content::new(Some(error_body_schema())));
    response
}

fn error_body_schema() -> RefOr<Schema> {
    RefOr::Ref(Ref::from_schema_name(ErrorBody::name()))
}

/// Adds what every operation shares (see the module docs) to each operation of `document`.
pub(crate) fn apply_conventions(document: &mut OpenApi) {
    for item in document.paths.paths.values_mut() {
        let operations = [
            (&mut item.get, false),
            (&mut item.head, false),
            (&mut item.options, false),
            (&mut item.post, true),
            (&mut item.put, true),
            (&mut item.patch, true),
            (&mut item.delete, true),
        ];
        for (operation, writes) in operations {
            if let Some(operation) = operation.as_mut() {
                apply_to_operation(operation, writes);
            }
        }
    }
}

fn apply_to_operation(operation: &mut Operation, writes: bool) {
    // utoipa names an operation after its handler, and handlers in different modules
    // share names (`create`, `list`); the tag (the module's area) makes it unique.
    if let (Some(id), Some(tag)) = (&operation.operation_id, operation.tags.as_ref().and_then(|tags| tags.first())) {
        operation.operation_id = Some(format!("{tag}_{id}"));
    }
    let security = operation.security.get_or_insert_with(|| {
        let session = if writes {
            SecurityRequirement::new(SESSION_COOKIE_SCHEME, Vec::<String>::new())
                .add(CSRF_HEADER_SCHEME, Vec::<String>::new())
        } else {
            SecurityRequirement::new(SESSION_COOKIE_SCHEME, Vec::<String>::new())
        };
        vec![session, SecurityRequirement::new(BEARER_TOKEN_SCHEME, Vec::<String>::new())]
    });
    // Only a route that needs a user's session or token can answer the user-related
    // errors (401 unauthenticated, 403 csrf or ip_not_allowed, 429 API calls, 503
    // sessions); a public route, even one that shows a user more (`/health`), cannot.
    let public = security.iter().any(|requirement| *requirement == SecurityRequirement::default());
    let for_users = security.iter().any(|requirement| {
        let names = serde_json::to_value(requirement).unwrap_or_default();
        names.get(SESSION_COOKIE_SCHEME).is_some() || names.get(BEARER_TOKEN_SCHEME).is_some()
    });
    let authenticated = for_users && !public;
    // Only the API's own JSON bodies (a named schema, or an optional one: `null` or the
    // schema) go through the strict `Json` extractor; a webhook's raw body (an inline
    // `object`) is read as bytes.
    let has_body = operation.request_body.as_ref().is_some_and(|body| {
        body.content.values().any(|content| matches!(content.schema, Some(RefOr::Ref(_) | RefOr::T(Schema::OneOf(_)))))
    });
    let has_parameters = operation.parameters.as_ref().is_some_and(|parameters| {
        parameters.iter().any(|parameter| matches!(parameter.parameter_in, ParameterIn::Query | ParameterIn::Path))
    });

    let responses = &mut operation.responses.responses;
    // A handler's own error statuses (404, 402, 409…) carry the one error body.
    for (status, response) in responses.iter_mut() {
        let is_error = status.starts_with('4') || status.starts_with('5');
        if let RefOr::T(response) = response
            && is_error
            && response.content.is_empty()
        {
            response.content.insert("application/json".to_owned(), Content::new(Some(error_body_schema())));
        }
    }
    let mut shared = vec![SharedResponse::Internal];
    if authenticated {
        shared.extend([
            SharedResponse::Unauthorized,
            SharedResponse::Forbidden,
            SharedResponse::RateLimited,
            SharedResponse::Unavailable,
        ]);
    }
    if has_body {
        shared.extend([
            SharedResponse::BadRequest,
            SharedResponse::PayloadTooLarge,
            SharedResponse::UnsupportedMediaType,
            SharedResponse::Validation,
        ]);
    }
    if has_parameters {
        shared.push(SharedResponse::BadRequest);
    }
    for response in shared {
        responses.entry(response.status().to_owned()).or_insert_with(|| response.reference());
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use serde_json::{Value, json};
    use utoipa::openapi::path::{HttpMethod, OperationBuilder, PathItem, PathsBuilder};
    use utoipa::openapi::request_body::RequestBodyBuilder;

    use super::*;

    fn document_with(method: HttpMethod, operation: Operation) -> Value {
        let mut document = frame();
        document.paths = PathsBuilder::new().path("/api/things", PathItem::new(method, operation)).build();
        apply_conventions(&mut document);
        serde_json::to_value(&document).expect("JSON")
    }

    #[test]
    fn an_operation_that_names_no_security_needs_a_session_or_a_token_and_writes_need_csrf() {
        let read = document_with(HttpMethod::Get, OperationBuilder::new().operation_id(Some("list")).build());
        let operation = &read["paths"]["/api/things"]["get"];
        assert_eq!(operation["security"], json!([{ "session_cookie": [] }, { "bearer_token": [] }]));
        for status in ["401", "403", "429", "500", "503"] {
            assert!(operation["responses"][status]["$ref"].is_string(), "{status}: {operation}");
        }
        assert!(operation["responses"]["422"].is_null(), "no body, no 422: {operation}");

        let body =
            RequestBodyBuilder::new().content("application/json", Content::new(Some(error_body_schema()))).build();
        let write = document_with(HttpMethod::Post, OperationBuilder::new().request_body(Some(body)).build());
        let operation = &write["paths"]["/api/things"]["post"];
        assert_eq!(operation["security"], json!([{ "session_cookie": [], "csrf_header": [] }, { "bearer_token": [] }]));
        for status in ["400", "413", "415", "422"] {
            assert!(operation["responses"][status]["$ref"].is_string(), "{status}: {operation}");
        }
    }

    #[test]
    fn a_public_operation_stays_public_and_its_own_errors_get_the_error_body() {
        let operation = OperationBuilder::new()
            .security(SecurityRequirement::default())
            .tag("accounts")
            .operation_id(Some("signup"))
            .response("404", Response::new("no such thing"))
            .response("204", Response::new("done"))
            .build();
        let document = document_with(HttpMethod::Post, operation);
        let operation = &document["paths"]["/api/things"]["post"];
        assert_eq!(operation["security"], json!([{}]));
        assert!(operation["responses"]["401"].is_null(), "public: {operation}");
        assert_eq!(operation["operationId"], "accounts_signup");
        assert_eq!(
            operation["responses"]["404"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/ErrorBody"
        );
        assert!(operation["responses"]["204"]["content"].is_null(), "a success keeps its empty body");
    }

    /// `routes!` is what ties a route to its documentation; a plain axum registration
    /// would serve a path the document does not have, so none may exist.
    #[test]
    fn routes_are_only_registered_with_their_documentation() {
        // Built from pieces so this file does not match itself.
        let bypasses = [[".", "route("].concat(), [".", "route_service("].concat(), [".", "nest("].concat()];
        let new_router = ["Router", "::new()"].concat();
        let new_documented_router = ["OpenApi", "Router", "::new()"].concat();
        let mut offenders = Vec::new();
        let mut folders = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("src")];
        while let Some(folder) = folders.pop() {
            for entry in std::fs::read_dir(&folder).expect("source folder").flatten() {
                let path = entry.path();
                if path.is_dir() {
                    folders.push(path);
                } else if path.extension().is_some_and(|extension| extension == "rs") {
                    // A bench's stand-in for an outside platform (bench_channels' X
                    // account) serves that platform's routes, not Boardroom's.
                    if path.file_name().is_some_and(|name| name.to_string_lossy().starts_with("bench_")) {
                        continue;
                    }
                    let source = std::fs::read_to_string(&path).expect("source file");
                    for (number, line) in source.lines().enumerate() {
                        if line.trim_start().starts_with("//") {
                            continue;
                        }
                        let bypass = bypasses.iter().any(|bypass| line.contains(bypass.as_str()));
                        let plain =
                            line.contains(new_router.as_str()) && !line.contains(new_documented_router.as_str());
                        if bypass || plain {
                            offenders.push(format!("{}:{}: {}", path.display(), number + 1, line.trim()));
                        }
                    }
                }
            }
        }
        assert!(offenders.is_empty(), "register routes with `.routes(routes!(handler))`:\n{}", offenders.join("\n"));
    }
}
