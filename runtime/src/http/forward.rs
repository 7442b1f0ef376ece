//! Requests for a business whose swarm runs on another node are answered by that node.
//!
//! A request that needs a swarm (an agent's advice, `run-cycle`, a throttle change, a
//! pause) and reaches a node that does not run it meets the swarm's lease held
//! elsewhere; instead of answering 503, this node passes the request on to the node that
//! holds the lease, over HTTP, and answers with that node's answer (`X-Boardroom-Node`
//! names it). Node-to-node HTTP, because every node already serves the API on the
//! address it records in `cluster_nodes`, and authentication, limits and errors then
//! work exactly as for a request that reached the right node first.
//!
//! The passed-on request carries `X-Boardroom-Forwarded`: the sending node, the time,
//! the client's address and scheme, and an HMAC under `SECRET_KEY` (which every node
//! shares) over those, the method, the path and the body's digest. The receiving node
//! checks it (a forged or stale one is refused 403), takes the client's address from it
//! and does not count the request against the caller's monthly API calls again, and
//! never passes it on a second time. A request body larger than the JSON limit, or one
//! of unknown length, is not kept for passing on: such a request answers 503 as before.

use std::net::IpAddr;
use std::sync::LazyLock;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

use super::ApiState;
use super::client::ClientFacts;
use super::error::ApiError;
use super::extract::MAX_BODY_BYTES;
use crate::config::SecretKey;

/// The header a passed-on request carries.
pub(crate) const FORWARDED: HeaderName = HeaderName::from_static("x-boardroom-forwarded");
/// The header naming the node that answered a passed-on request.
pub(crate) const ANSWERED_BY: HeaderName = HeaderName::from_static("x-boardroom-node");
/// How far a passed-on request's time may be from the receiver's clock.
const FRESH_FOR_MS: i64 = 60_000;

/// Set on an error response by a request that met the swarm's lease held by `0`.
#[derive(Debug, Clone)]
pub(crate) struct HeldBy(pub(crate) String);

/// Set on a request another node passed on, checked: it was metered there.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PassedOn;

/// Passes a request to the node that runs its business (see the module docs).
pub(crate) async fn to_owner(State(state): State<ApiState>, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    let keepable = content_length(&parts.headers).is_some_and(|length| length <= MAX_BODY_BYTES as u64)
        || (parts.headers.get(header::CONTENT_LENGTH).is_none()
            && parts.headers.get(header::TRANSFER_ENCODING).is_none());
    if !keepable {
        return next.run(Request::from_parts(parts, body)).await;
    }
    let Ok(body) = axum::body::to_bytes(body, MAX_BODY_BYTES).await else {
        return ApiError::PayloadTooLarge { limit: MAX_BODY_BYTES }.into_response();
    };
    if let Some(stamp) = parts.headers.remove(FORWARDED) {
        let Some(client) = verified(&state, &stamp, &parts.method, &parts.uri, &body) else {
            return ApiError::forbidden("forwarding", "the request's forwarding stamp is not valid").into_response();
        };
        parts.extensions.insert(client);
        parts.extensions.insert(PassedOn);
        return next.run(Request::from_parts(parts, Body::from(body))).await;
    }
    let method = parts.method.clone();
    let uri = parts.uri.clone();
    let headers = parts.headers.clone();
    let facts = parts.extensions.get::<ClientFacts>().copied();
    let response = next.run(Request::from_parts(parts, Body::from(body.clone()))).await;
    let Some(HeldBy(node)) = response.extensions().get::<HeldBy>().cloned() else { return response };
    if node == state.app.settings.node.name {
        return response;
    }
    match pass_on(&state, &node, &method, &uri, &headers, body, facts).await {
        Ok(answer) => answer,
        Err(error) => {
            tracing::warn!(%error, node = %node, path = %uri.path(), "request not passed on to the node that runs the business");
            response
        }
    }
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers.get(header::CONTENT_LENGTH)?.to_str().ok()?.parse().ok()
}

/// One client for every passed-on request, so connections to the other nodes are kept.
static CLIENT: LazyLock<reqwest::Client> = LazyLock::new(|| {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_default()
});

/// Headers that describe one connection, not the request: never passed on.
fn is_hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "host"
            | "content-length"
    )
}

async fn pass_on(
    state: &ApiState,
    node: &str,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Bytes,
    facts: Option<ClientFacts>,
) -> anyhow::Result<Response> {
    let (_, nodes) = state.app.store.cluster_nodes().await?;
    let owner = nodes
        .into_iter()
        .find(|candidate| candidate.name == node)
        .ok_or_else(|| anyhow::anyhow!("the node is not in the cluster"))?;
    let path = uri.path_and_query().map_or(uri.path(), |path| path.as_str());
    let url = format!("{}{path}", owner.address.trim_end_matches('/'));
    let stamp = Stamp {
        node: state.app.settings.node.name.clone(),
        at_ms: chrono::Utc::now().timestamp_millis(),
        client: facts.and_then(|facts| facts.address),
        https: facts.is_some_and(|facts| facts.https),
    };
    let mut request = CLIENT.request(method.clone(), &url).body(body.clone());
    for (name, value) in headers {
        if !is_hop_by_hop(name) {
            request = request.header(name, value);
        }
    }
    let signed = stamp.signed(&state.app.settings.secret_key, method, path, &body);
    let answer = request.header(FORWARDED, signed).send().await?;
    let status = answer.status();
    let mut response = Response::builder().status(status);
    for (name, value) in answer.headers() {
        if !is_hop_by_hop(name) {
            response = response.header(name, value);
        }
    }
    let bytes = answer.bytes().await?;
    let mut response = response.body(Body::from(bytes))?;
    if let Ok(value) = HeaderValue::from_str(node) {
        response.headers_mut().insert(ANSWERED_BY, value);
    }
    tracing::debug!(node, path, status = status.as_u16(), "request passed on to the node that runs the business");
    Ok(response)
}

/// What a passed-on request says of itself.
#[derive(Debug, PartialEq)]
struct Stamp {
    node: String,
    at_ms: i64,
    client: Option<IpAddr>,
    https: bool,
}

impl Stamp {
    /// `node;at_ms;client;https;mac`, the MAC over those and the request.
    fn signed(&self, secret: &SecretKey, method: &Method, path: &str, body: &[u8]) -> String {
        let fields = self.fields();
        let mac = mac_over(secret, &fields, method, path, body).finalize().into_bytes();
        format!("{fields};{}", hex::encode(mac))
    }

    fn fields(&self) -> String {
        let client = self.client.map(|address| address.to_string()).unwrap_or_default();
        format!("{};{};{client};{}", self.node, self.at_ms, u8::from(self.https))
    }

    /// The stamp in `value`, if its MAC is right for this request under `secret`.
    fn parse(value: &str, secret: &SecretKey, method: &Method, path: &str, body: &[u8]) -> Option<Self> {
        let (fields, mac_hex) = value.rsplit_once(';')?;
        let given = hex::decode(mac_hex).ok()?;
        mac_over(secret, fields, method, path, body).verify_slice(&given).ok()?;
        let mut parts = fields.split(';');
        let node = parts.next()?.to_owned();
        let at_ms = parts.next()?.parse().ok()?;
        let client = match parts.next()? {
            "" => None,
            address => Some(address.parse().ok()?),
        };
        let https = parts.next()? == "1";
        parts.next().is_none().then_some(Self { node, at_ms, client, https })
    }
}

fn mac_over(secret: &SecretKey, fields: &str, method: &Method, path: &str, body: &[u8]) -> Hmac<Sha256> {
    // A key of any length is accepted by HMAC.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.expose().as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(fields.as_bytes());
    mac.update(b"\n");
    mac.update(method.as_str().as_bytes());
    mac.update(b"\n");
    mac.update(path.as_bytes());
    mac.update(b"\n");
    mac.update(&Sha256::digest(body));
    mac
}

/// The client a passed-on request stands for, if its stamp is valid and fresh.
fn verified(state: &ApiState, stamp: &HeaderValue, method: &Method, uri: &Uri, body: &[u8]) -> Option<ClientFacts> {
    let path = uri.path_and_query().map_or(uri.path(), |path| path.as_str());
    let value = stamp.to_str().ok()?;
    let settings = &state.app.settings;
    let stamp = std::iter::once(&settings.secret_key)
        .chain(settings.secret_key_previous.as_ref())
        .find_map(|secret| Stamp::parse(value, secret, method, path, body))?;
    let age = (chrono::Utc::now().timestamp_millis() - stamp.at_ms).abs();
    if age > FRESH_FOR_MS || stamp.node == settings.node.name {
        return None;
    }
    Some(ClientFacts { address: stamp.client, https: stamp.https })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> SecretKey {
        SecretKey::new("a shared secret of every node, 32+ characters long")
    }

    #[test]
    fn a_stamp_reads_back_only_for_the_request_it_was_made_for() {
        let stamp =
            Stamp { node: "node-a".into(), at_ms: 1_700_000_000_000, client: "203.0.113.9".parse().ok(), https: true };
        let path = "/api/live/7/run-cycle?x=1";
        let signed = stamp.signed(&secret(), &Method::POST, path, b"{}");
        assert_eq!(Stamp::parse(&signed, &secret(), &Method::POST, path, b"{}"), Some(stamp));
        assert_eq!(Stamp::parse(&signed, &secret(), &Method::POST, path, b"{\"a\":1}"), None, "another body");
        assert_eq!(Stamp::parse(&signed, &secret(), &Method::PUT, path, b"{}"), None, "another method");
        assert_eq!(
            Stamp::parse(&signed, &secret(), &Method::POST, "/api/live/8/run-cycle", b"{}"),
            None,
            "another path"
        );
        let other = SecretKey::new("another secret entirely, also 32+ characters");
        assert_eq!(Stamp::parse(&signed, &other, &Method::POST, path, b"{}"), None, "another secret");
        let forged = signed.replacen("node-a;", "node-z;", 1);
        assert_eq!(Stamp::parse(&forged, &secret(), &Method::POST, path, b"{}"), None, "a changed field");
    }

    #[test]
    fn a_stamp_without_a_client_address_reads_back_too() {
        let stamp = Stamp { node: "n".into(), at_ms: 5, client: None, https: false };
        let signed = stamp.signed(&secret(), &Method::GET, "/api/x", b"");
        assert_eq!(Stamp::parse(&signed, &secret(), &Method::GET, "/api/x", b""), Some(stamp));
        assert_eq!(Stamp::parse("garbage", &secret(), &Method::GET, "/api/x", b""), None);
    }
}
