//! The niche catalogue every sandbox world starts from, and each tenant's variation of it.

use rust_decimal::Decimal;

use super::money;
use super::random::{Draws, STREAM_CATALOGUE};
use crate::Niche;

/// A niche as the catalogue defines it, before a tenant's world varies it.
#[derive(Debug)]
pub(super) struct NicheSpec {
    pub(super) name: &'static str,
    pub(super) category: &'static str,
    /// Buyers per day across the niche at the reference price.
    pub(super) demand: f64,
    pub(super) competition: f64,
    pub(super) reference_price_cents: i64,
    pub(super) unit_cost_cents: i64,
    /// Growth per year, as a continuous rate.
    pub(super) trend: f64,
    /// How strongly buyers leave as the price rises above the reference (1.2–2.5):
    /// impulse-bought cheap goods with many substitutes are elastic, high-ticket
    /// programmes bought on trust are not.
    pub(super) elasticity: f64,
    /// Share of units refunded (2–8 %): higher where buyers can consume the product and
    /// ask for their money back (coaching, courses), lower for cheap downloads.
    pub(super) refund_rate: f64,
    /// Height of the yearly wave, as a fraction of demand.
    pub(super) yearly_amplitude: f64,
    /// Day of the year (0 = 1 January) when the niche peaks.
    pub(super) yearly_peak_day: u32,
    /// Day of the week (0 = Monday, the weekday of day 0) when the niche peaks.
    pub(super) weekday_peak: u32,
}

/// Twelve niches of digital goods, with plausible numbers: many cheap, crowded niches
/// (templates, prompt packs, printables) and a few thin, high-ticket ones (coaching,
/// masterclasses), so both volume and margin strategies have somewhere to win.
pub(super) const CATALOGUE: [NicheSpec; 12] = [
    NicheSpec {
        name: "notion-productivity-templates",
        category: "templates",
        demand: 38.0,
        competition: 0.70,
        reference_price_cents: 1900,
        unit_cost_cents: 40,
        trend: 0.10,
        elasticity: 2.2,
        refund_rate: 0.03,
        yearly_amplitude: 0.20,
        yearly_peak_day: 8, // new-year planning
        weekday_peak: 0,
    },
    NicheSpec {
        name: "ai-automation-course",
        category: "courses",
        demand: 22.0,
        competition: 0.55,
        reference_price_cents: 7900,
        unit_cost_cents: 400,
        trend: 0.45,
        elasticity: 1.6,
        refund_rate: 0.06,
        yearly_amplitude: 0.15,
        yearly_peak_day: 250, // back to work after the summer
        weekday_peak: 1,
    },
    NicheSpec {
        name: "python-data-analysis-course",
        category: "courses",
        demand: 18.0,
        competition: 0.65,
        reference_price_cents: 4900,
        unit_cost_cents: 300,
        trend: 0.05,
        elasticity: 1.8,
        refund_rate: 0.05,
        yearly_amplitude: 0.18,
        yearly_peak_day: 20,
        weekday_peak: 2,
    },
    NicheSpec {
        name: "freelance-business-coaching",
        category: "coaching_programs",
        demand: 6.0,
        competition: 0.45,
        reference_price_cents: 29700,
        unit_cost_cents: 6000, // the coach's hours
        trend: 0.15,
        elasticity: 1.3,
        refund_rate: 0.08,
        yearly_amplitude: 0.12,
        yearly_peak_day: 15,
        weekday_peak: 0,
    },
    NicheSpec {
        name: "fitness-meal-plan-ebook",
        category: "e_books",
        demand: 30.0,
        competition: 0.75,
        reference_price_cents: 1400,
        unit_cost_cents: 30,
        trend: -0.05,
        elasticity: 2.4,
        refund_rate: 0.04,
        yearly_amplitude: 0.30,
        yearly_peak_day: 3, // resolutions
        weekday_peak: 6,
    },
    NicheSpec {
        name: "social-media-content-calendar",
        category: "templates",
        demand: 26.0,
        competition: 0.60,
        reference_price_cents: 2400,
        unit_cost_cents: 50,
        trend: 0.20,
        elasticity: 2.0,
        refund_rate: 0.03,
        yearly_amplitude: 0.10,
        yearly_peak_day: 340, // planning next year's content
        weekday_peak: 0,
    },
    NicheSpec {
        name: "zapier-workflow-pack",
        category: "automation_tools",
        demand: 14.0,
        competition: 0.40,
        reference_price_cents: 3900,
        unit_cost_cents: 150,
        trend: 0.30,
        elasticity: 1.7,
        refund_rate: 0.04,
        yearly_amplitude: 0.10,
        yearly_peak_day: 260,
        weekday_peak: 2,
    },
    NicheSpec {
        name: "ai-prompt-library",
        category: "digital_products",
        demand: 45.0,
        competition: 0.85,
        reference_price_cents: 1200,
        unit_cost_cents: 20,
        trend: -0.15, // the gold rush is fading
        elasticity: 2.5,
        refund_rate: 0.05,
        yearly_amplitude: 0.08,
        yearly_peak_day: 120,
        weekday_peak: 5,
    },
    NicheSpec {
        name: "executive-leadership-masterclass",
        category: "premium_courses",
        demand: 3.0,
        competition: 0.35,
        reference_price_cents: 49700,
        unit_cost_cents: 2500,
        trend: 0.10,
        elasticity: 1.2,
        refund_rate: 0.07,
        yearly_amplitude: 0.15,
        yearly_peak_day: 270, // training budgets before year end
        weekday_peak: 1,
    },
    NicheSpec {
        name: "printable-planners",
        category: "digital_products",
        demand: 40.0,
        competition: 0.80,
        reference_price_cents: 900,
        unit_cost_cents: 25,
        trend: -0.10,
        elasticity: 2.3,
        refund_rate: 0.02,
        yearly_amplitude: 0.30,
        yearly_peak_day: 335, // gifts and next year's planner
        weekday_peak: 6,
    },
    NicheSpec {
        name: "personal-finance-spreadsheets",
        category: "templates",
        demand: 20.0,
        competition: 0.50,
        reference_price_cents: 2900,
        unit_cost_cents: 40,
        trend: 0.12,
        elasticity: 1.9,
        refund_rate: 0.03,
        yearly_amplitude: 0.22,
        yearly_peak_day: 10,
        weekday_peak: 6,
    },
    NicheSpec {
        name: "saas-founder-accelerator",
        category: "premium_courses",
        demand: 4.0,
        competition: 0.30,
        reference_price_cents: 39900,
        unit_cost_cents: 4000,
        trend: 0.25,
        elasticity: 1.4,
        refund_rate: 0.08,
        yearly_amplitude: 0.12,
        yearly_peak_day: 255,
        weekday_peak: 1,
    },
];

/// A niche as one tenant's world sees it. Worlds vary the catalogue a little (demand
/// ±20 %, competition ±0.08, prices and costs ±10 %, trend ±0.05) so tenants do not all
/// face, and learn, the very same market; the variation is a pure function of the
/// world's seed, so it never needs saving.
#[derive(Debug)]
pub(super) struct NicheModel {
    pub(super) spec: &'static NicheSpec,
    pub(super) demand: f64,
    pub(super) competition: f64,
    pub(super) reference_price: Decimal,
    pub(super) unit_cost: Decimal,
    pub(super) trend: f64,
}

impl NicheModel {
    /// The public view of this niche on `today`: demand as the trend and the yearly
    /// season make it then (the weekly wave averages out, so it is left out).
    pub(super) fn snapshot(&self, today: u32) -> Niche {
        let demand =
            self.demand * super::model::yearly_season(self.spec, today) * super::model::trend_growth(self.trend, today);
        Niche {
            name: self.spec.name.to_owned(),
            category: self.spec.category.to_owned(),
            demand: (demand * 10.0).round() / 10.0,
            competition: (self.competition * 100.0).round() / 100.0,
            reference_price: self.reference_price,
            unit_cost: self.unit_cost,
            trend: (self.trend * 100.0).round() / 100.0,
        }
    }
}

/// The catalogue as the world with seed `seed` sees it.
pub(super) fn niches_for(seed: u64) -> Vec<NicheModel> {
    CATALOGUE
        .iter()
        .enumerate()
        .map(|(index, spec)| {
            // One stream per niche, so adding a niche to the catalogue leaves the others'
            // variation as it was.
            let mut draws = Draws::new(&[seed, STREAM_CATALOGUE, index as u64]);
            let demand = spec.demand * draws.between(0.8, 1.2);
            let competition = (spec.competition + draws.between(-0.08, 0.08)).clamp(0.05, 0.95);
            let reference_price = money::cents_from_f64(spec.reference_price_cents as f64 * draws.between(0.9, 1.1));
            let unit_cost = money::cents_from_f64(spec.unit_cost_cents as f64 * draws.between(0.9, 1.1));
            let trend = (spec.trend + draws.between(-0.05, 0.05)).clamp(-1.0, 1.0);
            NicheModel { spec, demand, competition, reference_price, unit_cost, trend }
        })
        .collect()
}
