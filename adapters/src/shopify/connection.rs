//! Where a tenant's shop is and how to sign in to it; the token never shows.

use std::fmt;

use reqwest::Url;

use crate::{AdapterError, Platform};

/// The Admin API version this adapter is written against. Shopify releases one a
/// quarter and supports each for a year; moving on means re-reading the changelog and
/// re-running the tests against the fake with the new shapes.
pub const SHOPIFY_API_VERSION: &str = "2026-10";

/// An Admin API access token (`shpat_…`, or a custom app's token).
///
/// It never shows: `Debug` prints `[redacted]`, there is no `Display`, and the client
/// puts it in a header marked sensitive. [`ShopifyAccessToken::expose`] is the one way
/// to read it.
#[derive(Clone, PartialEq, Eq)]
pub struct ShopifyAccessToken(String);

impl ShopifyAccessToken {
    /// Wraps a token.
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into())
    }

    /// The token itself, for the request header and nothing else.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ShopifyAccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ShopifyAccessToken([redacted])")
    }
}

/// A connection to one shop's GraphQL Admin API.
#[derive(Clone, PartialEq, Eq)]
pub struct ShopifyConnection {
    /// The shop's origin: `https://{shop}.myshopify.com`, or `http://127.0.0.1:{port}`
    /// for tests and staging. Nothing after the host (a trailing `/` is fine).
    pub base_url: String,
    /// The shop's Admin API access token.
    pub access_token: ShopifyAccessToken,
    /// The Admin API version, `YYYY-MM` ([`SHOPIFY_API_VERSION`] unless pinned otherwise).
    pub api_version: String,
}

impl ShopifyConnection {
    /// A connection to the shop at `base_url` with `access_token`, on
    /// [`SHOPIFY_API_VERSION`].
    pub fn new(base_url: impl Into<String>, access_token: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            access_token: ShopifyAccessToken::new(access_token),
            api_version: SHOPIFY_API_VERSION.to_owned(),
        }
    }

    /// The same connection on another API version.
    pub fn with_api_version(mut self, api_version: impl Into<String>) -> Self {
        self.api_version = api_version.into();
        self
    }

    /// `{base_url}/admin/api/{api_version}/graphql.json`, or a rejection saying what is
    /// wrong with the address or the version.
    pub fn endpoint(&self) -> Result<String, AdapterError> {
        let refuse = |message: String| AdapterError::rejected(Platform::Shopify, message);
        let url = Url::parse(self.base_url.trim())
            .map_err(|error| refuse(format!("the shop address {:?} is not a URL: {error}", self.base_url)))?;
        if !matches!(url.scheme(), "https" | "http") || url.host_str().is_none() {
            return Err(refuse(format!("the shop address {:?} must be an http(s) origin", self.base_url)));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(refuse("the shop address must not carry a user name or password".to_owned()));
        }
        if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
            return Err(refuse(format!(
                "the shop address {:?} must be an origin only, like https://example.myshopify.com",
                self.base_url
            )));
        }
        if !is_api_version(&self.api_version) {
            return Err(refuse(format!(
                "{:?} is not an Admin API version (YYYY-MM, or \"unstable\")",
                self.api_version
            )));
        }
        let origin = url.as_str().trim_end_matches('/');
        Ok(format!("{origin}/admin/api/{}/graphql.json", self.api_version))
    }
}

impl fmt::Debug for ShopifyConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShopifyConnection")
            .field("base_url", &self.base_url)
            .field("access_token", &self.access_token)
            .field("api_version", &self.api_version)
            .finish()
    }
}

fn is_api_version(version: &str) -> bool {
    let bytes = version.as_bytes();
    version == "unstable"
        || (bytes.len() == 7
            && bytes[4] == b'-'
            && bytes.iter().enumerate().all(|(at, byte)| at == 4 || byte.is_ascii_digit())
            && matches!(&version[5..], "01" | "04" | "07" | "10"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_endpoint_is_the_origin_the_version_and_graphql_json() {
        let connection = ShopifyConnection::new("https://mugs.myshopify.com/", "shpat_secret");
        assert_eq!(connection.endpoint().expect("valid"), "https://mugs.myshopify.com/admin/api/2026-10/graphql.json");
        let local = ShopifyConnection::new("http://127.0.0.1:4321", "t").with_api_version("2026-07");
        assert_eq!(local.endpoint().expect("valid"), "http://127.0.0.1:4321/admin/api/2026-07/graphql.json");
    }

    #[test]
    fn addresses_and_versions_that_are_not_are_refused() {
        for bad in
            ["mugs.myshopify.com", "ftp://mugs.myshopify.com", "https://mugs.myshopify.com/admin", "https://u:p@x.com"]
        {
            let error = ShopifyConnection::new(bad, "t").endpoint().expect_err(bad);
            assert!(!error.is_retryable(), "{bad}");
        }
        for bad in ["2026-1", "2026-13", "latest", "2026-02"] {
            ShopifyConnection::new("https://x.myshopify.com", "t").with_api_version(bad).endpoint().expect_err(bad);
        }
    }

    #[test]
    fn the_token_is_redacted_in_debug() {
        let connection = ShopifyConnection::new("https://mugs.myshopify.com", "shpat_0123456789abcdef");
        let shown = format!("{connection:?} {:?}", connection.access_token);
        assert!(!shown.contains("shpat_0123456789abcdef"), "{shown}");
        assert!(shown.contains("[redacted]") && shown.contains("mugs.myshopify.com"), "{shown}");
    }
}
