//! Exact money at the simulator's boundary: demand math runs in `f64`, every amount that
//! leaves it is whole cents in a [`Decimal`].

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};

/// Card fee rate per sale: 2.9 %, Stripe's standard online rate.
pub(super) const FEE_RATE: Decimal = Decimal::from_parts(29, 0, 0, false, 3);
/// Fixed card fee per sale: 0.30.
pub(super) const FEE_FIXED: Decimal = Decimal::from_parts(30, 0, 0, false, 2);
/// The smallest price a product may have: 0.50, Stripe's minimum charge in USD.
pub(super) const MIN_PRICE: Decimal = Decimal::from_parts(50, 0, 0, false, 2);
/// The largest price (and daily ad budget) the sandbox accepts; a typo guard.
pub(super) const MAX_AMOUNT: Decimal = Decimal::from_parts(100_000, 0, 0, false, 0);
/// The smallest daily ad budget: 1.00, as on Google and Meta.
pub(super) const MIN_DAILY_BUDGET: Decimal = Decimal::ONE;

/// `amount` rounded to cents, half away from zero (as card processors round).
pub(super) fn round_cents(amount: Decimal) -> Decimal {
    amount.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

/// A float number of cents as exact money.
pub(super) fn cents_from_f64(cents: f64) -> Decimal {
    if cents.is_finite() { Decimal::new(cents.round() as i64, 2) } else { Decimal::ZERO }
}

/// Money as a float, for demand math only.
pub(super) fn to_f64(amount: Decimal) -> f64 {
    amount.to_f64().unwrap_or(0.0)
}

/// The card fee on one sale at `price`: 2.9 % + 0.30, rounded to cents per sale (each
/// sale is its own charge).
pub(super) fn payment_fee(price: Decimal) -> Decimal {
    round_cents(price * FEE_RATE + FEE_FIXED)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fee_on_a_sale_is_2_9_percent_plus_30_cents_in_whole_cents() {
        assert_eq!(payment_fee(Decimal::new(1000, 2)), Decimal::new(59, 2));
        assert_eq!(payment_fee(Decimal::new(1900, 2)), Decimal::new(85, 2)); // 0.851
        assert_eq!(payment_fee(Decimal::new(49700, 2)), Decimal::new(1471, 2)); // 14.713
        assert_eq!(FEE_RATE.to_string(), "0.029");
        assert_eq!(MIN_PRICE.to_string(), "0.50");
    }

    #[test]
    fn float_cents_become_exact_money() {
        assert_eq!(cents_from_f64(1_999.4), Decimal::new(1999, 2));
        assert_eq!(cents_from_f64(f64::NAN), Decimal::ZERO);
    }
}
