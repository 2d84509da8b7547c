//! Weighted, forgetting statistics and the predictive distribution built from them.
//!
//! Byte totals are heavy-tailed, so every volume is modelled on the log scale
//! (`ln(1 + bytes)`): a transfer ten times the usual is the same step whether the usual is a
//! kilobyte or a gigabyte. On that scale a baseline is a normal distribution of unknown mean and
//! variance with a normal-inverse-gamma prior; its predictive distribution is a Student t, whose
//! tails are heavy while evidence is thin and narrow as it accumulates.

use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, StudentsT};

/// The t distribution is never allowed lighter tails than this many degrees of freedom: real
/// log-volumes have heavier tails than a normal, so however much history a baseline has, a
/// deviation of a few scale units must not look like a one-in-a-billion event.
pub const MAX_PREDICTIVE_DOF: f64 = 30.0;

/// Converts bytes to the log scale the models work on.
pub fn log_volume(bytes: f64) -> f64 {
    bytes.max(0.0).ln_1p()
}

/// Converts back from the log scale to bytes.
pub fn bytes_from_log(log_bytes: f64) -> f64 {
    log_bytes.exp_m1().max(0.0)
}

/// Weighted mean and spread of a series, with exponential forgetting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct WeightedMoments {
    /// Sum of the weights of the observations still remembered.
    pub weight: f64,
    pub mean: f64,
    /// Weighted sum of squared deviations from the mean.
    pub sum_sq_dev: f64,
}

impl WeightedMoments {
    /// Adds an observation with the given weight (weighted Welford update).
    pub fn add(&mut self, value: f64, weight: f64) {
        if weight <= 0.0 {
            return;
        }
        self.weight += weight;
        let delta = value - self.mean;
        self.mean += weight * delta / self.weight;
        self.sum_sq_dev += weight * delta * (value - self.mean);
    }

    /// Multiplies the memory of every past observation by `factor` (0..=1).
    pub fn forget(&mut self, factor: f64) {
        self.weight *= factor;
        self.sum_sq_dev *= factor;
    }
}

/// A normal-inverse-gamma belief about the mean and variance of a log-volume.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NormalInverseGamma {
    pub mean: f64,
    /// How many observations' worth of certainty the mean carries.
    pub mean_weight: f64,
    /// Shape: half the observations' worth of certainty about the variance.
    pub shape: f64,
    /// Rate: half the (pseudo-)sum of squared deviations.
    pub rate: f64,
}

impl NormalInverseGamma {
    /// A prior whose predictive distribution, before any data, has the given centre and spread,
    /// with `shape` saying how firmly the spread is believed. Half of the predictive variance is
    /// attributed to within-series spread and half to not knowing the series' own mean, which is
    /// what a mean weight of one gives.
    pub fn with_predictive(mean: f64, predictive_variance: f64, shape: f64) -> NormalInverseGamma {
        let within_variance = predictive_variance / 2.0;
        NormalInverseGamma { mean, mean_weight: 1.0, shape, rate: shape * within_variance }
    }

    /// The belief after the weighted observations summarised in `data`.
    pub fn updated(&self, data: &WeightedMoments) -> NormalInverseGamma {
        if data.weight <= 0.0 {
            return *self;
        }
        let mean_weight = self.mean_weight + data.weight;
        let shift = data.mean - self.mean;
        NormalInverseGamma {
            mean: (self.mean_weight * self.mean + data.weight * data.mean) / mean_weight,
            mean_weight,
            shape: self.shape + data.weight / 2.0,
            rate: self.rate
                + data.sum_sq_dev / 2.0
                + self.mean_weight * data.weight * shift * shift / (2.0 * mean_weight),
        }
    }

    /// Expected variance of a single observation around the series mean.
    pub fn within_variance(&self) -> f64 {
        self.rate / self.shape
    }

    /// The predictive distribution of the next log-volume.
    pub fn predictive(&self) -> Predictive {
        let variance = self.within_variance() * (self.mean_weight + 1.0) / self.mean_weight;
        let dof = (2.0 * self.shape).min(MAX_PREDICTIVE_DOF);
        Predictive { centre: self.mean, scale: variance.max(1e-12).sqrt(), dof }
    }
}

/// A Student t distribution over the log-volume of one bucket.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Predictive {
    pub centre: f64,
    pub scale: f64,
    pub dof: f64,
}

impl Predictive {
    fn distribution(&self) -> StudentsT {
        StudentsT::new(self.centre, self.scale, self.dof).expect("scale and dof are positive")
    }

    /// Probability of a log-volume at least `log_bytes`.
    pub fn upper_tail(&self, log_bytes: f64) -> f64 {
        self.distribution().sf(log_bytes)
    }

    /// The log-volume below which a fraction `q` of buckets fall.
    pub fn quantile(&self, q: f64) -> f64 {
        self.distribution().inverse_cdf(q.clamp(1e-12, 1.0 - 1e-12))
    }

    pub fn variance(&self) -> f64 {
        self.scale * self.scale * if self.dof > 2.0 { self.dof / (self.dof - 2.0) } else { 3.0 }
    }
}

/// The last `capacity` values of a stream and the share of them at least as large as a new one:
/// an online, bounded-memory estimate of a value's upper-tail probability against the stream's
/// own recent past. Above the `tail_rows` largest remembered values, where ranks run out, the
/// tail is extrapolated as exponential, its scale the mean excess of those values over the
/// smallest of them (a peaks-over-threshold estimate), so that records still differ by size.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SlidingTail {
    capacity: usize,
    tail_rows: usize,
    /// The remembered values in arrival order, and the same values sorted.
    arrival: std::collections::VecDeque<f64>,
    sorted: Vec<f64>,
}

impl SlidingTail {
    /// Remembers `capacity` values and extrapolates above the `tail_rows` largest
    /// (`tail_rows >= 1`).
    pub fn new(capacity: usize, tail_rows: usize) -> SlidingTail {
        SlidingTail { capacity, tail_rows: tail_rows.max(1), ..SlidingTail::default() }
    }

    /// Number of values remembered.
    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sorted.is_empty()
    }

    /// Estimated probability that a value is at least `x`: `(k + 1) / (n + 1)` for `k` of the
    /// `n` remembered values at least `x`, and below the threshold of the `tail_rows` largest
    /// `(tail_rows / (n + 1)) * exp(-(x - threshold) / mean_excess)`, the mean excess taken as
    /// at least `min_excess`. 1 while nothing is remembered.
    pub fn upper_tail(&self, x: f64, min_excess: f64) -> f64 {
        let n = self.sorted.len();
        if n == 0 {
            return 1.0;
        }
        let scale = 1.0 / (n as f64 + 1.0);
        let tail_rows = self.tail_rows.min(n);
        let threshold = self.sorted[n - tail_rows];
        if x > threshold {
            let top = &self.sorted[n - tail_rows..];
            let excess = top.iter().map(|v| v - threshold).sum::<f64>() / tail_rows as f64;
            // With no spread among the largest values, anything above them would be infinitely
            // rare on this evidence; the caller's resolution of the data bounds it instead, and
            // the smallest positive spread at least keeps the order of sizes.
            let excess = excess.max(min_excess).max(f64::MIN_POSITIVE.sqrt());
            tail_rows as f64 * scale * (-(x - threshold) / excess).exp()
        } else {
            let below = self.sorted.partition_point(|&v| v < x);
            (n - below + 1) as f64 * scale
        }
    }

    /// Forgets the oldest remembered value, for callers that bound the memory by time.
    pub fn forget_oldest(&mut self) {
        if let Some(old) = self.arrival.pop_front() {
            let at = self.sorted.partition_point(|&v| v < old);
            self.sorted.remove(at);
        }
    }

    /// Remembers `x`, forgetting the oldest value beyond the capacity.
    pub fn push(&mut self, x: f64) {
        if self.capacity == 0 || x.is_nan() {
            return;
        }
        if self.arrival.len() == self.capacity {
            self.forget_oldest();
        }
        self.arrival.push_back(x);
        let at = self.sorted.partition_point(|&v| v < x);
        self.sorted.insert(at, x);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weighted_moments_match_the_plain_formulas_for_unit_weights() {
        let mut m = WeightedMoments::default();
        for v in [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0] {
            m.add(v, 1.0);
        }
        assert_eq!(m.weight, 8.0);
        assert!((m.mean - 5.0).abs() < 1e-12);
        assert!((m.sum_sq_dev - 32.0).abs() < 1e-12);
    }

    #[test]
    fn forgetting_scales_memory_but_keeps_the_mean() {
        let mut m = WeightedMoments::default();
        m.add(1.0, 1.0);
        m.add(3.0, 1.0);
        m.forget(0.5);
        assert_eq!(m.weight, 1.0);
        assert_eq!(m.mean, 2.0);
        assert_eq!(m.sum_sq_dev, 1.0);
    }

    #[test]
    fn a_prior_alone_predicts_what_it_was_built_from() {
        let prior = NormalInverseGamma::with_predictive(10.0, 4.0, 5.0);
        let p = prior.predictive();
        assert_eq!(p.centre, 10.0);
        assert!((p.scale - 2.0).abs() < 1e-12);
        assert_eq!(p.dof, 10.0);
        assert!((p.upper_tail(10.0) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn data_pulls_the_belief_toward_itself() {
        let prior = NormalInverseGamma::with_predictive(10.0, 4.0, 5.0);
        let mut data = WeightedMoments::default();
        for _ in 0..99 {
            data.add(18.0, 1.0);
        }
        let p = prior.updated(&data).predictive();
        assert!((p.centre - 17.92).abs() < 1e-9);
        assert_eq!(p.dof, MAX_PREDICTIVE_DOF);
    }

    #[test]
    fn log_scale_round_trips() {
        for bytes in [0.0, 1.0, 1500.0, 2e9] {
            assert!((bytes_from_log(log_volume(bytes)) - bytes).abs() < 1e-6 * (1.0 + bytes));
        }
    }

    #[test]
    fn sliding_tail_ranks_within_its_window_and_extrapolates_above_the_largest() {
        let mut tail = SlidingTail::new(4, 2);
        assert_eq!(tail.upper_tail(3.0, 0.0), 1.0);
        for v in [9.0, 1.0, 2.0, 3.0, 4.0] {
            tail.push(v);
        }
        // 9 was forgotten: 1, 2, 3, 4 remain, and two of them are at least 2.5.
        assert_eq!(tail.len(), 4);
        assert!((tail.upper_tail(2.5, 0.0) - 3.0 / 5.0).abs() < 1e-12);
        assert!((tail.upper_tail(3.0, 0.0) - 3.0 / 5.0).abs() < 1e-12);
        assert!((tail.upper_tail(0.0, 0.0) - 1.0).abs() < 1e-12);
        // Above the threshold 3 (the second largest) the excesses 0 and 1 average 0.5.
        assert!((tail.upper_tail(4.0, 0.0) - 2.0 / 5.0 * (-2.0f64).exp()).abs() < 1e-12);
        assert!((tail.upper_tail(5.0, 0.0) - 2.0 / 5.0 * (-4.0f64).exp()).abs() < 1e-12);
        // A floor on the mean excess widens the extrapolated tail.
        assert!((tail.upper_tail(5.0, 1.0) - 2.0 / 5.0 * (-2.0f64).exp()).abs() < 1e-12);
    }
}
