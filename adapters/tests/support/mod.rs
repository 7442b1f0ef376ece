//! Test support: local fakes of the platforms' APIs.

pub(crate) mod graphql;
pub(crate) mod shopify_fake;
