//! Where Stripe's API is and how to sign in to it; the secret key never shows.

use std::fmt;

use crate::rest;
use crate::{AdapterError, Platform};

/// The `Stripe-Version` every request pins.
///
/// `2026-11-18.endive` is the release current when this adapter was written (late 2026;
/// the `endive` line began with `2026-09-30.endive`). Pinning it means an account whose
/// default version moves on does not change the shapes this client reads. Moving on
/// means reading Stripe's changelog for the operations used here (products, prices,
/// payment links, accounts and account links, refunds, checkout sessions, charges, and
/// the four webhook events) and re-running the stories against the fake with the new
/// version.
pub const STRIPE_API_VERSION: &str = "2026-11-18.endive";

/// The production API's origin.
pub const STRIPE_API_BASE: &str = "https://api.stripe.com";

/// A Stripe secret key (`sk_live_…`, `sk_test_…`) or restricted key (`rk_…`).
///
/// It never shows: `Debug` prints `[redacted]`, there is no `Display`, and the client
/// puts it in an `Authorization` header marked sensitive. [`StripeSecretKey::expose`] is
/// the one way to read it.
#[derive(Clone, PartialEq, Eq)]
pub struct StripeSecretKey(String);

impl StripeSecretKey {
    /// Wraps a key.
    pub fn new(key: impl Into<String>) -> Self {
        Self(key.into())
    }

    /// The key itself, for the request header and nothing else.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for StripeSecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StripeSecretKey([redacted])")
    }
}

/// A connection to Stripe's API as one platform account.
#[derive(Clone, PartialEq, Eq)]
pub struct StripeConnection {
    /// The API's origin: [`STRIPE_API_BASE`], or `http://127.0.0.1:{port}` for tests.
    /// Requests go to `{base_url}/v1/…`.
    pub base_url: String,
    /// The platform's secret key.
    pub secret_key: StripeSecretKey,
    /// The `Stripe-Version` sent with every request ([`STRIPE_API_VERSION`] unless
    /// pinned otherwise).
    pub stripe_version: String,
}

impl StripeConnection {
    /// A connection to the API at `base_url` with `secret_key`, on
    /// [`STRIPE_API_VERSION`].
    pub fn new(base_url: impl Into<String>, secret_key: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            secret_key: StripeSecretKey::new(secret_key),
            stripe_version: STRIPE_API_VERSION.to_owned(),
        }
    }

    /// A connection to the production API ([`STRIPE_API_BASE`]).
    pub fn live(secret_key: impl Into<String>) -> Self {
        Self::new(STRIPE_API_BASE, secret_key)
    }

    /// The same connection on another API version.
    pub fn with_stripe_version(mut self, stripe_version: impl Into<String>) -> Self {
        self.stripe_version = stripe_version.into();
        self
    }

    /// `{base_url}/v1`, or a rejection saying what is wrong with the address, the key or
    /// the version.
    pub fn api_root(&self) -> Result<String, AdapterError> {
        let origin = rest::origin(Platform::Stripe, "Stripe API address", &self.base_url, STRIPE_API_BASE)?;
        let key = self.secret_key.expose();
        if !(key.starts_with("sk_") || key.starts_with("rk_")) {
            // A publishable key (`pk_…`) or a webhook secret (`whsec_…`) pasted into the
            // wrong field: say so rather than let Stripe answer 401.
            return Err(AdapterError::rejected(
                Platform::Stripe,
                "the Stripe key must be a secret key (sk_…) or a restricted key (rk_…)",
            ));
        }
        if !is_api_version(&self.stripe_version) {
            return Err(AdapterError::rejected(
                Platform::Stripe,
                format!("{:?} is not a Stripe API version (YYYY-MM-DD.name)", self.stripe_version),
            ));
        }
        Ok(format!("{origin}/v1"))
    }
}

impl fmt::Debug for StripeConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StripeConnection")
            .field("base_url", &self.base_url)
            .field("secret_key", &self.secret_key)
            .field("stripe_version", &self.stripe_version)
            .finish()
    }
}

/// `YYYY-MM-DD.name` (a release line's name in lowercase letters), or a bare date as
/// versions before 2024 were.
fn is_api_version(version: &str) -> bool {
    let (date, name) = version.split_once('.').unwrap_or((version, "x"));
    let bytes = date.as_bytes();
    bytes.len() == 10
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && bytes.iter().enumerate().all(|(at, byte)| at == 4 || at == 7 || byte.is_ascii_digit())
        && !name.is_empty()
        && name.bytes().all(|byte| byte.is_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_api_root_is_the_origin_and_v1() {
        let live = StripeConnection::live("sk_live_abc");
        assert_eq!(live.api_root().expect("valid"), "https://api.stripe.com/v1");
        let local = StripeConnection::new("http://127.0.0.1:4242/", "rk_test_abc");
        assert_eq!(local.api_root().expect("valid"), "http://127.0.0.1:4242/v1");
    }

    #[test]
    fn keys_addresses_and_versions_that_are_not_are_refused() {
        for key in ["pk_live_abc", "whsec_abc", ""] {
            let error = StripeConnection::live(key).api_root().expect_err(key);
            assert!(error.to_string().contains("secret key"), "{error}");
        }
        StripeConnection::new("https://api.stripe.com/v1", "sk_test_x").api_root().expect_err("a path");
        for bad in ["2026-11-18.", "latest", "2026-1-18.endive", "2026-11-18.Endive"] {
            StripeConnection::live("sk_test_x").with_stripe_version(bad).api_root().expect_err(bad);
        }
        StripeConnection::live("sk_test_x").with_stripe_version("2023-10-16").api_root().expect("a dated version");
    }

    #[test]
    fn the_key_is_redacted_in_debug() {
        let connection = StripeConnection::live("sk_live_0123456789abcdef");
        let shown = format!("{connection:?} {:?}", connection.secret_key);
        assert!(!shown.contains("sk_live_0123456789abcdef"), "{shown}");
        assert!(shown.contains("[redacted]") && shown.contains(STRIPE_API_VERSION), "{shown}");
    }
}
