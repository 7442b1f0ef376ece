//! Test support: local fakes of the platforms' APIs.

// Each test binary uses only its own platform's fake.
#![allow(dead_code)]

pub(crate) mod graphql;
pub(crate) mod gumroad_fake;
pub(crate) mod shopify_fake;
pub(crate) mod stripe_fake;
