//! Where Gumroad's API is and how to sign in to it; the token never shows.

use std::fmt;

use crate::rest;
use crate::{AdapterError, Platform};

/// The production API's origin. Requests go to `{origin}/v2/…`.
pub const GUMROAD_API_BASE: &str = "https://api.gumroad.com";

/// A Gumroad OAuth access token (an application's "Generate access token", or one a
/// seller granted the platform's application).
///
/// It never shows: `Debug` prints `[redacted]`, there is no `Display`, and the client
/// scrubs it from every message (it travels as the `access_token` parameter, which
/// Gumroad takes in the query string of a `GET` and the form body of a `POST` or `PUT`).
/// [`GumroadAccessToken::expose`] is the one way to read it.
#[derive(Clone, PartialEq, Eq)]
pub struct GumroadAccessToken(String);

impl GumroadAccessToken {
    /// Wraps a token.
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into())
    }

    /// The token itself, for the `access_token` parameter and nothing else.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for GumroadAccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("GumroadAccessToken([redacted])")
    }
}

/// A connection to one seller's Gumroad account.
#[derive(Clone, PartialEq, Eq)]
pub struct GumroadConnection {
    /// The API's origin: [`GUMROAD_API_BASE`], or `http://127.0.0.1:{port}` for tests.
    pub base_url: String,
    /// The seller's access token.
    pub access_token: GumroadAccessToken,
}

impl GumroadConnection {
    /// A connection to the API at `base_url` with `access_token`.
    pub fn new(base_url: impl Into<String>, access_token: impl Into<String>) -> Self {
        Self { base_url: base_url.into(), access_token: GumroadAccessToken::new(access_token) }
    }

    /// A connection to the production API ([`GUMROAD_API_BASE`]).
    pub fn live(access_token: impl Into<String>) -> Self {
        Self::new(GUMROAD_API_BASE, access_token)
    }

    /// `{base_url}/v2`, or a rejection saying what is wrong with the address or token.
    pub fn api_root(&self) -> Result<String, AdapterError> {
        let origin = rest::origin(Platform::Gumroad, "Gumroad API address", &self.base_url, GUMROAD_API_BASE)?;
        let token = self.access_token.expose();
        if token.trim().is_empty() || token.chars().any(|character| character.is_whitespace() || character.is_control())
        {
            return Err(AdapterError::rejected(Platform::Gumroad, "the Gumroad access token is empty or malformed"));
        }
        Ok(format!("{origin}/v2"))
    }
}

impl fmt::Debug for GumroadConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GumroadConnection")
            .field("base_url", &self.base_url)
            .field("access_token", &self.access_token)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_api_root_is_the_origin_and_v2() {
        assert_eq!(GumroadConnection::live("tok").api_root().expect("valid"), "https://api.gumroad.com/v2");
        let local = GumroadConnection::new("http://127.0.0.1:9000/", "tok");
        assert_eq!(local.api_root().expect("valid"), "http://127.0.0.1:9000/v2");
        GumroadConnection::new("https://api.gumroad.com/v2", "tok").api_root().expect_err("a path");
        GumroadConnection::live(" ").api_root().expect_err("no token");
        GumroadConnection::live("a b").api_root().expect_err("a space");
    }

    #[test]
    fn the_token_is_redacted_in_debug() {
        let connection = GumroadConnection::live("gr_0123456789abcdef");
        let shown = format!("{connection:?} {:?}", connection.access_token);
        assert!(!shown.contains("gr_0123456789abcdef") && shown.contains("[redacted]"), "{shown}");
    }
}
