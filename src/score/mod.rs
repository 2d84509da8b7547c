//! Scoring: probabilities to 0-100 record scores, and influencers.
//!
//! A *record* is the judgement of one over value in one bucket: the observed total (`actual`),
//! the model's median expectation (`typical`), the one-sided *probability* of a total at least
//! that high, and the *record score*, a fixed monotone function of that probability alone.
//! Because the function never changes and looks at nothing else, a record's score is final the
//! moment it is computed: there is no renormalisation against later results.
//!
//! An *influencer* is a field value (a host, a source address, a destination address) that
//! carried part of the bytes. Its *influence* (0-100) says how much of the anomaly would remain
//! without it: `100 * (1 - ln p_without / ln p)`, where `p_without` is the probability of the
//! bucket's total minus that value's bytes. A value that carried everything scores 100; one whose
//! removal changes nothing scores 0.

pub mod record;

/// Probabilities at or above this are unremarkable and score 0.
pub const ZERO_SCORE_PROBABILITY: f64 = 0.05;

/// Smallest probability the scorer distinguishes; anything smaller is treated as this, which
/// maps to a score within 1e-89 of 100.
pub const MIN_PROBABILITY: f64 = 1e-300;

/// After the first value of a field, values whose influence is below this are not reported:
/// they would remain an anomaly's explanation only in name.
pub const MIN_REPORTED_INFLUENCE: f64 = 40.0;

/// Maps a probability to a record score in 0..=100.
///
/// `score = 100 * (1 - 2^-d)` with `d = log10(0.05 / p)`, the number of decades `p` lies below
/// 0.05. Each decade halves the distance to 100: p = 0.005 scores 50, p = 5e-4 scores 75 (the
/// default alert threshold), p = 5e-5 scores 87.5 and p = 5e-6 scores 93.75.
pub fn record_score(probability: f64) -> f64 {
    // NaN is no evidence of anything and scores 0 like an unremarkable probability.
    if probability.is_nan() || probability >= ZERO_SCORE_PROBABILITY {
        return 0.0;
    }
    let decades = (ZERO_SCORE_PROBABILITY / probability.max(MIN_PROBABILITY)).log10();
    100.0 * (1.0 - (-decades).exp2())
}

/// The probability a score stands for: the inverse of [`record_score`] for scores in 0..100.
pub fn probability_for_score(score: f64) -> f64 {
    if score <= 0.0 {
        return ZERO_SCORE_PROBABILITY;
    }
    let decades = -(1.0 - score.min(99.999_999) / 100.0).log2();
    ZERO_SCORE_PROBABILITY / 10f64.powf(decades)
}

/// Influence (0-100) of a value whose removal turns probability `p` into `p_without`.
pub fn influence(p: f64, p_without: f64) -> f64 {
    let p = p.clamp(MIN_PROBABILITY, 1.0);
    if p >= 1.0 {
        return 0.0;
    }
    let remaining = p_without.clamp(MIN_PROBABILITY, 1.0).ln() / p.ln();
    (100.0 * (1.0 - remaining)).clamp(0.0, 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_anchor_points() {
        assert_eq!(record_score(1.0), 0.0);
        assert_eq!(record_score(0.05), 0.0);
        assert!((record_score(0.005) - 50.0).abs() < 1e-9);
        assert!((record_score(5e-4) - 75.0).abs() < 1e-9);
        assert!((record_score(5e-5) - 87.5).abs() < 1e-9);
        assert!((record_score(0.0) - 100.0).abs() < 1e-9);
        assert_eq!(record_score(f64::NAN), 0.0);
    }

    #[test]
    fn score_is_monotone_and_bounded() {
        let mut previous = -1.0;
        let mut p = 1.0;
        while p > 1e-320 {
            let s = record_score(p);
            assert!((0.0..=100.0).contains(&s));
            assert!(s >= previous, "score fell at p = {p}");
            previous = s;
            p /= 3.0;
        }
    }

    #[test]
    fn probability_for_score_inverts_the_mapping() {
        for score in [10.0, 50.0, 75.0, 90.0, 99.0] {
            assert!((record_score(probability_for_score(score)) - score).abs() < 1e-9);
        }
    }

    #[test]
    fn influence_of_everything_nothing_and_half() {
        assert_eq!(influence(1e-8, 1.0), 100.0);
        assert_eq!(influence(1e-8, 1e-8), 0.0);
        assert!((influence(1e-8, 1e-4) - 50.0).abs() < 1e-9);
        assert_eq!(influence(1.0, 1.0), 0.0);
    }
}
