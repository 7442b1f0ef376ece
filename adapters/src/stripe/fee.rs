//! The platform's share of each sale made through a tenant's connected account.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{AdapterError, Platform};

/// The share of a sale the platform keeps as its fee, in basis points (1 % = 100), from
/// 5 % to 10 %; 7 % unless a tenant's plan says otherwise.
///
/// A parsed value: a share outside the range cannot be made, so a fee computed from one
/// is always within what tenants agreed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct PlatformFeeShare(u32);

impl PlatformFeeShare {
    /// The smallest share, 5 %.
    pub const MIN: Self = Self(500);
    /// The largest share, 10 %.
    pub const MAX: Self = Self(1000);
    /// The default share, 7 %.
    pub const DEFAULT: Self = Self(700);

    /// A share of `basis_points` hundredths of a percent (700 is 7 %), or a rejection
    /// when it is outside 5–10 %.
    pub fn from_basis_points(basis_points: u32) -> Result<Self, AdapterError> {
        if (Self::MIN.0..=Self::MAX.0).contains(&basis_points) {
            Ok(Self(basis_points))
        } else {
            Err(AdapterError::rejected(
                Platform::Stripe,
                format!(
                    "a platform fee share of {}.{:02} % is outside the 5–10 % range",
                    basis_points / 100,
                    basis_points % 100
                ),
            ))
        }
    }

    /// The share in basis points.
    pub fn basis_points(self) -> u32 {
        self.0
    }

    /// The fee on `amount` minor units: see [`platform_fee`].
    pub fn fee_on(self, amount: u64) -> u64 {
        platform_fee(amount, self)
    }
}

impl Default for PlatformFeeShare {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl fmt::Display for PlatformFeeShare {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02} %", self.0 / 100, self.0 % 100)
    }
}

impl TryFrom<u32> for PlatformFeeShare {
    type Error = AdapterError;

    fn try_from(basis_points: u32) -> Result<Self, Self::Error> {
        Self::from_basis_points(basis_points)
    }
}

impl From<PlatformFeeShare> for u32 {
    fn from(share: PlatformFeeShare) -> Self {
        share.0
    }
}

/// The platform's fee on a sale of `amount` minor units (cents for USD): `amount ×
/// share`, rounded half up to a whole minor unit (7 % of 250 is 17.5, so 18).
///
/// Computed in 128 bits, so no amount overflows, and the fee is never more than the
/// amount (the share is at most 10 %). This is what goes in
/// `application_fee_amount`; the rest of the sale goes to the tenant's account.
pub fn platform_fee(amount: u64, share: PlatformFeeShare) -> u64 {
    let scaled = u128::from(amount) * u128::from(share.0) + 5_000;
    // ≤ amount × 0.1 + 0.5, so it fits back in a u64.
    u64::try_from(scaled / 10_000).unwrap_or(amount)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fee_is_the_share_rounded_half_up() {
        let seven = PlatformFeeShare::default();
        assert_eq!(seven.basis_points(), 700);
        assert_eq!(platform_fee(2_500, seven), 175);
        assert_eq!(platform_fee(250, seven), 18, "17.5 rounds up");
        assert_eq!(platform_fee(249, seven), 17, "17.43 rounds down");
        assert_eq!(platform_fee(50, PlatformFeeShare::MIN), 3, "2.5 rounds up");
        assert_eq!(platform_fee(1_999, PlatformFeeShare::MAX), 200, "199.9");
    }

    #[test]
    fn nothing_and_one_cent_are_handled() {
        for share in [PlatformFeeShare::MIN, PlatformFeeShare::DEFAULT, PlatformFeeShare::MAX] {
            assert_eq!(platform_fee(0, share), 0);
            assert_eq!(platform_fee(1, share), 0, "a fraction of a cent rounds to nothing");
        }
        assert_eq!(platform_fee(5, PlatformFeeShare::MAX), 1, "0.5 rounds up");
        assert_eq!(platform_fee(7, PlatformFeeShare::DEFAULT), 0, "0.49 rounds down");
    }

    #[test]
    fn huge_amounts_do_not_overflow() {
        assert_eq!(platform_fee(u64::MAX, PlatformFeeShare::MAX), u64::MAX / 10 + 1, "…615.5 rounds up");
        assert_eq!(platform_fee(u64::MAX, PlatformFeeShare::MIN), 922_337_203_685_477_581);
        assert!(platform_fee(u64::MAX, PlatformFeeShare::DEFAULT) < u64::MAX);
    }

    #[test]
    fn shares_outside_five_to_ten_percent_are_refused() {
        assert_eq!(PlatformFeeShare::from_basis_points(500).expect("5 %"), PlatformFeeShare::MIN);
        assert_eq!(PlatformFeeShare::from_basis_points(1000).expect("10 %"), PlatformFeeShare::MAX);
        for bad in [0, 499, 1001, 10_000] {
            let error = PlatformFeeShare::from_basis_points(bad).expect_err("out of range");
            assert!(error.to_string().contains("5–10 %"), "{error}");
        }
        assert!(serde_json::from_str::<PlatformFeeShare>("1500").is_err());
        assert_eq!(serde_json::from_str::<PlatformFeeShare>("650").expect("6.5 %").to_string(), "6.50 %");
    }
}
