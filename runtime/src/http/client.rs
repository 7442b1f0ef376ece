//! Who the client is, behind a reverse proxy or not, and the response headers that
//! follow from how it came.
//!
//! Without `TRUSTED_PROXIES` the client is the TCP peer, and `X-Forwarded-For` and
//! `X-Forwarded-Proto` are ignored: any client can send them. When the peer *is* one of
//! the trusted proxies, the client address is the right-most address of
//! `X-Forwarded-For` that is not itself a trusted proxy (each proxy appends the address
//! it saw, so everything left of the first untrusted hop may be the client's own
//! invention), and the scheme is the right-most `X-Forwarded-Proto` (what the proxy
//! next to us says). That address is what login and sign-up limits count and what a
//! user's IP allow-list checks.
//!
//! The layer also sets, on the way out:
//! - `Strict-Transport-Security` when the request came over HTTPS (session cookies then
//!   carry `Secure`, see `auth::session`);
//! - `Cache-Control: no-store` on JSON answers to a request that carried credentials
//!   (a cookie or an `Authorization` header) and on every answer that sets a cookie, so
//!   no shared or browser cache keeps a user's data.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;

use super::auth::session::session_cookie;

/// `Strict-Transport-Security` for requests that came over HTTPS: a year.
const HSTS: &str = "max-age=31536000; includeSubDomains";

/// What the server believes about the client of a request (a request extension).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ClientFacts {
    /// The client's address: the TCP peer, or what a trusted proxy forwarded. `None`
    /// when the server was started without connection info (as in some tests).
    pub(crate) address: Option<IpAddr>,
    /// Whether the client reached us over HTTPS (as a trusted proxy says).
    pub(crate) https: bool,
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ClientFacts {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts.extensions.get::<ClientFacts>().copied().unwrap_or_else(|| ClientFacts {
            address: parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(address)| address.ip()),
            https: false,
        }))
    }
}

/// The proxies whose forwarding headers are believed.
#[derive(Debug, Clone, Default)]
pub(crate) struct ProxyTrust {
    proxies: Vec<IpNet>,
}

impl ProxyTrust {
    /// Believes the forwarding headers of peers in `proxies`.
    pub(crate) fn new(proxies: Vec<IpNet>) -> Self {
        Self { proxies }
    }

    fn trusts(&self, address: IpAddr) -> bool {
        let address = canonical(address);
        self.proxies.iter().any(|network| network.contains(&address))
    }

    /// The client of a request from `peer` with these headers.
    pub(crate) fn facts(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> ClientFacts {
        let Some(peer) = peer.map(canonical) else {
            return ClientFacts { address: None, https: false };
        };
        if !self.trusts(peer) {
            return ClientFacts { address: Some(peer), https: false };
        }
        let mut client = peer;
        let hops = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .collect::<Vec<_>>();
        for hop in hops.iter().rev() {
            // Something that is not an address ends the walk: the last trusted hop is
            // the best we know.
            let Some(address) = parse_hop(hop) else { break };
            client = address;
            if !self.trusts(address) {
                break;
            }
        }
        let https = headers
            .get_all("x-forwarded-proto")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .next_back()
            .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"));
        ClientFacts { address: Some(client), https }
    }
}

/// An IPv4 address mapped into IPv6 (`::ffff:10.0.0.1`, as a dual-stack listener
/// reports IPv4 peers) as the IPv4 address it is.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
        v4 => v4,
    }
}

/// One `X-Forwarded-For` entry: an address, possibly with a port (`10.0.0.1:5000`,
/// `[2001:db8::1]:5000`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>().ok().or_else(|| hop.parse::<SocketAddr>().ok().map(|socket| socket.ip())).map(canonical)
}

/// The middleware: puts [`ClientFacts`] in the request's extensions and sets the
/// response headers of the module docs.
pub(crate) async fn layer(State(trust): State<Arc<ProxyTrust>>, mut request: Request, next: Next) -> Response {
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(address)| address.ip());
    let facts = trust.facts(peer, request.headers());
    let credentialed =
        request.headers().contains_key(header::AUTHORIZATION) || session_cookie(request.headers()).is_some();
    request.extensions_mut().insert(facts);
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    if facts.https {
        headers.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static(HSTS));
    }
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"));
    let sets_cookie = headers.contains_key(header::SET_COOKIE);
    if ((credentialed && json) || sets_cookie) && !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    fn trust(list: &[&str]) -> ProxyTrust {
        let parse = |entry: &str| {
            entry.parse::<IpNet>().unwrap_or_else(|_| IpNet::from(entry.parse::<IpAddr>().expect("address")))
        };
        ProxyTrust::new(list.iter().map(|entry| parse(entry)).collect())
    }

    #[test]
    fn forwarding_headers_from_an_untrusted_peer_are_ignored() {
        let peer = Some(IpAddr::from([198, 51, 100, 1]));
        let spoofed = headers(&[("x-forwarded-for", "1.2.3.4"), ("x-forwarded-proto", "https")]);
        let facts = trust(&["10.0.0.0/8"]).facts(peer, &spoofed);
        assert_eq!(facts, ClientFacts { address: peer, https: false });
        assert_eq!(ProxyTrust::default().facts(peer, &spoofed).address, peer);
    }

    #[test]
    fn behind_trusted_proxies_the_right_most_untrusted_address_is_the_client() {
        let proxies = trust(&["10.0.0.0/8", "192.168.1.1/32"]);
        let peer = Some(IpAddr::from([10, 0, 0, 2]));
        // The client claimed 6.6.6.6; the edge proxy appended what it saw (203.0.113.5),
        // then an inner proxy appended the edge (192.168.1.1).
        let forwarded = headers(&[
            ("x-forwarded-for", "6.6.6.6, 203.0.113.5"),
            ("x-forwarded-for", "192.168.1.1"),
            ("x-forwarded-proto", "http, https"),
        ]);
        let facts = proxies.facts(peer, &forwarded);
        assert_eq!(facts, ClientFacts { address: Some(IpAddr::from([203, 0, 113, 5])), https: true });

        let all_trusted = headers(&[("x-forwarded-for", "10.1.1.1, 10.2.2.2")]);
        assert_eq!(proxies.facts(peer, &all_trusted).address, Some(IpAddr::from([10, 1, 1, 1])));
        let garbage = headers(&[("x-forwarded-for", "not-an-address, 10.2.2.2")]);
        assert_eq!(proxies.facts(peer, &garbage).address, Some(IpAddr::from([10, 2, 2, 2])));
        let with_port = headers(&[("x-forwarded-for", "203.0.113.5:4711")]);
        assert_eq!(proxies.facts(peer, &with_port).address, Some(IpAddr::from([203, 0, 113, 5])));
        assert_eq!(proxies.facts(peer, &HeaderMap::new()), ClientFacts { address: peer, https: false });
    }

    #[test]
    fn an_ipv4_mapped_peer_is_matched_as_ipv4() {
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().expect("address");
        let facts = trust(&["127.0.0.1"]).facts(Some(mapped), &headers(&[("x-forwarded-for", "192.0.2.9")]));
        assert_eq!(facts.address, Some(IpAddr::from([192, 0, 2, 9])));
    }
}
