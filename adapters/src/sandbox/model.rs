//! The demand model: how many buyers a product finds on a day, and what ads and posts add.
//!
//! Everything here is a pure function of its inputs; the randomness is drawn by the
//! world and passed in, so the model can be read (and tested) as plain formulas.

use std::f64::consts::TAU;

use super::catalogue::{NicheModel, NicheSpec};
use crate::{AdChannel, SocialNetwork};

/// Height of the weekly wave (±12 %): shoppers browse more on some weekdays (B2B niches
/// early in the week, consumer niches at the weekend) but the swing is modest.
pub(super) const WEEKLY_AMPLITUDE: f64 = 0.12;

/// The least a niche shrinks to, as a share of its day-0 size.
pub(super) const GROWTH_FLOOR: f64 = 0.05;

/// The most a niche grows to, as a multiple of its day-0 size.
pub(super) const GROWTH_CEILING: f64 = 20.0;

/// Daily multiplicative noise (±15 %, uniform): days differ for reasons no model sees
/// (news, a competitor's sale, the weather), on top of the Poisson luck of who buys.
pub(super) const DAILY_NOISE: f64 = 0.15;

/// Below the reference price, elasticity is this fraction of the niche's: rivals match
/// price cuts but not rises (the kinked demand curve of oligopolies), and a price far
/// under the market signals low quality. So undercutting wins few buyers, overpricing
/// loses many, and revenue peaks near the reference instead of always favouring the
/// cheapest price as a constant elasticity above 1 would.
pub(super) const BELOW_REFERENCE_DAMPING: f64 = 0.35;

/// How a second, third... product in the same niche splits the tenant's share: the niche
/// gets `n^0.3` times the buyers of one product (a wider range helps a little), so each
/// product gets `n^-0.7` of a lone product's buyers (they mostly cannibalise each other).
pub(super) const SIBLING_EXPONENT: f64 = -0.7;

/// Days a refund arrives after the sale: 2 to 7 (buyers try the product first).
pub(super) const REFUND_DELAY_DAYS: (u32, u32) = (2, 7);

/// Chance that a click on a post leads to a sale: warm, curious traffic, but not
/// searching to buy.
pub(super) const POST_CLICK_CONVERSION: f64 = 0.04;

/// Share of a post's impressions left each day after the first (feeds move on fast).
pub(super) const POST_DAILY_DECAY: f64 = 0.55;

/// Days after which a post is no longer shown at all.
pub(super) const POST_LIFETIME_DAYS: u32 = 14;

/// Spread of a post's reach (log-normal sigma): most posts flop, a few take off.
pub(super) const POST_REACH_SIGMA: f64 = 0.6;

/// The yearly wave of a niche on `day` (day 0 is 1 January).
pub(super) fn yearly_season(niche: &NicheSpec, day: u32) -> f64 {
    let offset = f64::from(day % 365) - f64::from(niche.yearly_peak_day);
    1.0 + niche.yearly_amplitude * (TAU * offset / 365.0).cos()
}

/// The weekly wave of a niche on `day` (day 0 is a Monday).
pub(super) fn weekly_season(niche: &NicheSpec, day: u32) -> f64 {
    let offset = f64::from(day % 7) - f64::from(niche.weekday_peak);
    1.0 + WEEKLY_AMPLITUDE * (TAU * offset / 7.0).cos()
}

/// Growth since day 0 at a continuous yearly rate `trend`: `e^(trend · day / 365)`. A
/// rate (not a linear slope) keeps demand positive however long a world runs, and the
/// result is held between [`GROWTH_FLOOR`] and [`GROWTH_CEILING`]: markets saturate and
/// never quite vanish (and sales stay far from any numeric limit in long games).
pub(super) fn trend_growth(trend: f64, day: u32) -> f64 {
    (trend * f64::from(day) / 365.0).exp().clamp(GROWTH_FLOOR, GROWTH_CEILING)
}

/// How demand responds to a price `ratio` times the reference: `ratio^-elasticity` above
/// the reference, damped below it (see [`BELOW_REFERENCE_DAMPING`]).
pub(super) fn price_response(ratio: f64, elasticity: f64) -> f64 {
    if ratio.is_nan() || ratio <= 0.0 {
        return 0.0;
    }
    let exponent = if ratio >= 1.0 { elasticity } else { elasticity * BELOW_REFERENCE_DAMPING };
    ratio.powf(-exponent)
}

/// The share of a niche's buyers one product gets: what rivals leave (`1 - competition`),
/// split with the tenant's other products in the niche.
pub(super) fn market_share(competition: f64, products_in_niche: usize) -> f64 {
    let siblings = products_in_niche.max(1) as f64;
    (1.0 - competition).max(0.0) * siblings.powf(SIBLING_EXPONENT)
}

/// How well a listing is found and trusted: 0.85 bare, up to 1.05 with three or more tags
/// and a real description. Small on purpose: it rewards the SEO agent's work without
/// letting copy beat price and market.
pub(super) fn listing_quality(tag_count: usize, description: &str) -> f64 {
    let tags = tag_count.min(TAGS_THAT_COUNT) as f64 * 0.04;
    let description = if description.chars().count() >= DESCRIPTION_CHARS_THAT_COUNT { 0.08 } else { 0.0 };
    0.85 + tags + description
}

/// Tags beyond this many add nothing to [`listing_quality`].
pub(super) const TAGS_THAT_COUNT: usize = 3;

/// A description this long or longer counts as a real one in [`listing_quality`].
pub(super) const DESCRIPTION_CHARS_THAT_COUNT: usize = 150;

/// How an ad channel turns money into buyers.
pub(super) struct ChannelModel {
    /// Buyers per day the channel can add at most, for a niche of 25 buyers a day
    /// selling at 25.
    pub(super) max_buyers: f64,
    /// Daily spend at which 63 % of that is reached, in an empty niche.
    pub(super) saturation_spend: f64,
    /// Price of a click in an empty niche.
    pub(super) cost_per_click: f64,
}

/// Search reaches people already looking (high intent, so buyers come cheap) but only as
/// many as search; social reaches anyone (a higher ceiling) but each buyer costs more.
pub(super) fn channel_model(channel: AdChannel) -> ChannelModel {
    match channel {
        AdChannel::SearchAds => ChannelModel { max_buyers: 10.0, saturation_spend: 120.0, cost_per_click: 1.10 },
        AdChannel::SocialAds => ChannelModel { max_buyers: 16.0, saturation_spend: 250.0, cost_per_click: 0.45 },
    }
}

/// Expected extra buyers per day from `spend` on `channel`, at the reference price:
/// `a · (1 − e^(−spend / k))`. Diminishing returns because each extra unit of money
/// reaches a less interested audience. `a` grows with the square root of the niche's
/// size (bigger markets have more people to reach, but ads compete for the same intent)
/// and shrinks for expensive goods (a 500 purchase needs more than one ad); `k` grows
/// with competition (rivals bid on the same people).
pub(super) fn ad_buyers(channel: AdChannel, niche: &NicheModel, spend: f64) -> f64 {
    if spend.is_nan() || spend <= 0.0 {
        return 0.0;
    }
    let curve = ad_curve(channel, niche);
    curve.ceiling * (1.0 - (-spend / curve.saturation).exp())
}

/// The `a` and `k` of [`ad_buyers`] for one channel in one niche.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct AdCurve {
    /// Extra buyers a day the channel adds at most (`a`).
    pub(super) ceiling: f64,
    /// Daily spend at which 63 % of that is reached (`k`).
    pub(super) saturation: f64,
}

pub(super) fn ad_curve(channel: AdChannel, niche: &NicheModel) -> AdCurve {
    let model = channel_model(channel);
    let reach = (niche.demand / 25.0).sqrt();
    let ticket = (25.0 / super::money::to_f64(niche.reference_price).max(1.0)).powf(0.35);
    AdCurve {
        ceiling: model.max_buyers * reach * ticket,
        saturation: model.saturation_spend * (1.0 + niche.competition),
    }
}

/// Expected clicks bought with `spend`: clicks cost more in crowded niches. Clicks grow
/// linearly with spend while buyers saturate, so conversion rates fall as budgets grow,
/// which is what advertisers see.
pub(super) fn ad_clicks(channel: AdChannel, niche: &NicheModel, spend: f64) -> f64 {
    if spend.is_nan() || spend <= 0.0 {
        return 0.0;
    }
    spend / (channel_model(channel).cost_per_click * (1.0 + niche.competition))
}

/// How a network treats a post: typical first-day reach, engagement and click rates.
pub(super) struct NetworkModel {
    /// Median first-day impressions of a post from a small account.
    pub(super) reach: f64,
    /// Likes, shares and comments per impression.
    pub(super) engagement_rate: f64,
    /// Clicks to the product per impression.
    pub(super) click_rate: f64,
}

/// Short-video networks show posts to many but few click out; LinkedIn and Reddit reach
/// fewer, more deliberate readers who click more.
pub(super) fn network_model(network: SocialNetwork) -> NetworkModel {
    match network {
        SocialNetwork::X => NetworkModel { reach: 800.0, engagement_rate: 0.02, click_rate: 0.008 },
        SocialNetwork::LinkedIn => NetworkModel { reach: 600.0, engagement_rate: 0.03, click_rate: 0.012 },
        SocialNetwork::Reddit => NetworkModel { reach: 1_500.0, engagement_rate: 0.05, click_rate: 0.015 },
        SocialNetwork::TikTok => NetworkModel { reach: 3_000.0, engagement_rate: 0.06, click_rate: 0.004 },
        SocialNetwork::YouTube => NetworkModel { reach: 1_200.0, engagement_rate: 0.04, click_rate: 0.01 },
    }
}

/// A post's first-day reach from a standard normal draw `z`: log-normal around the
/// network's median.
pub(super) fn post_reach(network: SocialNetwork, z: f64) -> u64 {
    let reach = network_model(network).reach * (POST_REACH_SIGMA * z).exp();
    if reach.is_finite() && reach > 0.0 { reach.round() as u64 } else { 0 }
}

/// One day of a post's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct PostDay {
    pub(super) impressions: u64,
    pub(super) engagements: u64,
    pub(super) clicks: u64,
}

/// What a post with first-day `reach` does `age` days after publishing: impressions decay
/// geometrically and stop after [`POST_LIFETIME_DAYS`]. No fresh randomness: the luck
/// is all in the reach, so reports can recompute any day exactly.
pub(super) fn post_day(network: SocialNetwork, reach: u64, age: u32) -> PostDay {
    if age >= POST_LIFETIME_DAYS {
        return PostDay::default();
    }
    let model = network_model(network);
    let impressions = (reach as f64 * POST_DAILY_DECAY.powi(age as i32)).floor();
    PostDay {
        impressions: impressions as u64,
        engagements: (impressions * model.engagement_rate).round() as u64,
        clicks: (impressions * model.click_rate).round() as u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::catalogue::{CATALOGUE, niches_for};

    #[test]
    fn undercutting_wins_less_than_overpricing_loses() {
        let gain = price_response(0.8, 2.0) - 1.0;
        let loss = 1.0 - price_response(1.2, 2.0);
        assert!(gain > 0.0 && loss > gain);
        // Revenue is highest at the reference.
        assert!(0.8 * price_response(0.8, 2.0) < 1.0);
        assert!(1.2 * price_response(1.2, 2.0) < 1.0);
        assert_eq!(price_response(0.0, 2.0), 0.0);
        assert_eq!(price_response(-1.0, 2.0), 0.0);
    }

    #[test]
    fn the_catalogue_stays_in_its_documented_ranges() {
        for spec in &CATALOGUE {
            assert!((1.2..=2.5).contains(&spec.elasticity), "{}", spec.name);
            assert!((0.02..=0.08).contains(&spec.refund_rate), "{}", spec.name);
            assert!((0.0..1.0).contains(&spec.competition), "{}", spec.name);
            assert!((-1.0..=1.0).contains(&spec.trend), "{}", spec.name);
            assert!(spec.unit_cost_cents < spec.reference_price_cents, "{}", spec.name);
            assert!(spec.weekday_peak < 7 && spec.yearly_peak_day < 365);
        }
    }

    #[test]
    fn ads_saturate_and_posts_fade() {
        let niches = niches_for(1);
        let niche = &niches[1];
        for channel in AdChannel::ALL {
            let first = ad_buyers(channel, niche, 100.0);
            let second = ad_buyers(channel, niche, 200.0) - first;
            assert!(first > second && second > 0.0);
            assert_eq!(ad_buyers(channel, niche, -5.0), 0.0);
        }
        let day0 = post_day(SocialNetwork::Reddit, 1_500, 0);
        let day3 = post_day(SocialNetwork::Reddit, 1_500, 3);
        assert!(day0.impressions > day3.impressions && day3.impressions > 0);
        assert_eq!(post_day(SocialNetwork::Reddit, 1_500, POST_LIFETIME_DAYS), PostDay::default());
    }
}
