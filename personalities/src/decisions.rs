//! The numbers a personality resolves to: how much risk it takes, where it prices, how
//! it splits its budget and its marketing effort, and how much profit it puts back.
//!
//! Money-shaped ratios (prices, margins, budget shares, reinvestment) are `Decimal`, so
//! a budget split that must sum to 1 is checked exactly; the two unitless scores
//! (`risk_appetite` and the channel weights) are `f64`.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::PersonalityError;

/// The numeric decision parameters of a personality, the `[decisions]` table of its
/// TOML profile. Every value is checked when the profile is loaded; see each field for
/// its range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionParameters {
    /// Appetite for risk, in [0, 1]: 0 avoids every bet, 1 takes any bet with a
    /// positive expected return. See [`DecisionParameters::risk_accepts`].
    pub risk_appetite: f64,
    /// Multiplier on the market reference price (the competitors' median) that the
    /// pricing agent aims at, in [0.5, 3.0]: below 1 undercuts, above 1 is premium.
    pub price_positioning: Decimal,
    /// The largest relative price move the pricing agent makes in one cycle, in
    /// (0, 0.5]: 0.10 means a price moves at most 10% up or down per cycle.
    pub max_price_change: Decimal,
    /// How the marketing budget is split between ads, content and tools.
    pub budget_split: BudgetSplit,
    /// Relative effort put into each marketing channel.
    pub channel_weights: ChannelWeights,
    /// Share of the profit above the reinvestment threshold that is put back into the
    /// business, in [0, 1].
    pub reinvestment_rate: Decimal,
    /// The smallest margin over cost plus fees the pricing agent accepts, in [0, 0.9]:
    /// 0.30 means a price must be at least 1.30 × (cost + fees).
    pub min_margin: Decimal,
}

/// Shares of the marketing budget, each in [0, 1] and summing to exactly 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetSplit {
    /// Share spent on paid advertising.
    pub ads: Decimal,
    /// Share spent on content production (articles, videos, copy).
    pub content: Decimal,
    /// Share spent on tools and software.
    pub tools: Decimal,
}

/// Relative weights of the marketing channels: non-negative, at least one positive.
/// They need not sum to 1; [`ChannelWeights::normalized`] scales them so they do.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelWeights {
    /// Paid search (Google Ads).
    pub search_ads: f64,
    /// Paid social (Meta Ads, TikTok ads).
    pub social_ads: f64,
    /// Search-optimised articles and pages.
    pub seo_content: f64,
    /// Unpaid social posts, viral content, influencer partnerships.
    pub social_organic: f64,
    /// Mailing lists and newsletters.
    pub email: f64,
}

/// The ROI a profile with no risk appetite would demand of a bet that cannot lose; the
/// hurdle shrinks linearly to 0 as the appetite grows to 1.
const BASE_ROI_HURDLE: f64 = 0.10;

/// Extra ROI demanded per unit of loss probability, at zero appetite: a bet that loses
/// half the time must promise 50 points more ROI than a safe one.
const LOSS_PROBABILITY_PREMIUM: f64 = 1.0;

impl DecisionParameters {
    /// Decides whether to take a bet (a product to flip, a campaign to launch).
    ///
    /// - `expected_roi`: expected return on the money put in, as a fraction
    ///   (0.25 means the bet is expected to return the stake plus 25%).
    /// - `loss_probability`: the estimated chance, in [0, 1], that the bet loses money.
    ///
    /// With `a` the risk appetite and `p` the loss probability, the bet is taken when
    /// both hold:
    ///
    /// 1. `p < a`: the appetite caps the chance of losing that is tolerated, so an
    ///    appetite of 0 takes no bet at all;
    /// 2. `expected_roi > (1 − a) × (0.10 + p)`: the return must clear a hurdle that
    ///    grows with the chance of losing and shrinks to 0 as the appetite reaches 1,
    ///    where any bet with a positive expected return passes.
    ///
    /// A higher appetite therefore accepts lower expected returns and higher loss
    /// probabilities: every bet taken at some appetite is also taken at any higher one.
    /// The rule is deterministic. Inputs it cannot judge (NaN, infinite, or a loss
    /// probability outside [0, 1]) are refused; an appetite outside [0, 1], which only a
    /// hand-built value can have, is clamped into it and NaN counts as 0.
    pub fn risk_accepts(&self, expected_roi: f64, loss_probability: f64) -> bool {
        if !expected_roi.is_finite() || !(0.0..=1.0).contains(&loss_probability) {
            return false;
        }
        let appetite = if self.risk_appetite.is_nan() { 0.0 } else { self.risk_appetite.clamp(0.0, 1.0) };
        let hurdle = (1.0 - appetite) * (BASE_ROI_HURDLE + LOSS_PROBABILITY_PREMIUM * loss_probability);
        loss_probability < appetite && expected_roi > hurdle
    }

    /// Checks every range, naming failures by their path in the profile.
    pub(crate) fn validate(&self) -> Result<(), PersonalityError> {
        if !(0.0..=1.0).contains(&self.risk_appetite) {
            return Err(invalid(
                "decisions.risk_appetite",
                format!("must be between 0 and 1 (got {})", self.risk_appetite),
            ));
        }
        check_range(
            "decisions.price_positioning",
            self.price_positioning,
            Bound::Inclusive(Decimal::new(5, 1)),
            Decimal::new(3, 0),
        )?;
        check_range(
            "decisions.max_price_change",
            self.max_price_change,
            Bound::Exclusive(Decimal::ZERO),
            Decimal::new(5, 1),
        )?;
        self.budget_split.validate()?;
        self.channel_weights.validate()?;
        check_range(
            "decisions.reinvestment_rate",
            self.reinvestment_rate,
            Bound::Inclusive(Decimal::ZERO),
            Decimal::ONE,
        )?;
        check_range("decisions.min_margin", self.min_margin, Bound::Inclusive(Decimal::ZERO), Decimal::new(9, 1))
    }
}

impl BudgetSplit {
    fn validate(&self) -> Result<(), PersonalityError> {
        let shares = [
            ("decisions.budget_split.ads", self.ads),
            ("decisions.budget_split.content", self.content),
            ("decisions.budget_split.tools", self.tools),
        ];
        for (field, share) in shares {
            check_range(field, share, Bound::Inclusive(Decimal::ZERO), Decimal::ONE)?;
        }
        // Each share is at most 1, so the sum cannot overflow; Decimal adds exactly,
        // so "0.1" + "0.2" + "0.7" is 1 and "0.333" × 3 is not.
        let total = self.ads + self.content + self.tools;
        if total != Decimal::ONE {
            return Err(invalid("decisions.budget_split", format!("must sum to 1 (got {})", total.normalize())));
        }
        Ok(())
    }
}

impl ChannelWeights {
    /// The weights scaled to sum to 1 (up to floating-point rounding), keeping their
    /// ratios. Weights that cannot be scaled — all zero, negative or not finite, which
    /// validation refuses and only a hand-built value can have — give an equal split.
    pub fn normalized(&self) -> ChannelWeights {
        let weights = self.as_array();
        let total: f64 = weights.iter().sum();
        let usable = total.is_finite() && total > 0.0 && weights.iter().all(|w| *w >= 0.0);
        let scaled = weights.map(|w| if usable { w / total } else { 1.0 / weights.len() as f64 });
        let [search_ads, social_ads, seo_content, social_organic, email] = scaled;
        ChannelWeights { search_ads, social_ads, seo_content, social_organic, email }
    }

    fn as_array(&self) -> [f64; 5] {
        [self.search_ads, self.social_ads, self.seo_content, self.social_organic, self.email]
    }

    fn validate(&self) -> Result<(), PersonalityError> {
        let weights = [
            ("decisions.channel_weights.search_ads", self.search_ads),
            ("decisions.channel_weights.social_ads", self.social_ads),
            ("decisions.channel_weights.seo_content", self.seo_content),
            ("decisions.channel_weights.social_organic", self.social_organic),
            ("decisions.channel_weights.email", self.email),
        ];
        for (field, weight) in weights {
            if !weight.is_finite() || weight < 0.0 {
                return Err(invalid(field, format!("must be a finite number of at least 0 (got {weight})")));
            }
        }
        let total: f64 = self.as_array().iter().sum();
        if total <= 0.0 {
            return Err(invalid("decisions.channel_weights", "must have at least one positive weight"));
        }
        // Finite weights can still add up past f64::MAX; normalising would then give 0s.
        if !total.is_finite() {
            return Err(invalid("decisions.channel_weights", "must have a finite total"));
        }
        Ok(())
    }
}

/// The lower end of a range; every range used here has an inclusive upper end.
enum Bound {
    Inclusive(Decimal),
    Exclusive(Decimal),
}

fn check_range(field: &str, value: Decimal, lower: Bound, upper: Decimal) -> Result<(), PersonalityError> {
    let (above_lower, range) = match lower {
        Bound::Inclusive(min) => (value >= min, format!("between {min} and {upper}")),
        Bound::Exclusive(min) => (value > min, format!("greater than {min} and at most {upper}")),
    };
    if above_lower && value <= upper {
        Ok(())
    } else {
        Err(invalid(field, format!("must be {range} (got {})", value.normalize())))
    }
}

fn invalid(field: &str, problem: impl Into<String>) -> PersonalityError {
    PersonalityError::Invalid { field: field.to_owned(), problem: problem.into() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_appetite(risk_appetite: f64) -> DecisionParameters {
        DecisionParameters {
            risk_appetite,
            price_positioning: Decimal::ONE,
            max_price_change: Decimal::new(1, 1),
            budget_split: BudgetSplit {
                ads: Decimal::new(5, 1),
                content: Decimal::new(3, 1),
                tools: Decimal::new(2, 1),
            },
            channel_weights: ChannelWeights {
                search_ads: 1.0,
                social_ads: 1.0,
                seo_content: 1.0,
                social_organic: 1.0,
                email: 1.0,
            },
            reinvestment_rate: Decimal::new(5, 1),
            min_margin: Decimal::new(3, 1),
        }
    }

    /// Appetites, expected ROIs and loss probabilities on a grid fine enough to cross
    /// every boundary of the rule.
    fn grid(steps: u32, from: f64, to: f64) -> impl Iterator<Item = f64> + Clone {
        (0..=steps).map(move |i| from + (to - from) * f64::from(i) / f64::from(steps))
    }

    #[test]
    fn a_higher_risk_appetite_accepts_every_bet_a_lower_one_accepts() {
        let appetites: Vec<f64> = grid(20, 0.0, 1.0).collect();
        for expected_roi in grid(40, -0.5, 1.5) {
            for loss_probability in grid(20, 0.0, 1.0) {
                let decisions: Vec<bool> =
                    appetites.iter().map(|a| with_appetite(*a).risk_accepts(expected_roi, loss_probability)).collect();
                // Once accepted, accepted at every higher appetite.
                let first = decisions.iter().position(|taken| *taken);
                if let Some(first) = first {
                    assert!(
                        decisions[first..].iter().all(|taken| *taken),
                        "roi {expected_roi}, p {loss_probability}: {decisions:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_higher_appetite_accepts_a_lower_return_and_a_higher_chance_of_loss() {
        let cautious = with_appetite(0.4);
        let bold = with_appetite(0.8);
        // Same chance of losing, thinner return.
        assert!(!cautious.risk_accepts(0.15, 0.2));
        assert!(bold.risk_accepts(0.15, 0.2));
        // Same return, more likely to lose.
        assert!(cautious.risk_accepts(0.6, 0.3));
        assert!(!cautious.risk_accepts(0.6, 0.5));
        assert!(bold.risk_accepts(0.6, 0.5));
    }

    #[test]
    fn no_appetite_takes_no_bet_and_full_appetite_takes_any_positive_expectation() {
        let none = with_appetite(0.0);
        let full = with_appetite(1.0);
        for loss_probability in grid(10, 0.0, 1.0) {
            assert!(!none.risk_accepts(100.0, loss_probability));
        }
        for loss_probability in grid(10, 0.0, 0.99) {
            assert!(full.risk_accepts(0.0001, loss_probability));
            assert!(!full.risk_accepts(0.0, loss_probability));
            assert!(!full.risk_accepts(-0.1, loss_probability));
        }
    }

    #[test]
    fn bets_that_cannot_be_judged_are_refused() {
        let full = with_appetite(1.0);
        assert!(!full.risk_accepts(f64::NAN, 0.1));
        assert!(!full.risk_accepts(f64::INFINITY, 0.1));
        assert!(!full.risk_accepts(0.5, f64::NAN));
        assert!(!full.risk_accepts(0.5, -0.1));
        assert!(!full.risk_accepts(0.5, 1.1));
        // A hand-built appetite out of range is clamped, NaN counts as none.
        assert!(with_appetite(7.0).risk_accepts(0.01, 0.5));
        assert!(!with_appetite(-1.0).risk_accepts(100.0, 0.0));
        assert!(!with_appetite(f64::NAN).risk_accepts(100.0, 0.0));
    }

    #[test]
    fn normalized_weights_sum_to_one_and_keep_their_ratios() {
        let weights =
            ChannelWeights { search_ads: 3.0, social_ads: 1.0, seo_content: 0.0, social_organic: 4.0, email: 2.0 };
        let normalized = weights.normalized();
        assert!((normalized.as_array().iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert_eq!(normalized.as_array(), [0.3, 0.1, 0.0, 0.4, 0.2]);
    }

    #[test]
    fn weights_that_cannot_be_normalized_give_an_equal_split() {
        let zero =
            ChannelWeights { search_ads: 0.0, social_ads: 0.0, seo_content: 0.0, social_organic: 0.0, email: 0.0 };
        assert_eq!(zero.normalized().as_array(), [0.2; 5]);
        let overflowing = ChannelWeights { search_ads: f64::MAX, social_ads: f64::MAX, ..zero };
        assert_eq!(overflowing.normalized().as_array(), [0.2; 5]);
    }
}
