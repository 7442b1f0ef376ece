//! Keys that make side-effecting platform calls safe to retry.

use std::fmt;

use boardroom_memory::TenantId;
use serde::{Deserialize, Serialize};

/// A key that makes a side-effecting platform call safe to retry.
///
/// It is derived from *what* is being done (tenant, autopilot cycle, step, and the
/// item acted on), never from when, so the call repeated after a crash carries the same
/// key and the platform (or the sandbox) replays the first result instead of acting
/// again.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// The key for `item` acted on in `step` of autopilot cycle `cycle`.
    pub fn for_step(tenant: TenantId, cycle: i64, step: &str, item: &str) -> Self {
        let name = format!("boardroom/{tenant}/{cycle}/{step}/{item}");
        // A name-based UUID keeps keys short (platforms cap them, Stripe at 255) and
        // opaque while staying a pure function of the name.
        Self(uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, name.as_bytes()).to_string())
    }

    /// The key of one `part` of the call this key is for, when that call is several
    /// requests to the platform (a Stripe listing is a product, a price and a payment
    /// link): each request needs a key of its own, as the platform refuses one key for
    /// different requests, and each is still a pure function of this key, so the call
    /// resumed after a crash sends every part with the key it had the first time.
    pub fn part(&self, part: &str) -> Self {
        let name = format!("{}/{part}", self.0);
        Self(uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, name.as_bytes()).to_string())
    }

    /// The key as sent on the wire.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_step_gets_the_same_key_and_another_step_another() {
        let first = IdempotencyKey::for_step(TenantId(7), 3, "store_setup", "product-1");
        let again = IdempotencyKey::for_step(TenantId(7), 3, "store_setup", "product-1");
        let next_cycle = IdempotencyKey::for_step(TenantId(7), 4, "store_setup", "product-1");
        let other_tenant = IdempotencyKey::for_step(TenantId(8), 3, "store_setup", "product-1");
        assert_eq!(first, again);
        assert_ne!(first, next_cycle);
        assert_ne!(first, other_tenant);
        assert!(first.as_str().len() <= 255);
    }

    #[test]
    fn the_parts_of_a_call_get_keys_of_their_own_that_a_resumed_call_gets_again() {
        let call = IdempotencyKey::for_step(TenantId(7), 3, "store_setup", "product-1");
        let product = call.part("product");
        assert_eq!(product, IdempotencyKey::for_step(TenantId(7), 3, "store_setup", "product-1").part("product"));
        assert_ne!(product, call.part("price"));
        assert_ne!(product, call);
        assert_ne!(product, IdempotencyKey::for_step(TenantId(7), 4, "store_setup", "product-1").part("product"));
        assert!(product.as_str().len() <= 255);
    }
}
