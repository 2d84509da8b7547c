//! Low-and-slow windows: totals over the last day and the last week, judged beside the bucket.
//!
//! A transfer spread thin (a gigabyte over a week is 18 MB per 3-hour bucket) can keep every
//! bucket within what its country receives while the day or the week is far beyond it. A
//! *window* is the span of [`WINDOW_SPANS_SECS`] ending with the bucket being judged; its
//! *window total* is what the over value received in the buckets of that span. Each window has
//! its own baseline per over value: the log window totals seen at the value's active buckets.
//! Window totals are judged only when the value receives something in the bucket (a window
//! total cannot grow otherwise), so the baseline is learned at the same moments.
//!
//! A value known for less than a window's span (a *young* value, new ones included) is judged
//! against the *first-window population*: what values received over the first span after they
//! first appeared, summarised robustly like the first appearances of buckets. A new country
//! receiving something in every bucket for a day is thus compared with what new countries
//! usually accumulate in their first day.
//!
//! An older value is judged against its own window history, starting from what its bucket
//! baseline implies for the window: the expected number of active buckets in it (at least one)
//! times the expected bucket total, with the spread of such a sum of independent buckets
//! (moments matched to a log-normal). Real buckets are not independent (a busy day is busy in
//! every bucket), so the implied spread is believed weakly; the window's own history, counted
//! as one window per window's worth of buckets, soon takes over.

use super::stats::{bytes_from_log, log_volume, NormalInverseGamma, Predictive, WeightedMoments};
use integer_encoding::VarInt;
use serde::{Deserialize, Serialize};

/// The windows judged beside the bucket: a day and a week. A day holds a transfer spread over
/// office hours; a week holds one dripped a little at a time.
pub const WINDOW_SPANS_SECS: [i64; 2] = [24 * 3600, 7 * 24 * 3600];

/// The implied prior counts as this many windows' worth of evidence about the level: enough
/// to judge a value with little window history, little enough that a few real windows take over.
const PRIOR_WINDOWS: f64 = 1.0;

/// The implied spread is believed as if from four windows (a t with four degrees of freedom,
/// tails like a power law): it assumes independent buckets and is too narrow for real traffic.
const PRIOR_SHAPE: f64 = 2.0;

/// At most this many active buckets are remembered per value: a week of 3-hour buckets four
/// times over, so bucket spans down to 45 minutes see the whole week; shorter spans judge the
/// week window on its most recent part only.
const MAX_REMEMBERED_BUCKETS: usize = 7 * 8 * 4;

/// The active buckets of one value within the longest window, oldest first, kept compact
/// because every over value has them: each bucket is two variable-length integers (LEB128),
/// the seconds since the previous bucket's start (two bytes for 3-hour buckets) and its bytes
/// (three to five bytes for the megabytes to gigabytes that matter), in a vector sized exactly
/// to its contents. With 3-hour buckets a value active in every bucket of a week holds 56 of
/// them in about 350 bytes, where start and bytes at full width took 896. The values are
/// exact. Saved in the state as `(bucket start, bytes)` pairs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "Vec<(i64, u64)>", into = "Vec<(i64, u64)>")]
struct RecentBuckets {
    /// Start of the oldest bucket kept (0 when empty).
    first_start_secs: i64,
    encoded: Vec<u8>,
}

impl RecentBuckets {
    fn iter(&self) -> impl Iterator<Item = (i64, u64)> + '_ {
        let mut rest = self.encoded.as_slice();
        let mut start = self.first_start_secs;
        std::iter::from_fn(move || {
            let (gap, gap_len) = u64::decode_var(rest)?;
            let (bytes, bytes_len) = u64::decode_var(&rest[gap_len..])?;
            rest = &rest[gap_len + bytes_len..];
            start = start.saturating_add_unsigned(gap);
            Some((start, bytes))
        })
    }

    /// Keeps the buckets that start after `limit_secs`, adds the newest one, and drops the
    /// oldest past [`MAX_REMEMBERED_BUCKETS`]. Buckets arrive in order of their start.
    fn push(&mut self, limit_secs: i64, start_secs: i64, bytes: u64) {
        let mut kept: Vec<(i64, u64)> =
            self.iter().filter(|&(start, _)| start > limit_secs).collect();
        kept.push((start_secs, bytes));
        let excess = kept.len().saturating_sub(MAX_REMEMBERED_BUCKETS);
        *self = RecentBuckets::from(kept.split_off(excess));
    }

    /// Heap bytes held.
    fn heap_bytes(&self) -> usize {
        self.encoded.capacity()
    }
}

impl From<Vec<(i64, u64)>> for RecentBuckets {
    fn from(buckets: Vec<(i64, u64)>) -> RecentBuckets {
        let first_start_secs = buckets.first().map_or(0, |&(start, _)| start);
        let mut previous = first_start_secs;
        let size: usize = buckets
            .iter()
            .map(|&(start, bytes)| {
                let gap = start.abs_diff(previous);
                previous = start;
                gap.required_space() + bytes.required_space()
            })
            .sum();
        let mut encoded = vec![0u8; size];
        let (mut at, mut previous) = (0, first_start_secs);
        for &(start, bytes) in &buckets {
            // Starts only grow; a gap that would be negative is recorded as none.
            let gap = u64::try_from(start - previous).unwrap_or(0);
            previous = start;
            at += gap.encode_var(&mut encoded[at..]);
            at += bytes.encode_var(&mut encoded[at..]);
        }
        encoded.truncate(at);
        RecentBuckets { first_start_secs, encoded }
    }
}

impl From<RecentBuckets> for Vec<(i64, u64)> {
    fn from(recent: RecentBuckets) -> Vec<(i64, u64)> {
        recent.iter().collect()
    }
}

/// One baseline of log window totals per window span, held inline. Saved in the state as a
/// list, which may be empty for a value never judged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "Vec<WeightedMoments>", into = "Vec<WeightedMoments>")]
struct WindowVolumes([WeightedMoments; WINDOW_SPANS_SECS.len()]);

impl From<Vec<WeightedMoments>> for WindowVolumes {
    fn from(saved: Vec<WeightedMoments>) -> WindowVolumes {
        let mut volumes = WindowVolumes::default();
        for (volume, saved) in volumes.0.iter_mut().zip(saved) {
            *volume = saved;
        }
        volumes
    }
}

impl From<WindowVolumes> for Vec<WeightedMoments> {
    fn from(volumes: WindowVolumes) -> Vec<WeightedMoments> {
        volumes.0.to_vec()
    }
}

/// One window's verdict on a record.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct WindowEvidence {
    pub span_secs: i64,
    /// Bytes the over value received in the window, the judged bucket included.
    pub total_bytes: u64,
    /// The median window total the baseline expects.
    pub typical_bytes: f64,
    /// Probability of a window total at least this high (before any correction for the number
    /// of tests).
    pub probability: f64,
}

/// The windows' memory for one over value.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WindowState {
    /// The value's active buckets within the longest window.
    recent: RecentBuckets,
    /// Log window totals seen at the value's active buckets, one per window span.
    volumes: WindowVolumes,
    /// Bit `i` is set once the value's first window of span `WINDOW_SPANS_SECS[i]` has been
    /// given to the first-window population.
    #[serde(default)]
    first_windows_recorded: u8,
}

/// What the value's bucket baseline says about one bucket, from which a window prior follows.
#[derive(Debug, Clone, Copy)]
pub struct BucketBelief {
    pub predictive: Predictive,
    pub active_share: f64,
    pub bucket_secs: i64,
}

impl BucketBelief {
    /// The log-normal (centre and variance of the log) matching the mean and variance of a sum
    /// of the expected number of active buckets in a window of `span_secs`.
    fn implied_window(&self, span_secs: i64) -> (f64, f64) {
        let buckets = span_secs as f64 / self.bucket_secs as f64;
        let active = (self.active_share * buckets).max(1.0);
        let log_variance = self.predictive.variance().min(self.predictive.scale.powi(2) * 3.0);
        let bucket_mean = self.predictive.centre + log_variance / 2.0;
        let sum_log_variance = (1.0 + log_variance.exp_m1() / active).ln();
        let centre = bucket_mean + active.ln() - sum_log_variance / 2.0;
        (centre, sum_log_variance)
    }
}

impl WindowState {
    /// The window totals ending with a bucket in which the value receives `bytes`.
    pub fn totals(&self, bucket_start_secs: i64, bytes: u64) -> [u64; WINDOW_SPANS_SECS.len()] {
        let mut totals = [bytes; WINDOW_SPANS_SECS.len()];
        for (total, span) in totals.iter_mut().zip(WINDOW_SPANS_SECS) {
            let earlier: u64 = self
                .recent
                .iter()
                .filter(|&(start, _)| start > bucket_start_secs - span)
                .filter(|&(start, _)| start < bucket_start_secs)
                .map(|(_, b)| b)
                .fold(0u64, u64::saturating_add);
            *total = total.saturating_add(earlier);
        }
        totals
    }

    /// Judges the window totals of a bucket in which the value receives `bytes`. `age_secs`
    /// is how long the value has been known at the bucket's start (0 for a value never seen);
    /// `first_windows` holds the first-window belief of each span, where there is one.
    pub fn judge(
        &self,
        bucket: &BucketBelief,
        bucket_start_secs: i64,
        bytes: u64,
        age_secs: i64,
        first_windows: &[Option<NormalInverseGamma>],
    ) -> Vec<WindowEvidence> {
        let totals = self.totals(bucket_start_secs, bytes);
        WINDOW_SPANS_SECS
            .iter()
            .zip(totals)
            .enumerate()
            .map(|(index, (&span_secs, total_bytes))| {
                let young = age_secs < span_secs;
                let predictive = match first_windows.get(index).copied().flatten() {
                    Some(population) if young => population.predictive(),
                    _ => self.predictive(index, bucket, span_secs),
                };
                WindowEvidence {
                    span_secs,
                    total_bytes,
                    typical_bytes: bytes_from_log(predictive.centre).round(),
                    probability: predictive.upper_tail(log_volume(total_bytes as f64)).min(1.0),
                }
            })
            .collect()
    }

    fn predictive(&self, index: usize, bucket: &BucketBelief, span_secs: i64) -> Predictive {
        let (centre, variance) = bucket.implied_window(span_secs);
        let buckets_per_window = span_secs as f64 / bucket.bucket_secs as f64;
        let prior = NormalInverseGamma {
            mean: centre,
            mean_weight: PRIOR_WINDOWS,
            shape: PRIOR_SHAPE,
            rate: PRIOR_SHAPE * variance.max(1e-6),
        };
        // Overlapping windows are not independent: the history counts one window per window's
        // worth of buckets, both in the level and in the certainty about the spread.
        let history = self.volumes.0[index];
        let scaled = WeightedMoments {
            weight: history.weight / buckets_per_window,
            mean: history.mean,
            sum_sq_dev: history.sum_sq_dev / buckets_per_window,
        };
        prior.updated(&scaled).predictive()
    }

    /// The value's total over its first window of each span that has just completed by the end
    /// of the bucket starting at `bucket_start_secs`, for the first-window populations: at
    /// most once per span and value.
    pub fn completed_first_windows(
        &mut self,
        first_seen_secs: i64,
        bucket_start_secs: i64,
        bucket_secs: i64,
    ) -> Vec<(usize, u64)> {
        let mut completed = Vec::new();
        for (index, span) in WINDOW_SPANS_SECS.iter().enumerate() {
            let bit = 1u8 << index;
            if self.first_windows_recorded & bit != 0
                || bucket_start_secs + bucket_secs < first_seen_secs + span
            {
                continue;
            }
            self.first_windows_recorded |= bit;
            let total = self
                .recent
                .iter()
                .filter(|&(start, _)| start < first_seen_secs + span)
                .map(|(_, b)| b)
                .fold(0u64, u64::saturating_add);
            completed.push((index, total));
        }
        completed
    }

    /// Remembers a judged bucket: its bytes for later window totals, and each window total in
    /// that window's baseline with the given update weights.
    pub fn record(
        &mut self,
        bucket_start_secs: i64,
        bytes: u64,
        evidence: &[WindowEvidence],
        weights: &[f64],
    ) {
        let longest = WINDOW_SPANS_SECS[WINDOW_SPANS_SECS.len() - 1];
        self.recent.push(bucket_start_secs - longest, bucket_start_secs, bytes);
        for ((volume, window), &weight) in self.volumes.0.iter_mut().zip(evidence).zip(weights) {
            volume.add(log_volume(window.total_bytes as f64), weight);
        }
    }

    /// Heap bytes held by the windows' memory.
    pub fn heap_bytes(&self) -> usize {
        self.recent.heap_bytes()
    }

    /// Forgets window history at the model's rate.
    pub fn forget(&mut self, keep: f64) {
        for volume in &mut self.volumes.0 {
            volume.forget(keep);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BUCKET_SECS: i64 = 3 * 3600;

    fn belief(centre: f64, scale: f64, active_share: f64) -> BucketBelief {
        BucketBelief {
            predictive: Predictive { centre, scale, dof: 10.0 },
            active_share,
            bucket_secs: BUCKET_SECS,
        }
    }

    /// Window evidence for tests that only look at what is remembered.
    pub(super) fn unjudged() -> [WindowEvidence; 2] {
        [WindowEvidence { span_secs: 0, total_bytes: 0, typical_bytes: 0.0, probability: 1.0 }; 2]
    }

    #[test]
    fn window_totals_sum_the_buckets_within_each_span() {
        let mut state = WindowState::default();
        let none = unjudged();
        // A bucket 2 days ago, one 12 hours ago, and the one being judged.
        state.record(0, 5_000, &none, &[0.0, 0.0]);
        state.record(36 * 3600, 700, &none, &[0.0, 0.0]);
        assert_eq!(state.totals(48 * 3600, 10), [710, 5_710]);
        // Eight days later only the newest remembered bucket is within the week.
        assert_eq!(state.totals(36 * 3600 + 7 * 86_400 - 3600, 1), [1, 701]);
    }

    #[test]
    fn a_steady_day_is_ordinary_and_a_drip_of_ten_times_is_not() {
        let ln_100k = (100_000f64).ln_1p();
        let bucket = belief(ln_100k, 1.0, 1.0);
        let mut state = WindowState::default();
        let mut start = 0;
        // Two weeks of 100 kB every bucket.
        for _ in 0..(14 * 8) {
            let evidence = state.judge(&bucket, start, 100_000, start, &[]);
            state.record(start, 100_000, &evidence, &[1.0, 1.0]);
            start += BUCKET_SECS;
        }
        let ordinary = state.judge(&bucket, start, 100_000, start, &[]);
        assert_eq!(ordinary[0].total_bytes, 800_000);
        assert!(ordinary[0].probability > 0.2, "{ordinary:?}");
        assert!(ordinary[1].probability > 0.2, "{ordinary:?}");
        // Then a drip of 1 MB per bucket, no bucket of which is alarming on its own.
        let mut day_probability = 1.0;
        for _ in 0..8 {
            let evidence = state.judge(&bucket, start, 1_000_000, start, &[]);
            day_probability = evidence[0].probability;
            state.record(start, 1_000_000, &evidence, &[0.01, 0.01]);
            start += BUCKET_SECS;
        }
        assert!(day_probability < 1e-5, "the day of the drip: {day_probability}");
    }

    #[test]
    fn a_young_value_is_judged_by_what_its_bucket_baseline_implies() {
        // A value active in a quarter of buckets at about 10 kB: a day holds two such buckets.
        let bucket = belief((10_000f64).ln_1p(), 1.0, 0.25);
        let (centre, variance) = bucket.implied_window(86_400);
        let typical_day = bytes_from_log(centre);
        assert!((15_000.0..40_000.0).contains(&typical_day), "{typical_day}");
        assert!(variance < 1.0);
        let state = WindowState::default();
        let old = 30 * 86_400;
        let normal = state.judge(&bucket, 0, 10_000, old, &[]);
        assert!(normal[0].probability > 0.5, "{normal:?}");
        let large = state.judge(&bucket, 0, 5_000_000, old, &[]);
        assert!(large[0].probability < 0.01, "{large:?}");
        assert!(large[0].probability > 1e-4, "the implied spread is believed weakly");
    }
}

#[cfg(test)]
mod first_window_tests {
    use super::tests::unjudged;
    use super::*;

    #[test]
    fn a_young_value_is_judged_against_the_first_window_population() {
        let bucket = BucketBelief {
            predictive: Predictive { centre: 7.0, scale: 2.0, dof: 10.0 },
            active_share: 0.5,
            bucket_secs: 3 * 3600,
        };
        // New values usually accumulate about 20 kB in their first day.
        let population = NormalInverseGamma::with_predictive((20_000f64).ln_1p(), 1.0, 10.0);
        let state = WindowState::default();
        let day = state.judge(&bucket, 0, 3_000_000, 0, &[Some(population), None]);
        assert_eq!(day[0].typical_bytes, 20_000.0);
        assert!(day[0].probability < 1e-4, "{day:?}");
    }

    #[test]
    fn a_first_window_is_given_to_the_population_once_it_has_passed() {
        let mut state = WindowState::default();
        let nothing = unjudged();
        let bucket_secs = 3 * 3600;
        state.record(0, 100, &nothing, &[1.0, 1.0]);
        state.record(6 * 3600, 50, &nothing, &[1.0, 1.0]);
        assert!(state.completed_first_windows(0, 18 * 3600, bucket_secs).is_empty());
        state.record(21 * 3600, 7, &nothing, &[1.0, 1.0]);
        assert_eq!(state.completed_first_windows(0, 21 * 3600, bucket_secs), vec![(0, 157)]);
        assert!(state.completed_first_windows(0, 24 * 3600, bucket_secs).is_empty());
        state.record(30 * 3600, 1_000, &nothing, &[1.0, 1.0]);
        let week_end = 7 * 86_400 - bucket_secs;
        assert_eq!(state.completed_first_windows(0, week_end, bucket_secs), vec![(1, 1_157)]);
    }
}
