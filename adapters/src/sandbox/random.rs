//! Seeded randomness: stream derivation, uniform draws, Poisson and normal quantiles.
//!
//! Every random number the sandbox uses comes from a fresh ChaCha8 stream keyed by
//! *what* it is for (world seed, purpose, day, product), never from one long-running
//! generator. So nothing about a generator needs saving when a world is exported, one
//! product's draws do not shift when another product is listed, and two worlds that
//! differ only in a price see the very same luck ("common random numbers"), which makes
//! comparisons between them clean. ChaCha8 (from `rand_chacha`) is used rather than
//! `rand`'s `StdRng` because its output is documented as stable across versions: a
//! saved world must replay the same after a dependency upgrade.

use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};

/// Purpose tags that keep the streams apart.
pub(super) const STREAM_CATALOGUE: u64 = 1;
pub(super) const STREAM_DAY: u64 = 2;
pub(super) const STREAM_POST: u64 = 3;
pub(super) const STREAM_TENANT: u64 = 4;

/// SplitMix64's finaliser: a cheap, well-mixing, portable 64-bit hash step.
fn splitmix64(value: u64) -> u64 {
    let mut z = value.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Hashes `parts` into one seed. Hand-written rather than `std`'s hasher, whose output
/// may change between Rust releases.
pub(super) fn mix(parts: &[u64]) -> u64 {
    parts.iter().fold(0x5EED_B0A2_D200_0001, |hash, part| splitmix64(hash ^ part))
}

/// One stream of random numbers.
pub(super) struct Draws(ChaCha8Rng);

impl Draws {
    /// The stream named by `parts`.
    pub(super) fn new(parts: &[u64]) -> Self {
        let mut state = mix(parts);
        let mut seed = [0_u8; 32];
        for chunk in seed.chunks_exact_mut(8) {
            state = splitmix64(state);
            chunk.copy_from_slice(&state.to_le_bytes());
        }
        Self(ChaCha8Rng::from_seed(seed))
    }

    /// Uniform in `[0, 1)`, from the top 53 bits (done by hand so the mapping is ours
    /// and cannot change under us).
    pub(super) fn uniform(&mut self) -> f64 {
        (self.0.next_u64() >> 11) as f64 / (1_u64 << 53) as f64
    }

    /// Uniform in `[low, high)`.
    pub(super) fn between(&mut self, low: f64, high: f64) -> f64 {
        low + (high - low) * self.uniform()
    }

    /// A Poisson draw with mean `mean` (zero for a mean that is not positive).
    pub(super) fn poisson(&mut self, mean: f64) -> u64 {
        poisson_quantile(mean, self.uniform())
    }

    /// A standard normal draw.
    pub(super) fn normal(&mut self) -> f64 {
        inverse_normal(self.uniform())
    }
}

/// The Poisson(`mean`) quantile at `u`: the smallest `k` with `P(X ≤ k) > u`.
///
/// Drawing by inversion from a single uniform makes the result non-decreasing in `mean`
/// for a fixed `u`, so with common random numbers a world with more demand never sells
/// less on the same day. Above a mean of 500 the normal approximation takes over (the
/// exact sum would need `e^-mean`, which underflows past ~700).
pub(super) fn poisson_quantile(mean: f64, u: f64) -> u64 {
    if mean.is_nan() || mean <= 0.0 || !mean.is_finite() {
        return 0;
    }
    if mean > 500.0 {
        let value = (mean + mean.sqrt() * inverse_normal(u)).round();
        return if value > 0.0 { value as u64 } else { 0 };
    }
    // The cap only guards against rounding leaving the running sum a hair below `u`.
    let cap = (mean + 20.0 * mean.sqrt() + 50.0) as u64;
    let mut k = 0_u64;
    let mut probability = (-mean).exp();
    let mut cumulative = probability;
    while cumulative <= u && k < cap {
        k += 1;
        probability *= mean / k as f64;
        cumulative += probability;
    }
    k
}

/// The standard normal quantile (Acklam's rational approximation, relative error below
/// 1.2e-9, plenty for noise).
pub(super) fn inverse_normal(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] =
        [7.784_695_709_041_462e-3, 3.224_671_290_700_398e-1, 2.445_134_137_142_996, 3.754_408_661_907_416];
    const LOW: f64 = 0.02425;

    let p = if p.is_nan() { 0.5 } else { p.clamp(1e-12, 1.0 - 1e-12) };
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < LOW {
        tail((-2.0 * p.ln()).sqrt())
    } else if p <= 1.0 - LOW {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_name_gives_the_same_stream_and_another_name_another() {
        let first: Vec<u64> = (0..4).map(|_| Draws::new(&[1, 2, 3]).0.next_u64()).collect();
        assert!(first.windows(2).all(|pair| pair[0] == pair[1]));
        assert_ne!(Draws::new(&[1, 2, 3]).0.next_u64(), Draws::new(&[1, 2, 4]).0.next_u64());
    }

    #[test]
    fn uniform_draws_stay_in_the_unit_interval() {
        let mut draws = Draws::new(&[9]);
        for _ in 0..10_000 {
            let u = draws.uniform();
            assert!((0.0..1.0).contains(&u));
        }
    }

    #[test]
    fn poisson_quantiles_grow_with_the_mean_and_average_to_it() {
        let mut draws = Draws::new(&[42]);
        let mut total = 0_u64;
        for _ in 0..20_000 {
            let u = draws.uniform();
            let low = poisson_quantile(3.0, u);
            let high = poisson_quantile(3.5, u);
            assert!(high >= low);
            total += low;
        }
        let mean = total as f64 / 20_000.0;
        assert!((mean - 3.0).abs() < 0.1, "mean {mean}");
        assert_eq!(poisson_quantile(0.0, 0.5), 0);
        assert_eq!(poisson_quantile(-1.0, 0.5), 0);
        assert_eq!(poisson_quantile(f64::NAN, 0.5), 0);
        let large = poisson_quantile(10_000.0, 0.5);
        assert!((9_900..=10_100).contains(&large));
    }

    #[test]
    fn the_normal_quantile_is_symmetric_and_calibrated() {
        assert!(inverse_normal(0.5).abs() < 1e-9);
        assert!((inverse_normal(0.975) - 1.959_964).abs() < 1e-5);
        assert!((inverse_normal(0.025) + 1.959_964).abs() < 1e-5);
        assert!(inverse_normal(0.0).is_finite());
        assert!(inverse_normal(1.0).is_finite());
    }
}
