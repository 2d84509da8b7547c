//! The model applied to one univariate series, two-sided, as a NAB [`SeriesDetector`].
//!
//! A *series* is a sequence of `(timestamp, value)` rows in time order. Unlike byte totals its
//! values may be negative, near constant or confined to a narrow range, so the *scale* is chosen
//! online: the model learns every component both on the raw values and on `ln(1 + value)`, and
//! judges on the log scale only while every value seen so far is non-negative and the values
//! span at least [`LOG_SCALE_SPAN`] (then a doubling is the same step at any level, as for
//! byte volumes); otherwise it judges on the raw values. By default that span is infinite, so
//! it always judges raw values: on NAB they scored better (see the constant).
//!
//! A *component* is a baseline of one derived quantity, learned with the project's rules (see
//! [`crate::model`]): exponential forgetting per hour, robust update weights from the
//! probability of each row, and a lasting change accepted after it persists. Its predictive
//! distribution is the Student t of a normal-inverse-gamma belief (see [`stats`]). The
//! components are
//! - *slow level*: the value against a long memory (off by default: on NAB the steps alone
//!   scored 51.1 on the standard profile against 49.8 with it, as a level that drifts or
//!   cycles daily made ordinary rows look rare),
//! - *fast level*: the value against a short memory, so that a departure from what just
//!   happened counts even where the long memory is wide (off by default: on NAB it fired on
//!   ordinary wiggles more than it caught anomalies, see the benchmark test),
//! - *change*: the step from the previous value against the usual steps,
//! - *daily step*: the step minus the step into the row a day earlier. A step counts as
//!   probable as the likelier of the change and the daily step judge it
//!   ([`DailyStep::Either`]): a step repeated every day, such as a daily job's spike, is then
//!   ordinary. Without the range component it scored 52.1 on NAB's standard profile against
//!   51.8 without it (53.7 comparing with the closest step within an hour of a day earlier);
//!   standing in for the change only while its average surprise was the lower
//!   ([`DailyStep::Preferred`]) scored 40.6,
//! - *range*: the rank of the value among the last [`RANGE_ROWS`] values, two-sided, with an
//!   exponential tail beyond the [`RANGE_TAIL_ROWS`] most extreme ([`SlidingTail`]): a value
//!   beyond what the series has done for weeks is rare however ordinary its step. It raised
//!   the standard score from 53.7 to 58.6 (low FP from 37.5 to 46.3); alone, without the
//!   steps, it scored 52.9,
//! - *mean range*: the same for the mean of the last [`RANGE_MEAN_ROWS`] values, so that a
//!   shift too small to stand out in one row does over an hour (61.3 to 62.9),
//! - *hourly range*: the rank of the value among the last [`HOURLY_RANGE_ROWS`] values at the
//!   same hour of the day (UTC), counted only while the hour of day explains at least
//!   [`HOURLY_RHYTHM_SHARE`] of the values' variance (the squared correlation ratio of all
//!   values so far): in a series with a daily rhythm a value ordinary for the day can be rare
//!   for its hour, as when a peak is missing or the cycle stays flat. It raised the standard
//!   score from 69.4 to 71.5; counted always it scored 58.2. Without a rhythm it is left out
//!   of the combination rather than counted as certain (71.4 so).
//!
//! Each gives a two-sided probability `min(1, 2 * min(F, 1 - F))` with `F` its predictive
//! distribution function at the observed quantity (the range its empirical one). The row's
//! probability is their combination by Fisher's method (the chance that independent uniform
//! probabilities have a product as small), so that a row both far out of range and a sudden
//! step counts more than either. The Bonferroni bound (the smallest probability times their
//! number) scored 57.5 against 58.6 on NAB's standard profile.
//!
//! *Calibration*: the row's surprise `-ln p` is ranked against the surprises of the last
//! [`CALIBRATION_SECS`] of the same series ([`SlidingTail`], an exponential tail beyond the
//! [`CALIBRATION_TAIL_ROWS`] largest), giving `q`, the share of its own past as surprising; the
//! row's probability becomes the geometric mean of `p` and `q`, so that a series whose model is
//! often surprised needs a larger surprise to fire, and one that rarely is needs less. On NAB
//! it raised the standard score from 62.9 to 64.7 (low FP 51.8 to 56.0); `q` alone scored 52.6
//! and the larger of the two 55.2. Bounding the past by time rather than by
//! [`CALIBRATION_ROWS`] rows, so that it spans the same days at any sampling interval, raised
//! it from 71.5 to 71.8. The anomaly score is `record_score` of the result over 100.
//!
//! *Suppression*: NAB rewards only the first detection in a window and charges every one
//! outside. A row scores only if it exceeds every raw score of the previous
//! [`SUPPRESSION_SECS`] seconds, so an anomaly is reported when it starts or grows, not again on
//! every row while it lasts (measured in rows instead, [`SUPPRESSION_ROWS`], it scored 48.0 on
//! the standard profile against 49.8 for 16 hours, both with the slow level; 20 hours and four
//! degrees of freedom then added 0.7).
//!
//! Measured and left off by default (see the benchmark test's variants):
//! - the *recent surprise* (an anomaly likelihood): the tail probability of the mean surprise
//!   `-ln p` of the last few rows against the distribution of that mean over the last few
//!   hundred rows; it scored 27 to 33 on the standard profile against 51.8 without it;
//! - the *daily* component: the value minus the value a day earlier, standing in for the slow
//!   level while its forgetting average of surprise is the lower; it scored 48.0 against 49.7;
//! - also measured and removed: a second, short slow memory (a row unusual only if so for both:
//!   50.6 against 49.8 with the slow level, below the steps alone), counting how many of the last
//!   few hundred rows were as rare (48.0 to 50.5), steps over several rows as a further
//!   component (46.6 to 50.2), requiring all components to agree instead of the Bonferroni bound
//!   (30.6 to 44.5), and keeping only a score's excess over the recent ones (45.2 to 51.0).
//!
//! Measured with the daily step within an hour but before the range (53.7), standard / low FP /
//! low FN:
//! - *per-series calibration*: a row's surprise ranked against the last 3,000 rows' surprises
//!   ([`SlidingTail`], an exponential tail above the 20 largest), so that each file fires only
//!   on its own exceptional rows: 43.1 / 32.6 / 50.4 in place of the probability, 51.5 / 37.2 /
//!   59.5 requiring both to be small, 49.4 / 38.9 / 57.9 for their geometric mean (earlier, on
//!   the steps alone: 39.6 to 44.7 for 1,000 to 10,000 rows and 10 or 30 tail rows);
//! - the slow level with the daily component as an alternative explanation (the larger of the
//!   two probabilities): 53.8 / 36.6 / 62.0 (the slow level alone 50.7);
//! - the fast level beside the steps: 45.2 / 25.9 / 55.3;
//! - learning every row with full weight instead of robust weights: 52.3 / 39.4 / 60.5;
//! - step memory of 0.003 and 0.03 per hour: 51.6 and 53.5;
//! - requiring a score to exceed the suppression period's scores by half a decade or a decade
//!   of probability: 46.6 and 29.8;
//! - suppressing for 16 and 24 hours: 54.3 and 53.7.
//!
//! Measured with the range component (61.3 / 48.0 / 68.4) or, where said, also the mean range
//! (62.9 / 51.8 / 68.3):
//! - a second range component, of the mean of the last 3, 6, 9, 10, 12, 14, 16, 20, 24, 48 or
//!   96 values: 55.3, 59.1, 60.5, 61.6, 62.9, 61.2, 63.1, 60.2, 60.9, 60.0 and 59.9 (12 kept);
//! - leaving rows of probability below 1e-4 out of the range: 46.6;
//! - the daily component beside the others or instead of the steps: 55.8, 58.1;
//! - also requiring more than half (0.7, 0.85) of the decades of every score of the last 3
//!   days: 58.3 (56.5, 54.5); of the last 7 days: 55.6 (54.1, 48.4);
//! - the step ranked among recent steps, beside the t step or instead of it: 55.6 and 57.0;
//! - the value ranked among recent values at its own hour of day (200 or 500): 52.2;
//! - the geometric mean of the probabilities (the same order as Fisher's method for a fixed
//!   number of components, so the same 61.3); weighting the range 0.5, 0.75, 1.5, 2 or 3
//!   times: 57.9, 61.2, 59.2, 58.4, 57.5; the largest probability: 50.7;
//! - also suppressing below the scores within 30, 60 or 120 minutes of a day earlier: 60.9,
//!   61.0, 61.4; suppressing 16 or 24 hours: 60.7, 61.0;
//! - per-series calibration over 3,000 rows: 50.3, 52.0 and 59.8 (the three blends); with the
//!   mean range 52.6, 55.2 and 64.2, and the geometric blend over 1,000, 2,000, 5,000 and
//!   10,000 rows with tails beyond 10 / 20 / 50: 62.8 / 63.4 / 61.9, 63.0 / 63.4 / 61.8, 64.4 /
//!   64.7 / 63.2 and 64.2 / 64.4 / 62.5 (kept: 5,000 and 20);
//! - with the mean range: t tails of 3 or 5 degrees of freedom 62.7, 62.0; full-weight
//!   learning 63.4; the range over 16,128 values 63.6; the daily step within 2 hours 63.2;
//!   the step ranked instead of the t step 63.0; no floor on the range's tail 63.6 (all within
//!   the spread of nearby settings, so left as they are);
//! - the range over 4,032 or 16,128 values: 59.3, 60.8; its tail beyond 5 or 50: 61.5, 59.4;
//! - comparing with the step within 15, 60 or 120 minutes of a day earlier: 58.7, 58.7, 59.2;
//!   without the daily step: 60.2;
//! - t tails of 3 or 5 degrees of freedom: 60.1, 61.0; full-weight learning: 61.1.
//!
//! Measured with the calibration, on the log scale from a span of 100 (64.7 / 56.0 / 70.4):
//! - calibrating each component's probability before combining them, beside the row's
//!   calibration or instead of it: 61.0 and 63.8;
//! - the share of `q` in the geometric blend at 0.3, 0.4, 0.6 or 0.7 instead of 0.5: 65.5,
//!   65.3, 63.8, 63.5;
//! - suppressing 12, 16, 24 or 36 hours: 64.1, 64.4, 63.2, 62.9; a margin of a quarter decade:
//!   64.2; also below the scores near a day earlier (30, 60, 120 minutes): 63.9, 64.2, 64.5;
//! - the log scale from a span of 10, 1,000, 10,000 or 100,000, or never: 65.6, 69.0, 68.4,
//!   68.1, 69.4 (never kept).
//!
//! Measured with the calibration over 17 days (the default, 71.8 / 62.1 / 76.9: 101 of 116
//! windows with 212 false positives at the standard threshold):
//! - the calibration over 5,000 rows 71.5 (2,000 or 10,000: 69.5, 71.1); over 7, 12, 14, 21,
//!   25 or 35 days: 69.7, 71.2, 71.8, 71.5, 71.3, 70.9;
//! - without the hourly range 69.1; over 100 values at each hour 71.9; counted from a rhythm
//!   share of 0.3, 0.7 or 0.9: 71.2, 71.3, 71.5;
//! - the weekly step beside the daily step 69.8, only while it beats the step 70.3;
//! - the daily step alone while the hour of day explains 0.3, 0.5, 0.7 or 0.9 of the
//!   variance: 71.3, 71.3, 71.4, 71.8;
//! - the range over 14, 28 or 56 days instead of 8,064 rows: 69.2, 71.5, 71.2;
//! - repeats after 3 or 12 identical values judged but not learned: 70.0, 71.2.
//!
//! Measured with the hourly range where a daily rhythm is found, calibrated over 5,000 rows
//! (71.5 / 61.9 / 76.7: 101 of 116 windows with 210 false positives at the standard
//! threshold):
//! - without the hourly range 69.4; the hourly range over 100 or 500 values at each hour:
//!   71.5, 71.5; counted always (200 or 500 values): 58.2, 59.6; counted from a rhythm share
//!   of 0.3, 0.7 or 0.9: 70.8, 70.7, 71.8 (0.5 kept as the plain middle, the spread being that
//!   of nearby settings); without a rhythm counted as a probability of one rather than left
//!   out of the combination 71.4, and so counted always but never judging 69.3;
//! - the *weekly step* (the step minus the step into the row a week earlier) as a further
//!   alternative explanation of a step beside the daily step: 69.7; only while its average
//!   surprise is below the step's (a weekly rhythm): 69.8;
//! - the daily step alone judging the step (a missing daily event counts) while the hour of
//!   day explains 0.3, 0.5, 0.7 or 0.9 of the variance: 71.3, 71.4, 71.4, 71.5;
//! - the calibration over 2,000 or 10,000 rows: 69.5, 71.1; bounded by time instead of rows,
//!   7, 17 or 35 days: 69.7, 71.8, 70.9; the range bounded by time, 14, 28 or 56 days: 68.5,
//!   70.7, 70.9;
//! - flat stretches: after 3 or 12 identical values in a row, repeats judged but not learned:
//!   69.7, 71.0;
//! - each component's surprise divided by its own running mean before combining: 55.3; only
//!   where that mean exceeds one: 69.9.
//!
//! Measured on raw values before the hourly range (69.4 / 59.9 / 74.4: 98 of 116 windows with
//! 208 false positives at the standard threshold):
//! - t tails of 3 or 5 degrees of freedom: 67.5, 69.5; full-weight learning: 67.7;
//! - suppressing 12, 16, 24 or 36 hours: 68.4, 68.7, 68.7, 66.8; a margin of a quarter decade
//!   69.0; also below the scores within 2 hours of a day earlier: 68.9;
//! - without the daily step 66.5, preferred instead of either 68.8, within 15, 60 or 120
//!   minutes of a day earlier 66.8, 66.6, 67.1;
//! - without the range 53.3, without the mean range 62.2, the mean of 6, 16 or 24 values
//!   66.1, 67.2, 66.8; the range over 4,032 or 16,128 values 66.4, 69.2; its tail beyond 5 or
//!   50: 65.5, 66.1; without the t step 60.8;
//! - the Bonferroni bound 60.5, the geometric mean 67.4;
//! - uncalibrated 65.3; calibrated over 2,000 or 10,000 rows 67.6, 69.2; the share of `q` at
//!   0.4 or 0.6: 68.2, 68.4; each component calibrated too 61.2, instead 65.2;
//! - the slow level 64.5, the slow level or the daily component 65.7, the fast level 59.3;
//! - the weekly step beside the daily step: 68.2; only while it beats the step: 68.7;
//! - the calibration over 7, 17 or 35 days instead of 5,000 rows: 66.7, 69.1, 68.9; the range
//!   over 14, 28 or 56 days instead of 8,064 rows: 65.3, 67.6, 68.2;
//! - repeats after 3 or 12 identical values judged but not learned: 67.3, 68.8;
//! - each component's surprise divided by its running mean: 54.3; only where above one: 67.1;
//! - the daily step alone where the hour of day explains 0.3, 0.5, 0.7 or 0.9 of the
//!   variance: 69.4, 69.4, 69.1, 69.4.

use super::stats::{self, NormalInverseGamma, Predictive, SlidingTail, WeightedMoments};
use super::{update_weight, FULL_WEIGHT_PROBABILITY};
use crate::eval::nab::SeriesDetector;
use crate::score::record_score;
use statrs::function::erf::erfc;
use std::collections::VecDeque;

/// Values must span at least this factor (as `1 + value`) before the log scale is used. By
/// default never: with the range components, which rank values rather than measure their
/// spread, NAB scored 69.4 on the standard profile on raw values against 64.7 with logs from a
/// span of 100 (65.6 from 10, 69.0 from 1,000, 68.4 from 10,000, 68.1 from 100,000). The log
/// scale remains for series of byte volumes, where a doubling is the same step at any level.
pub const LOG_SCALE_SPAN: f64 = f64::INFINITY;

/// Memory of the slow level, per hour: about four days, long enough to hold a few daily cycles
/// yet short enough to follow the drift of a series of a few weeks.
pub const SLOW_FORGETTING_PER_HOUR: f64 = 0.05;

/// Memory of the fast level, per hour: about two hours, the recent past a spike stands out
/// from.
pub const FAST_FORGETTING_PER_HOUR: f64 = 0.5;

/// Memory of the usual step between rows, as long as the slow level's.
pub const CHANGE_FORGETTING_PER_HOUR: f64 = 0.01;

/// A component's forgetting never keeps less than this share per row, so that on sparse
/// series (hourly or slower) the fast memory still spans a few rows.
pub const MIN_KEEP_PER_ROW: f64 = 0.75;

/// Anomalous rows persisting this long are taken as the new normal, as in the project's model.
pub const CHANGE_ACCEPTANCE_SECS: i64 = super::DEFAULT_CHANGE_ACCEPTANCE_SECS;

/// A component judges nothing until it holds this many rows' worth of weight: fewer say
/// little about spread, and NAB ignores the first 15% of every file anyway.
pub const MIN_COMPONENT_WEIGHT: f64 = 8.0;

/// Rows at the start of a series that score nothing while the components warm up.
pub const WARM_UP_ROWS: u64 = 30;

/// Rows after a score during which only a higher score counts: 200 rows (about 17 hours at
/// five-minute sampling) is about the width of a NAB window, so one anomaly is reported once.
pub const SUPPRESSION_ROWS: usize = 200;

/// Seconds after a score during which only a higher score counts, when suppression is measured
/// in time: most of a day is about the width of a NAB window on the usual few-week files at
/// five-minute sampling, and does not stretch with the sampling rate as a count of rows does.
pub const SUPPRESSION_SECS: i64 = 20 * 3600;

/// The predictive t distribution never has more degrees of freedom than this: series of every
/// kind (counts, latencies, temperatures) have much heavier tails than byte volumes, and a row
/// a few spreads out must not look like a one-in-a-billion event. Four degrees of freedom keep
/// the variance finite while giving power-law tails (on NAB 3 and 5 scored slightly lower).
pub const MAX_SERIES_DOF: f64 = 4.0;

/// Rows of per-row surprise averaged into the recent surprise: about the length of a short
/// anomaly, so that a few unusual rows in a row count more than one.
pub const LIKELIHOOD_SHORT_ROWS: usize = 10;

/// Rows of averaged surprise forming its usual distribution: a few hundred, long enough to hold
/// the series' ordinary bursts of surprise, short enough to follow a change in their level.
pub const LIKELIHOOD_LONG_ROWS: usize = 500;

/// The usual distribution of the averaged surprise is never taken narrower than this (in nats),
/// so that a series which has been perfectly predictable does not make every wiggle extreme.
pub const LIKELIHOOD_MIN_SPREAD: f64 = 0.2;

/// The averaged surprise judges nothing until its usual distribution holds this many rows.
pub const LIKELIHOOD_MIN_ROWS: usize = 100;

/// Seconds in a day, the period of the daily component.
pub const DAY_SECS: i64 = 86_400;

/// Seconds in a week, the period of the weekly step.
pub const WEEK_SECS: i64 = 7 * DAY_SECS;

/// The value a day earlier is taken from the last row at least a day old, if that row is at
/// most this much older than exactly a day: otherwise the series has a gap there.
pub const DAILY_TOLERANCE_SECS: i64 = 3_600;

/// The daily step may compare with the closest of the steps within this much of a day earlier,
/// as a daily job starts a few minutes early or late. Without the range component an hour
/// either side scored best on NAB (53.7 on the standard profile against 52.1 for the exact
/// lag); with it the exact lag scores best (61.3 against 58.7 for an hour and 58.5 for a
/// quarter of an hour), as a jittered match explains away too many genuine steps.
pub const DAILY_JITTER_SECS: i64 = 0;

/// Memory, per hour, of the average surprise comparing the daily component with the slow
/// level: about two days, so that the choice follows a series whose cycle comes and goes.
pub const DAILY_COMPARE_FORGETTING_PER_HOUR: f64 = 0.02;

/// The calibration extrapolates above this many of the largest past surprises: enough for a
/// mean excess that one value does not decide, few enough to be the tail of a few thousand rows
/// (on NAB 10 scored 64.4 on the standard profile, 50 63.2).
pub const CALIBRATION_TAIL_ROWS: usize = 20;

/// Rows of past surprise a row's surprise is ranked against: a few weeks at five-minute
/// sampling, enough to hold a series' ordinary bursts of surprise many times over (on NAB,
/// with the geometric blend: 1,000 rows scored 63.4, 3,000 64.2, this 64.7 and 10,000 64.4).
pub const CALIBRATION_ROWS: usize = 5000;

/// Seconds of past surprise a row's surprise is ranked against, so that the calibration spans
/// the same time whatever the sampling interval: 17 days, what [`CALIBRATION_ROWS`] spans at
/// five-minute sampling. On NAB it raised the standard score from 71.5 (5,000 rows) to 71.8
/// (14 days also 71.8, 12 days 71.2, 21 days 71.5, 25 days 71.3).
pub const CALIBRATION_SECS: i64 = 17 * DAY_SECS;

/// The range component judges nothing until it holds this many values: the rank of a value
/// among fewer says little about how extreme it is.
pub const RANGE_MIN_ROWS: usize = 100;

/// Values the range component ranks a value against: four weeks at five-minute sampling, so
/// that on most NAB files it holds the whole past (on NAB 1,000 values scored 51.9 on the
/// standard profile, 4,032 scored 56.6, this 58.6 and 16,128 58.2).
pub const RANGE_ROWS: usize = 8064;

/// The range component extrapolates above this many of the most extreme values: enough for a
/// mean excess that one value does not decide (on NAB 5 scored 58.6 as well, 50 scored 56.3).
pub const RANGE_TAIL_ROWS: usize = 20;

/// Values averaged into the second range component: an hour at five-minute sampling, long
/// enough that a lasting shift stands out from the noise, short enough to catch it early. On
/// NAB 9 to 24 values scored 60.2 to 63.1 on the standard profile (12: 62.9, 16: 63.1) against
/// 61.3 without it, and raised the low-FP score at every length; 3 and 6 scored 55.3 and 59.1.
/// (Measured with the tail never narrower than the data's resolution; taking a mean's finer
/// resolution, the resolution over the number of values, 12 still scored 62.9 and 16 62.8.)
pub const RANGE_MEAN_ROWS: usize = 12;

/// Values at each hour of the day the hourly range ranks a value against: a few weeks of
/// that hour at five-minute sampling (on NAB 100 and 500 scored within 0.1 of it).
pub const HOURLY_RANGE_ROWS: usize = 200;

/// The hourly range counts only while the hour of day explains at least this share of the
/// values' variance: with a daily rhythm, a value ordinary for the day can be rare for its
/// hour (a missing peak, a flat stretch where the cycle should rise), while without one the
/// hour's few values only add noise. On NAB the standard score was 71.5 at a half, 70.8 at
/// 0.3, 70.7 at 0.7, 71.8 at 0.9 and 58.2 counting the hourly range always.
pub const HOURLY_RHYTHM_SHARE: f64 = 0.5;

/// With [`SeriesConfig::range_robust`], rows less probable than this are not remembered by the
/// range components.
pub const RANGE_ROBUST_P: f64 = 1e-4;

/// Settings of a [`SeriesModel`]; the defaults are the constants above.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SeriesConfig {
    pub slow_forgetting_per_hour: f64,
    pub fast_forgetting_per_hour: f64,
    pub change_forgetting_per_hour: f64,
    pub min_keep_per_row: f64,
    pub max_dof: f64,
    pub suppression_rows: usize,
    pub use_fast: bool,
    pub use_slow: bool,
    pub use_change: bool,
    /// Rows averaged into the recent surprise; 0 scores each row's own probability instead.
    pub likelihood_short_rows: usize,
    /// Rows of averaged surprise whose distribution the recent one is judged against.
    pub likelihood_long_rows: usize,
    /// Smallest spread of the averaged surprise, in nats.
    pub likelihood_min_spread: f64,
    /// Whether the row's own probability also counts beside the recent surprise's.
    pub likelihood_with_row: bool,
    /// Seconds after a score during which only a higher score counts; 0 counts rows instead.
    pub suppression_secs: i64,
    /// Whether the daily component may stand in for the slow level.
    pub use_daily: bool,
    /// Recent values a value is ranked against (the *range* component); 0 leaves it out.
    pub range_rows: usize,
    /// Values averaged into a second range component, of their mean; 0 leaves it out.
    pub range_mean_rows: usize,
    /// Values at each hour of the day a value is ranked against (the hourly range); 0 leaves
    /// it out.
    pub hourly_range_rows: usize,
    /// Whether the range components leave out rows whose probability was below
    /// [`RANGE_ROBUST_P`].
    pub range_robust: bool,
    /// Whether the step is also ranked among recent steps.
    pub step_range: bool,
    /// Whether the range component's extrapolated tail is never narrower than the data's
    /// resolution.
    pub range_min_excess: bool,
    /// Most extreme values above which the range component extrapolates an exponential tail.
    pub range_tail_rows: usize,
    /// How the components' probabilities are combined.
    pub combine: Combine,
    /// Weight of the range component in [`Combine::Geometric`], the others weighing 1.
    pub range_weight: f64,
    /// Whether the daily component counts on its own, beside the others.
    pub daily_difference: bool,
    /// Whether unusual rows are learned with less weight (the project's robust updates);
    /// otherwise every row is learned with full weight.
    pub robust: bool,
    /// Whether the slow level's probability is instead the larger of its own and the daily
    /// component's: either may explain the value.
    pub daily_either: bool,
    /// A row scores only if it also exceeds every raw score within this many seconds of a day
    /// earlier; 0 looks only at the suppression period.
    pub daily_suppression_secs: i64,
    /// A row scores only if its decades of probability exceed [`Self::long_suppression_share`]
    /// of every raw score's within this many seconds; 0 leaves this out.
    pub long_suppression_secs: i64,
    pub long_suppression_share: f64,
    /// A row scores only if its probability is this many decades below that of every raw
    /// score of the suppression period.
    pub suppression_margin_decades: f64,
    /// Forgetting, per hour, of the average surprise by which the daily component and the slow
    /// level are compared.
    pub daily_compare_forgetting_per_hour: f64,
    /// How the daily step may explain a step: see [`DailyStep`].
    pub daily_step: DailyStep,
    /// The daily step compares with the closest of the steps this many seconds either side of a
    /// day earlier; 0 takes the step into the last row at least a day earlier.
    pub daily_jitter_secs: i64,
    /// Rows of past surprise a row's surprise is ranked against, unless bounded by time; 0
    /// scores it uncalibrated.
    pub calibration_rows: usize,
    /// Largest past surprises above which the calibration extrapolates an exponential tail.
    pub calibration_tail_rows: usize,
    /// How the calibrated probability `q` replaces the row's own `p`: 0 by `q`, 1 by the larger
    /// of the two (both must be small), 2 by their geometric mean (the default: the row must be
    /// rare both in itself and against the series' own past, and either can make up for part
    /// of the other).
    pub calibration_blend: u8,
    /// Whether each component's probability is also calibrated (geometric blend) before they
    /// are combined.
    pub calibrate_components: bool,
    /// Values must span this factor before the log scale is used: see [`LOG_SCALE_SPAN`].
    pub log_scale_span: f64,
    /// The share of `q` in the geometric blend, in logs: 0.5 is the plain geometric mean.
    pub calibration_weight: f64,
    /// How the step a week earlier may explain a step: see [`WeeklyStep`].
    pub weekly_step: WeeklyStep,
    /// Seconds of past surprise a row's surprise is ranked against; 0 bounds the calibration
    /// by [`Self::calibration_rows`] instead.
    pub calibration_secs: i64,
    /// Seconds of past values the range components rank against; 0 bounds them by
    /// [`Self::range_rows`] instead.
    pub range_secs: i64,
    /// After this many identical values in a row, further repeats are judged but not learned,
    /// as a stuck or idle source says nothing about the usual steps; 0 learns every row.
    pub flat_run_rows: usize,
    /// How each component's surprise is rescaled by its own running mean before combining: see
    /// [`ComponentScaling`].
    pub component_scaling: ComponentScaling,
    /// The hourly range counts only while the hour of day explains at least this share of the
    /// values' variance (a daily rhythm detected from the data); 0 counts it always.
    pub hourly_rhythm_share: f64,
    /// While the hour of day explains at least this share of the variance, the daily step
    /// alone judges the step, so that a missing daily event counts too; 0 never.
    pub rhythmic_daily_step_share: f64,
    /// Whether, without a daily rhythm, the hourly range is left out of the combination rather
    /// than counted as a certain probability of one.
    pub hourly_left_out: bool,
}

impl Default for SeriesConfig {
    fn default() -> Self {
        SeriesConfig {
            slow_forgetting_per_hour: SLOW_FORGETTING_PER_HOUR,
            fast_forgetting_per_hour: FAST_FORGETTING_PER_HOUR,
            change_forgetting_per_hour: CHANGE_FORGETTING_PER_HOUR,
            min_keep_per_row: MIN_KEEP_PER_ROW,
            max_dof: MAX_SERIES_DOF,
            suppression_rows: SUPPRESSION_ROWS,
            use_fast: false,
            use_slow: false,
            use_change: true,
            likelihood_short_rows: 0,
            likelihood_long_rows: LIKELIHOOD_LONG_ROWS,
            likelihood_min_spread: LIKELIHOOD_MIN_SPREAD,
            likelihood_with_row: false,
            suppression_secs: SUPPRESSION_SECS,
            use_daily: false,
            robust: true,
            daily_difference: false,
            range_rows: RANGE_ROWS,
            range_tail_rows: RANGE_TAIL_ROWS,
            range_min_excess: true,
            range_mean_rows: RANGE_MEAN_ROWS,
            step_range: false,
            range_robust: false,
            hourly_range_rows: HOURLY_RANGE_ROWS,
            combine: Combine::Fisher,
            range_weight: 1.0,
            daily_either: false,
            suppression_margin_decades: 0.0,
            daily_suppression_secs: 0,
            long_suppression_secs: 0,
            long_suppression_share: 1.0,
            daily_compare_forgetting_per_hour: DAILY_COMPARE_FORGETTING_PER_HOUR,
            daily_step: DailyStep::Either,
            daily_jitter_secs: DAILY_JITTER_SECS,
            calibration_rows: CALIBRATION_ROWS,
            calibration_blend: 2,
            calibration_weight: 0.5,
            calibrate_components: false,
            log_scale_span: LOG_SCALE_SPAN,
            calibration_tail_rows: CALIBRATION_TAIL_ROWS,
            weekly_step: WeeklyStep::Off,
            calibration_secs: CALIBRATION_SECS,
            range_secs: 0,
            flat_run_rows: 0,
            component_scaling: ComponentScaling::Off,
            hourly_rhythm_share: HOURLY_RHYTHM_SHARE,
            rhythmic_daily_step_share: 0.0,
            hourly_left_out: true,
        }
    }
}

/// The *weekly step* is the step from the previous value minus the step a week earlier: a
/// step that repeats every week (a weekday's start) is then ordinary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeeklyStep {
    Off,
    /// A step is as probable as the likeliest of the step, daily step and weekly step.
    Either,
    /// As `Either`, but only while the weekly step's average surprise is below the step's:
    /// only a series with a weekly rhythm is explained by it.
    Rhythmic,
}

/// A component whose surprise `-ln p` averages more than one (the mean for a calibrated
/// probability) is surprised more often than it should be; dividing its surprise by its own
/// running mean puts the components on an equal footing before they are combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComponentScaling {
    Off,
    /// Every component's surprise is divided by its running mean.
    ToMeanOne,
    /// Only components surprised more than calibrated ones are scaled down.
    OnlyDown,
}

/// The *daily step* is the step from the previous value minus the step a day earlier: a step
/// that repeats every day (a daily cycle's rise or a square wave's edge) is then ordinary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DailyStep {
    Off,
    /// The daily step stands in for the step while its average surprise is the lower.
    Preferred,
    /// A step is as probable as the likelier of the two judgements: either may explain it.
    Either,
}

/// How the probabilities of the components in use make the row's probability.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Combine {
    /// The smallest times their number.
    Bonferroni,
    /// Fisher's method: see [`fisher`].
    Fisher,
    /// Their geometric mean: every component must find the row rare.
    Geometric,
    /// The largest: the row is as probable as the least surprised component finds it.
    Largest,
}

/// One learned baseline of a derived quantity, on one scale.
#[derive(Debug, Clone, Default)]
struct Component {
    moments: WeightedMoments,
    anomalous_since: Option<i64>,
}

impl Component {
    /// The predictive distribution, once enough weight has been seen. The within-series spread
    /// is never narrower than `min_variance`, the resolution of the data.
    fn predictive(&self, min_variance: f64, max_dof: f64) -> Option<Predictive> {
        let m = &self.moments;
        if m.weight < MIN_COMPONENT_WEIGHT {
            return None;
        }
        let rate = m.sum_sq_dev.max(m.weight * min_variance) / 2.0;
        let belief =
            NormalInverseGamma { mean: m.mean, mean_weight: m.weight, shape: m.weight / 2.0, rate };
        let predictive = belief.predictive();
        Some(Predictive { dof: predictive.dof.min(max_dof), ..predictive })
    }

    /// Two-sided probability of `x`, or 1 while the component is warming up.
    fn probability(&self, x: f64, min_variance: f64, max_dof: f64) -> f64 {
        match self.predictive(min_variance, max_dof) {
            Some(predictive) => {
                let upper = predictive.upper_tail(x);
                (2.0 * upper.min(1.0 - upper)).min(1.0)
            }
            None => 1.0,
        }
    }

    /// Learns `x`, whose probability was `p`, after forgetting by `keep`; with `robust`, an
    /// unusual value is learned with less weight.
    fn learn(&mut self, x: f64, p: f64, keep: f64, time: i64, robust: bool) {
        self.moments.forget(keep);
        let mut weight = if robust { update_weight(p) } else { 1.0 };
        if p < FULL_WEIGHT_PROBABILITY {
            let since = *self.anomalous_since.get_or_insert(time);
            if time - since >= CHANGE_ACCEPTANCE_SECS {
                weight = 1.0;
            }
        } else {
            self.anomalous_since = None;
        }
        self.moments.add(x, weight);
    }
}

/// The recent values of a quantity, for the two-sided rank of a new one among them.
#[derive(Debug, Clone, Default)]
struct Range {
    /// The values, and their negations for the lower tail.
    above: SlidingTail,
    below: SlidingTail,
    /// The times of the values, when the memory is bounded by time.
    times: VecDeque<i64>,
}

impl Range {
    /// Two-sided probability of `x` with tails no narrower than `unit`; 1 while few values are
    /// known.
    fn probability(&self, x: f64, unit: f64) -> f64 {
        if self.above.len() < RANGE_MIN_ROWS {
            return 1.0;
        }
        let upper = self.above.upper_tail(x, unit);
        (2.0 * upper.min(self.below.upper_tail(-x, unit))).min(1.0)
    }

    fn push(&mut self, x: f64, time: i64, c: &SeriesConfig) {
        if self.above.is_empty() {
            let capacity = if c.range_secs > 0 { usize::MAX } else { c.range_rows };
            self.above = SlidingTail::new(capacity, c.range_tail_rows);
            self.below = SlidingTail::new(capacity, c.range_tail_rows);
        }
        if x.is_nan() {
            return;
        }
        if c.range_secs > 0 {
            while self.times.front().is_some_and(|&t| t <= time - c.range_secs) {
                self.times.pop_front();
                self.above.forget_oldest();
                self.below.forget_oldest();
            }
            self.times.push_back(time);
        }
        self.above.push(x);
        self.below.push(-x);
    }
}

/// The components on one scale.
#[derive(Debug, Clone, Default)]
struct Scale {
    slow: Component,
    fast: Component,
    change: Component,
    /// The value against the value a day earlier.
    daily: Component,
    /// The step against the step a day earlier.
    daily_step: Component,
    /// Forgetting averages of the surprise of the step and of the daily step.
    change_surprise: f64,
    daily_step_surprise: f64,
    /// The recent values, the recent means of a few values and the recent steps, for ranks.
    range: Range,
    mean_range: Range,
    step_range: Range,
    /// The last few values, for their mean.
    recent: VecDeque<f64>,
    /// The recent values at each hour of the day (UTC), for the rank of a value among those at
    /// its own hour.
    hourly: Vec<Range>,
    /// Rows of the last day and the two before it, oldest first.
    day: VecDeque<(i64, f64)>,
    /// The same for the last week, with the weekly step.
    week: VecDeque<(i64, f64)>,
    /// The step against the step a week earlier.
    weekly_step: Component,
    /// Forgetting averages of the surprise of the weekly step and of the step, while both are
    /// judged.
    weekly_step_surprise: f64,
    weekly_change_surprise: f64,
    /// Forgetting averages of the surprise of the slow level and of the daily component.
    slow_surprise: f64,
    daily_surprise: f64,
    /// Rows, sum and sum of squares of the values at each hour of the day (UTC), for the share
    /// of variance the hour explains.
    hour_sums: Vec<(f64, f64, f64)>,
    /// Smallest non-zero step seen between consecutive values: the data's resolution.
    resolution: f64,
    previous: Option<f64>,
}

/// Probabilities of the three components of one row.
#[derive(Debug, Clone, Copy)]
struct Judgement {
    slow: f64,
    fast: f64,
    change: f64,
    /// The daily component's probability and the difference it judged, once it has one.
    daily: Option<(f64, f64)>,
    /// Whether the daily component stands in for the slow level.
    daily_preferred: bool,
    /// Two-sided rank probability of the value among the recent values, of the mean of the
    /// last few values among recent such means, and of the step among recent steps.
    range: f64,
    mean_range: f64,
    step_range: f64,
    /// Two-sided rank probability of the value among recent values at the same hour of day.
    hourly_range: f64,
    /// Whether the hourly range judged the row (a daily rhythm was found).
    hourly_rhythm: bool,
    /// The daily step's probability and the difference of steps it judged, once it has one.
    daily_step: Option<(f64, f64)>,
    /// The same for the weekly step, and whether it may explain the step.
    weekly_step: Option<(f64, f64)>,
    weekly_explains: bool,
    /// Whether the daily step alone judges the step (a daily rhythm is present).
    daily_step_alone: bool,
}

/// Fisher's combination of independent probabilities: the probability that a chi-squared
/// variable of `2k` degrees of freedom exceeds `-2 sum ln p`, which for even degrees of freedom
/// is `e^-h sum_{j<k} h^j / j!` with `h = -sum ln p`. 1 for no probabilities.
fn fisher(probabilities: &[f64]) -> f64 {
    let half = -probabilities.iter().map(|p| p.clamp(1e-300, 1.0).ln()).sum::<f64>();
    let mut term = 1.0;
    let mut sum = 0.0;
    for j in 0..probabilities.len() {
        if j > 0 {
            term *= half / j as f64;
        }
        sum += term;
    }
    if probabilities.is_empty() {
        1.0
    } else {
        ((-half).exp() * sum).min(1.0)
    }
}

impl Judgement {
    fn combined(&self, config: &SeriesConfig) -> f64 {
        combine(&self.used(config), config)
    }

    /// The probabilities of the components in use, in a fixed order for a given config.
    fn used(&self, config: &SeriesConfig) -> Vec<f64> {
        let mut used = Vec::with_capacity(4);
        if config.use_slow {
            used.push(match self.daily {
                Some((p, _)) if config.daily_either => p.max(self.slow),
                Some((p, _)) if self.daily_preferred => p,
                _ => self.slow,
            });
        }
        if config.use_fast {
            used.push(self.fast);
        }
        if config.daily_difference {
            used.push(self.daily.map_or(1.0, |(p, _)| p));
        }
        if config.use_change {
            let change = match (config.daily_step, self.daily_step) {
                (DailyStep::Either, Some((p, _))) if !self.daily_step_alone => self.change.max(p),
                _ => self.change,
            };
            used.push(match self.weekly_step {
                Some((p, _)) if self.weekly_explains => change.max(p),
                _ => change,
            });
        }
        if config.range_rows > 0 {
            used.push(self.range);
            if config.range_mean_rows > 1 {
                used.push(self.mean_range);
            }
            if config.step_range {
                used.push(self.step_range);
            }
            if config.hourly_range_rows > 0 && (self.hourly_rhythm || !config.hourly_left_out) {
                used.push(self.hourly_range);
            }
        }
        used
    }
}

/// The row's probability from those of the components in use: see [`Combine`].
fn combine(used: &[f64], config: &SeriesConfig) -> f64 {
    {
        let smallest = used.iter().copied().fold(1.0, f64::min);
        match config.combine {
            Combine::Fisher => fisher(used),
            Combine::Bonferroni => (used.len().max(1) as f64 * smallest).min(1.0),
            Combine::Geometric => {
                // The range component, last when in use, counts `range_weight` times.
                let weights: Vec<f64> = (0..used.len())
                    .map(|i| {
                        let range = config.range_rows > 0 && i + 1 == used.len();
                        if range {
                            config.range_weight
                        } else {
                            1.0
                        }
                    })
                    .collect();
                let logs = used.iter().zip(&weights).map(|(p, w)| w * p.max(1e-300).ln());
                (logs.sum::<f64>() / weights.iter().sum::<f64>().max(1e-9)).exp()
            }
            Combine::Largest => used.iter().copied().fold(0.0, f64::max),
        }
    }
}

impl Scale {
    fn min_variance(&self) -> f64 {
        // A step of one resolution unit is treated as about one standard deviation's worth of
        // noise at least: data quantised to whole numbers cannot vary by less.
        let unit = if self.resolution > 0.0 { self.resolution } else { 1e-9 };
        (unit * unit).max(1e-18)
    }

    /// The step into the last row at least a day before `time`, if close enough to a day; with
    /// a jitter, the step closest to `step` among those into rows within `jitter` of a day.
    fn day_step_before(&self, time: i64, step: f64, jitter: i64) -> Option<f64> {
        let target = time - DAY_SECS;
        if jitter > 0 {
            return (1..self.day.len())
                .filter(|&i| (self.day[i].0 - target).abs() <= jitter)
                .map(|i| self.day[i].1 - self.day[i - 1].1)
                .min_by(|a, b| (a - step).abs().total_cmp(&(b - step).abs()));
        }
        let at = self.day.iter().take_while(|&&(t, _)| t <= target).count().checked_sub(1)?;
        let (t, x) = self.day[at];
        (at >= 1 && target - t <= DAILY_TOLERANCE_SECS).then(|| x - self.day[at - 1].1)
    }

    /// The share of the values' variance explained by the hour of day (the correlation ratio
    /// squared); 0 until every hour has values.
    fn hourly_share(&self) -> f64 {
        if self.hour_sums.len() < 24 || self.hour_sums.iter().any(|&(n, _, _)| n < 1.0) {
            return 0.0;
        }
        let (n, sum, sum_sq) = self
            .hour_sums
            .iter()
            .fold((0.0, 0.0, 0.0), |(a, b, c), &(n, s, q)| (a + n, b + s, c + q));
        let total = sum_sq - sum * sum / n;
        let between: f64 =
            self.hour_sums.iter().map(|&(h, s, _)| s * s / h).sum::<f64>() - sum * sum / n;
        if total > 0.0 {
            (between / total).clamp(0.0, 1.0)
        } else {
            0.0
        }
    }

    /// The step into the last row at least a week before `time`, if close enough to a week.
    fn week_step_before(&self, time: i64) -> Option<f64> {
        let target = time - WEEK_SECS;
        let at = self.week.partition_point(|&(t, _)| t <= target).checked_sub(1)?;
        let (t, x) = self.week[at];
        (at >= 1 && target - t <= DAILY_TOLERANCE_SECS).then(|| x - self.week[at - 1].1)
    }

    /// The mean of `x` and the `rows - 1` values before it, once there are that many.
    fn mean_of_recent(&self, x: f64, rows: usize) -> Option<f64> {
        (rows > 1 && self.recent.len() + 1 >= rows)
            .then(|| (self.recent.iter().sum::<f64>() + x) / rows as f64)
    }

    /// The value of the last row at least a day before `time`, if close enough to a day.
    fn day_before(&self, time: i64) -> Option<f64> {
        let target = time - DAY_SECS;
        let (t, x) = self.day.iter().take_while(|&&(t, _)| t <= target).last()?;
        (target - t <= DAILY_TOLERANCE_SECS).then_some(*x)
    }

    fn judge(&self, x: f64, time: i64, c: &SeriesConfig) -> Judgement {
        let max_dof = c.max_dof;
        let min_variance = self.min_variance();
        let daily = self.day_before(time).map(|before| {
            let difference = x - before;
            (self.daily.probability(difference, min_variance, max_dof), difference)
        });
        let unit = if c.range_min_excess { self.min_variance().sqrt() } else { 0.0 };
        let range = self.range.probability(x, unit);
        let mean_range = match self.mean_of_recent(x, c.range_mean_rows) {
            // A mean of `rows` values moves in steps of the data's resolution over `rows`.
            Some(mean) => self.mean_range.probability(mean, unit / c.range_mean_rows as f64),
            None => 1.0,
        };
        let hour = (time.rem_euclid(DAY_SECS) / 3600) as usize;
        let rhythm = if c.hourly_rhythm_share > 0.0 || c.rhythmic_daily_step_share > 0.0 {
            self.hourly_share()
        } else {
            0.0
        };
        let hourly_range = match self.hourly.get(hour) {
            Some(range) if c.hourly_range_rows > 0 && rhythm >= c.hourly_rhythm_share => {
                range.probability(x, unit)
            }
            _ => 1.0,
        };
        let step_range = match self.previous {
            Some(previous) if c.step_range => self.step_range.probability(x - previous, unit),
            _ => 1.0,
        };
        let daily_preferred = c.use_daily
            && self.daily.moments.weight >= MIN_COMPONENT_WEIGHT
            && self.daily_surprise < self.slow_surprise;
        let mut change = match self.previous {
            Some(previous) => self.change.probability(x - previous, min_variance, max_dof),
            None => 1.0,
        };
        let before = match self.previous {
            Some(previous) if c.daily_step != DailyStep::Off => {
                self.day_step_before(time, x - previous, c.daily_jitter_secs)
            }
            _ => None,
        };
        let daily_step = match (self.previous, before) {
            (Some(previous), Some(before)) => {
                let difference = (x - previous) - before;
                Some((self.daily_step.probability(difference, min_variance, max_dof), difference))
            }
            _ => None,
        };
        let rhythmic = c.rhythmic_daily_step_share > 0.0 && rhythm >= c.rhythmic_daily_step_share;
        if let Some((p, _)) = daily_step {
            if (c.daily_step == DailyStep::Preferred
                && self.daily_step.moments.weight >= MIN_COMPONENT_WEIGHT
                && self.daily_step_surprise < self.change_surprise)
                || (rhythmic && self.daily_step.moments.weight >= MIN_COMPONENT_WEIGHT)
            {
                change = p;
            }
        }
        let weekly_step = match self.previous {
            Some(previous) if c.weekly_step != WeeklyStep::Off => {
                self.week_step_before(time).map(|before| {
                    let difference = (x - previous) - before;
                    let p = self.weekly_step.probability(difference, min_variance, max_dof);
                    (p, difference)
                })
            }
            _ => None,
        };
        let weekly_explains = match c.weekly_step {
            WeeklyStep::Off => false,
            WeeklyStep::Either => true,
            WeeklyStep::Rhythmic => {
                self.weekly_step.moments.weight >= MIN_COMPONENT_WEIGHT
                    && self.weekly_step_surprise < self.weekly_change_surprise
            }
        };
        Judgement {
            daily_step_alone: rhythmic,
            weekly_step,
            weekly_explains,
            slow: self.slow.probability(x, min_variance, max_dof),
            fast: self.fast.probability(x, min_variance, max_dof),
            change,
            daily,
            daily_preferred,
            daily_step,
            range,
            mean_range,
            step_range,
            hourly_range,
            hourly_rhythm: c.hourly_range_rows > 0 && rhythm >= c.hourly_rhythm_share,
        }
    }

    fn learn(&mut self, x: f64, judgement: &Judgement, hours: f64, time: i64, c: &SeriesConfig) {
        let keep = |rate: f64| (-rate * hours).exp().max(c.min_keep_per_row);
        // The forgetting averages of surprise that decide between alternative explanations.
        let compare = (-c.daily_compare_forgetting_per_hour * hours).exp();
        let surprise = |p: f64| -p.max(1e-300).ln();
        self.slow.learn(x, judgement.slow, keep(c.slow_forgetting_per_hour), time, c.robust);
        self.fast.learn(x, judgement.fast, keep(c.fast_forgetting_per_hour), time, c.robust);
        if let Some(previous) = self.previous {
            let step = x - previous;
            self.change.learn(
                step,
                judgement.change,
                keep(c.change_forgetting_per_hour),
                time,
                c.robust,
            );
            if step != 0.0 && (self.resolution == 0.0 || step.abs() < self.resolution) {
                self.resolution = step.abs();
            }
        }
        if let Some((p, difference)) = judgement.daily {
            self.daily.learn(difference, p, keep(c.slow_forgetting_per_hour), time, c.robust);
            self.slow_surprise = compare * self.slow_surprise + surprise(judgement.slow);
            self.daily_surprise = compare * self.daily_surprise + surprise(p);
        }
        if let Some((p, difference)) = judgement.daily_step {
            self.daily_step.learn(
                difference,
                p,
                keep(c.change_forgetting_per_hour),
                time,
                c.robust,
            );
            self.change_surprise = compare * self.change_surprise + surprise(judgement.change);
            self.daily_step_surprise = compare * self.daily_step_surprise + surprise(p);
        }
        if let Some((p, difference)) = judgement.weekly_step {
            self.weekly_step.learn(
                difference,
                p,
                keep(c.change_forgetting_per_hour),
                time,
                c.robust,
            );
            self.weekly_change_surprise =
                compare * self.weekly_change_surprise + surprise(judgement.change);
            self.weekly_step_surprise = compare * self.weekly_step_surprise + surprise(p);
        }
        if c.range_rows > 0 && (!c.range_robust || judgement.combined(c) >= RANGE_ROBUST_P) {
            self.range.push(x, time, c);
            if let Some(mean) = self.mean_of_recent(x, c.range_mean_rows) {
                self.mean_range.push(mean, time, c);
            }
            if let (Some(previous), true) = (self.previous, c.step_range) {
                self.step_range.push(x - previous, time, c);
            }
        }
        if c.hourly_rhythm_share > 0.0 || c.rhythmic_daily_step_share > 0.0 {
            if self.hour_sums.is_empty() {
                self.hour_sums = vec![(0.0, 0.0, 0.0); 24];
            }
            let hour = (time.rem_euclid(DAY_SECS) / 3600) as usize;
            let (n, sum, sum_sq) = &mut self.hour_sums[hour];
            *n += 1.0;
            *sum += x;
            *sum_sq += x * x;
        }
        if c.hourly_range_rows > 0 {
            if self.hourly.is_empty() {
                self.hourly = vec![Range::default(); 24];
            }
            let hour = (time.rem_euclid(DAY_SECS) / 3600) as usize;
            let hourly = c.hourly_range_rows;
            let config = SeriesConfig { range_rows: hourly, range_secs: 0, ..*c };
            self.hourly[hour].push(x, time, &config);
        }
        if c.range_mean_rows > 0 {
            self.recent.push_back(x);
            if self.recent.len() >= c.range_mean_rows {
                self.recent.pop_front();
            }
        }
        self.day.push_back((time, x));
        while self.day.len() >= 3 && self.day[2].0 <= time - DAY_SECS - c.daily_jitter_secs {
            self.day.pop_front();
        }
        if c.weekly_step != WeeklyStep::Off {
            self.week.push_back((time, x));
            while self.week.len() >= 3 && self.week[2].0 <= time - WEEK_SECS {
                self.week.pop_front();
            }
        }
        self.previous = Some(x);
    }
}

/// The project's model on one series: see the module documentation.
#[derive(Debug, Clone, Default)]
pub struct SeriesModel {
    config: SeriesConfig,
    raw: Scale,
    log: Scale,
    rows: u64,
    previous_time: Option<i64>,
    min_value: f64,
    max_value: f64,
    /// Raw anomaly scores of the last [`SUPPRESSION_ROWS`] rows.
    recent_scores: VecDeque<(i64, f64)>,
    /// Raw anomaly scores of the last day and [`SeriesConfig::daily_suppression_secs`].
    day_scores: VecDeque<(i64, f64)>,
    /// Raw anomaly scores, in decades, of the last [`SeriesConfig::long_suppression_secs`].
    long_scores: VecDeque<(i64, f64)>,
    likelihood: Likelihood,
    /// Surprise of past rows, against which a row's own is ranked.
    calibration: SlidingTail,
    /// The same for each component in use, with [`SeriesConfig::calibrate_components`].
    component_calibration: Vec<SlidingTail>,
    /// Times of the calibration's surprises, when its memory is bounded by time.
    calibration_times: VecDeque<i64>,
    /// The last value and how many rows in a row repeated it.
    last_value: Option<f64>,
    repeats: usize,
    /// Sum of surprise and rows of each component in use, with
    /// [`SeriesConfig::component_scaling`].
    component_surprise: Vec<(f64, f64)>,
}

/// A component's running mean surprise starts as if this many rows had averaged one, so that
/// its first few rows do not decide its scaling.
const COMPONENT_SCALING_PRIOR_ROWS: f64 = 50.0;

/// The unusualness of recent behaviour: see the module documentation.
#[derive(Debug, Clone, Default)]
struct Likelihood {
    /// Surprise of the last few rows, and their sum.
    recent: VecDeque<f64>,
    recent_sum: f64,
    /// Averaged surprise of the last many rows, with their sum and sum of squares.
    history: VecDeque<f64>,
    history_sum: f64,
    history_sum_sq: f64,
}

impl Likelihood {
    /// The upper-tail probability of the recent averaged surprise after a row of probability
    /// `p`, against its usual distribution; 1 while that distribution is still forming.
    fn probability(&mut self, p: f64, c: &SeriesConfig) -> f64 {
        let surprise = -p.max(1e-300).ln();
        self.recent.push_back(surprise);
        self.recent_sum += surprise;
        if self.recent.len() > c.likelihood_short_rows {
            self.recent_sum -= self.recent.pop_front().unwrap_or(0.0);
        }
        let average = self.recent_sum / self.recent.len() as f64;
        let n = self.history.len() as f64;
        let tail = if self.history.len() >= LIKELIHOOD_MIN_ROWS {
            let mean = self.history_sum / n;
            let variance = (self.history_sum_sq / n - mean * mean).max(0.0);
            let spread = variance.sqrt().max(c.likelihood_min_spread);
            let z = (average - mean) / spread;
            0.5 * erfc(z / std::f64::consts::SQRT_2)
        } else {
            1.0
        };
        self.history.push_back(average);
        self.history_sum += average;
        self.history_sum_sq += average * average;
        if self.history.len() > c.likelihood_long_rows {
            let old = self.history.pop_front().unwrap_or(0.0);
            self.history_sum -= old;
            self.history_sum_sq -= old * old;
        }
        tail
    }
}

impl SeriesModel {
    pub fn new() -> SeriesModel {
        SeriesModel::with_config(SeriesConfig::default())
    }

    pub fn with_config(config: SeriesConfig) -> SeriesModel {
        let capacity =
            if config.calibration_secs > 0 { usize::MAX } else { config.calibration_rows };
        let calibration = SlidingTail::new(capacity, config.calibration_tail_rows);
        SeriesModel { config, calibration, ..SeriesModel::default() }
    }

    /// Whether the log scale is in use after the values seen so far.
    pub fn uses_log_scale(&self) -> bool {
        self.rows > 0
            && self.min_value >= 0.0
            && (1.0 + self.max_value) / (1.0 + self.min_value) >= self.config.log_scale_span
    }

    /// The combined two-sided probability of `value` at `time`, then learns from it.
    pub fn probability(&mut self, time: i64, value: f64) -> f64 {
        if self.rows == 0 {
            self.min_value = value;
            self.max_value = value;
        }
        self.min_value = self.min_value.min(value);
        self.max_value = self.max_value.max(value);
        let log_value = stats::log_volume(value);
        let raw = self.raw.judge(value, time, &self.config);
        let log = self.log.judge(log_value, time, &self.config);
        let judged = if self.uses_log_scale() { log } else { raw };
        let hours = match self.previous_time {
            Some(previous) => (time - previous).max(0) as f64 / 3600.0,
            None => 0.0,
        };
        self.repeats = if self.last_value == Some(value) { self.repeats + 1 } else { 0 };
        self.last_value = Some(value);
        let flat = self.config.flat_run_rows > 0 && self.repeats >= self.config.flat_run_rows;
        if !flat {
            self.raw.learn(value, &raw, hours, time, &self.config);
            if value >= 0.0 {
                self.log.learn(log_value, &log, hours, time, &self.config);
            }
            self.previous_time = Some(time);
        }
        self.rows += 1;
        if self.rows <= WARM_UP_ROWS {
            1.0
        } else {
            let mut used = judged.used(&self.config);
            if self.config.component_scaling != ComponentScaling::Off {
                let prior = (COMPONENT_SCALING_PRIOR_ROWS, COMPONENT_SCALING_PRIOR_ROWS);
                if self.component_surprise.len() < used.len() {
                    self.component_surprise.resize(used.len(), prior);
                }
                for (p, (sum, rows)) in used.iter_mut().zip(&mut self.component_surprise) {
                    let surprise = -p.max(1e-300).ln();
                    let mut factor = *rows / sum.max(1e-9);
                    if self.config.component_scaling == ComponentScaling::OnlyDown {
                        factor = factor.min(1.0);
                    }
                    *p = (-surprise * factor).exp();
                    *sum += surprise;
                    *rows += 1.0;
                }
            }
            if self.config.calibrate_components {
                if self.component_calibration.len() < used.len() {
                    let tail =
                        SlidingTail::new(CALIBRATION_ROWS, self.config.calibration_tail_rows);
                    self.component_calibration.resize(used.len(), tail);
                }
                for (p, tail) in used.iter_mut().zip(&mut self.component_calibration) {
                    let surprise = -p.max(1e-300).ln();
                    let q = tail.upper_tail(surprise, 0.0);
                    tail.push(surprise);
                    *p = (*p * q).sqrt();
                }
            }
            combine(&used, &self.config)
        }
    }
}

impl SeriesDetector for SeriesModel {
    fn score(&mut self, timestamp_secs: i64, value: f64) -> f64 {
        let mut p = self.probability(timestamp_secs, value);
        if self.config.likelihood_short_rows > 0 {
            let recent = self.likelihood.probability(p, &self.config);
            p = if self.config.likelihood_with_row {
                (2.0 * p.min(recent)).min(1.0)
            } else {
                recent
            };
        }
        if self.config.calibration_rows > 0 && self.rows > WARM_UP_ROWS {
            let surprise = -p.max(1e-300).ln();
            let q = self.calibration.upper_tail(surprise, 0.0);
            p = match self.config.calibration_blend {
                0 => q,
                1 => p.max(q),
                _ => {
                    let w = self.config.calibration_weight;
                    (p.max(1e-300).ln() * (1.0 - w) + q.max(1e-300).ln() * w).exp()
                }
            };
            if self.config.calibration_secs > 0 {
                let since = timestamp_secs - self.config.calibration_secs;
                while self.calibration_times.front().is_some_and(|&t| t <= since) {
                    self.calibration_times.pop_front();
                    self.calibration.forget_oldest();
                }
                self.calibration_times.push_back(timestamp_secs);
            }
            self.calibration.push(surprise);
        }
        let score = record_score(p) / 100.0;
        let secs = self.config.suppression_secs;
        if secs > 0 {
            while self.recent_scores.front().is_some_and(|&(t, _)| t <= timestamp_secs - secs) {
                self.recent_scores.pop_front();
            }
        } else if self.recent_scores.len() >= self.config.suppression_rows {
            self.recent_scores.pop_front();
        }
        let mut recent_max = self.recent_scores.iter().map(|&(_, s)| s).fold(0.0, f64::max);
        self.recent_scores.push_back((timestamp_secs, score));
        let width = self.config.daily_suppression_secs;
        if width > 0 {
            let (from, to) = (timestamp_secs - DAY_SECS - width, timestamp_secs - DAY_SECS + width);
            while self.day_scores.front().is_some_and(|&(t, _)| t < from) {
                self.day_scores.pop_front();
            }
            let day_max = self
                .day_scores
                .iter()
                .take_while(|&&(t, _)| t <= to)
                .map(|&(_, s)| s)
                .fold(0.0, f64::max);
            recent_max = recent_max.max(day_max);
            self.day_scores.push_back((timestamp_secs, score));
        }
        // Scores as decades of probability below 0.05: `score = 1 - 2^-decades`.
        let decades = |score: f64| -(1.0 - score.min(1.0 - 1e-16)).log2();
        let long = self.config.long_suppression_secs;
        if long > 0 {
            while self.long_scores.front().is_some_and(|&(t, _)| t <= timestamp_secs - long) {
                self.long_scores.pop_front();
            }
            let long_max = self.long_scores.iter().map(|&(_, d)| d).fold(0.0, f64::max);
            self.long_scores.push_back((timestamp_secs, decades(score)));
            if decades(score) <= self.config.long_suppression_share * long_max {
                return 0.0;
            }
        }
        let margin = self.config.suppression_margin_decades;
        if score > recent_max && (margin == 0.0 || decades(score) > decades(recent_max) + margin) {
            score
        } else {
            0.0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::nab::{evaluate, NabCorpus};
    use std::path::Path;

    /// A steady series with small regular noise.
    fn steady(rows: i64) -> impl Iterator<Item = (i64, f64)> {
        (0..rows).map(|i| (i * 300, 50.0 + [0.0, 1.0, -1.0, 0.5, -0.5][(i % 5) as usize]))
    }

    #[test]
    fn a_spike_in_either_direction_scores_high() {
        for spike in [80.0, 20.0] {
            let mut model = SeriesModel::new();
            for (t, v) in steady(500) {
                model.score(t, v);
            }
            let score = model.score(500 * 300, spike);
            assert!(score > 0.8, "spike to {spike} scored {score}");
        }
    }

    #[test]
    fn ordinary_rows_score_nothing() {
        let mut model = SeriesModel::new();
        let scores: Vec<f64> = steady(500).map(|(t, v)| model.score(t, v)).collect();
        assert!(scores[100..].iter().all(|&s| s < 0.5), "{:?}", &scores[100..]);
    }

    #[test]
    fn a_lasting_shift_is_accepted_after_a_while() {
        let mut model = SeriesModel::new();
        for (t, v) in steady(500) {
            model.probability(t, v);
        }
        let shifted: Vec<f64> = (500..1500)
            .map(|i| model.probability(i * 300, 80.0 + [0.0, 1.0, -1.0][(i % 3) as usize]))
            .collect();
        assert!(shifted[0] < FULL_WEIGHT_PROBABILITY, "{}", shifted[0]);
        assert!(shifted.last().unwrap() > &0.01, "{}", shifted.last().unwrap());
    }

    #[test]
    fn the_scale_turns_to_logs_only_for_positive_values_spanning_orders_of_magnitude() {
        let config = SeriesConfig { log_scale_span: 100.0, ..SeriesConfig::default() };
        let mut model = SeriesModel::with_config(config);
        model.probability(0, 5.0);
        model.probability(300, 50.0);
        assert!(!model.uses_log_scale());
        model.probability(600, 5000.0);
        assert!(model.uses_log_scale());
        model.probability(900, -1.0);
        assert!(!model.uses_log_scale());
    }

    #[test]
    fn repeated_detections_are_suppressed() {
        let mut model = SeriesModel::new();
        for (t, v) in steady(500) {
            model.score(t, v);
        }
        let first = model.score(500 * 300, 80.0);
        let second = model.score(501 * 300, 79.0);
        assert!(first > 0.8);
        assert_eq!(second, 0.0);
    }

    /// Probability of each day's spike in a steady series with a one-row spike every day at
    /// the same time, or with `wander` a row early or late.
    fn daily_spike_probabilities(config: SeriesConfig, wander: bool) -> Vec<f64> {
        let mut model = SeriesModel::with_config(config);
        let rows_per_day = DAY_SECS / 300;
        let mut spikes = vec![];
        for (t, v) in steady(6 * rows_per_day) {
            let row = t / 300;
            let offset = if wander { (row / rows_per_day) % 3 } else { 0 };
            let spike_row = row % rows_per_day == 100 + offset;
            let p = model.probability(t, if spike_row { 80.0 } else { v });
            if spike_row {
                spikes.push(p);
            }
        }
        spikes
    }

    #[test]
    fn a_step_repeated_a_day_later_is_explained_by_the_daily_step() {
        // The range component would find the spikes rare whatever the steps do.
        let base = SeriesConfig { range_rows: 0, ..SeriesConfig::default() };
        let off =
            daily_spike_probabilities(SeriesConfig { daily_step: DailyStep::Off, ..base }, false);
        let either = daily_spike_probabilities(base, false);
        assert_eq!(off.len(), 6);
        // Without the daily step every day's spike stays rare; with it, the first is as rare
        // (nothing a day earlier explains it) but the later ones are ordinary.
        assert!(off.iter().all(|&p| p < 1e-3), "{off:?}");
        assert_eq!(either[0], off[0]);
        assert!(either[2..].iter().all(|&p| p > 0.01), "{either:?}");
        // A spike a row early or late is explained only when the comparison allows for it.
        let exact = daily_spike_probabilities(base, true);
        let jitter =
            daily_spike_probabilities(SeriesConfig { daily_jitter_secs: 600, ..base }, true);
        assert!(exact[1..].iter().all(|&p| p < 1e-3), "{exact:?}");
        assert!(jitter[2..].iter().all(|&p| p > 0.01), "{jitter:?}");
    }

    #[test]
    fn fisher_combines_independent_probabilities() {
        assert_eq!(fisher(&[]), 1.0);
        assert!((fisher(&[0.3]) - 0.3).abs() < 1e-15);
        // Two probabilities of 0.1: 0.01 * (1 - ln 0.01).
        let expected = 0.01 * (1.0 - 0.01f64.ln());
        assert!((fisher(&[0.1, 0.1]) - expected).abs() < 1e-15);
        assert_eq!(fisher(&[1.0, 1.0]), 1.0);
    }

    #[test]
    fn a_value_beyond_the_series_range_is_rare_though_its_step_is_ordinary() {
        // A slow ramp: every step is the same, and the values climb past all earlier ones. (The
        // mean range would find the climbing mean rare too.)
        let config = SeriesConfig {
            daily_step: DailyStep::Off,
            range_mean_rows: 0,
            ..SeriesConfig::default()
        };
        let with = |range_rows| {
            let mut model = SeriesModel::with_config(SeriesConfig { range_rows, ..config });
            let mut last = 1.0;
            for i in 0..400 {
                let value = 50.0 + 0.01 * i as f64 + [0.0, 1.0, -1.0, 0.5, -0.5][i % 5];
                last = model.probability(i as i64 * 300, value);
            }
            // The last row's step (-0.49) is ordinary; its value is only just below the top.
            let beyond = model.probability(400 * 300, 58.0);
            (last, beyond)
        };
        let (last, beyond) = with(RANGE_ROWS);
        let (_, steps_only) = with(0);
        assert!(last > 0.1, "{last}");
        assert!(beyond < steps_only / 100.0, "{beyond} against {steps_only}");
    }

    #[test]
    fn a_shift_within_the_range_stands_out_in_the_mean_range() {
        let pattern = [0.0, 1.0, -1.0, 0.5, -0.5];
        let last_shifted = |range_mean_rows| {
            let config = SeriesConfig { range_mean_rows, ..SeriesConfig::default() };
            let mut model = SeriesModel::with_config(config);
            for i in 0..400 {
                model.probability(i as i64 * 300, 50.0 + 2.0 * pattern[i % 5]);
            }
            // An hour at the top of the usual range, every value within it.
            let mut p = 1.0;
            for i in 400..400 + RANGE_MEAN_ROWS {
                p = model.probability(i as i64 * 300, 52.0);
            }
            p
        };
        let with = last_shifted(RANGE_MEAN_ROWS);
        let without = last_shifted(0);
        assert!(without > 0.3, "{without}");
        assert!(with < without / 10.0, "{with} against {without}");
    }

    #[test]
    fn calibration_makes_a_series_own_usual_surprise_ordinary() {
        // A steady series with a spike to 80 every 25 hours: ever less surprising to the
        // calibration, which has seen as much before, while the components stay surprised.
        let every = 300;
        let spike_scores = |calibration_rows| {
            let config = SeriesConfig { calibration_rows, ..SeriesConfig::default() };
            let mut model = SeriesModel::with_config(config);
            let mut scores = vec![];
            for (t, v) in steady(20 * every) {
                if (t / 300) % every == every - 1 {
                    scores.push(model.score(t, 80.0));
                } else {
                    model.score(t, v);
                }
            }
            scores
        };
        let calibrated = spike_scores(CALIBRATION_ROWS);
        let raw = spike_scores(0);
        assert_eq!(calibrated.len(), 20);
        // The first spike beyond warm-up is the calibration's first record; by the last, it has
        // seen 19 as large.
        assert!(calibrated[19] < raw[19] - 0.05, "{calibrated:?} against {raw:?}");
        assert!(calibrated[19] < calibrated[1], "{calibrated:?}");
    }

    /// Variants measured against the default, one idea at a time.
    fn variants() -> Vec<(String, SeriesConfig)> {
        let base = SeriesConfig::default();
        let mut out = vec![];
        for dof in [3.0, 5.0] {
            out.push((format!("dof {dof}"), SeriesConfig { max_dof: dof, ..base }));
        }
        for hours in [12, 16, 24, 36] {
            let config = SeriesConfig { suppression_secs: hours * 3600, ..base };
            out.push((format!("suppress {hours} h"), config));
        }
        let slow = SeriesConfig { use_slow: true, ..base };
        out.push(("with slow".to_string(), slow));
        out.push(("with slow and daily".to_string(), SeriesConfig { use_daily: true, ..slow }));
        out.push(("with slow or daily".to_string(), SeriesConfig { daily_either: true, ..slow }));
        out.push(("with fast".to_string(), SeriesConfig { use_fast: true, ..base }));
        for short in [3, 10] {
            let config = SeriesConfig { likelihood_short_rows: short, ..base };
            out.push((format!("likelihood {short}"), config));
        }
        for mode in [DailyStep::Off, DailyStep::Preferred] {
            out.push((format!("daily step {mode:?}"), SeriesConfig { daily_step: mode, ..base }));
        }
        for minutes in [15, 60, 120] {
            let config = SeriesConfig { daily_jitter_secs: minutes * 60, ..base };
            out.push((format!("daily step jitter {minutes} min"), config));
        }
        out.push(("not robust".to_string(), SeriesConfig { robust: false, ..base }));
        let bonferroni = SeriesConfig { combine: Combine::Bonferroni, ..base };
        for combine in [Combine::Geometric, Combine::Largest] {
            out.push((format!("combine {combine:?}"), SeriesConfig { combine, ..base }));
        }
        for weight in [0.5, 0.75, 1.5, 2.0, 3.0] {
            let config = SeriesConfig { combine: Combine::Geometric, range_weight: weight, ..base };
            out.push((format!("combine geometric, range weight {weight}"), config));
        }
        out.push(("bonferroni".to_string(), bonferroni));
        out.push(("no range".to_string(), SeriesConfig { range_rows: 0, ..base }));
        out.push((
            "no range, bonferroni".to_string(),
            SeriesConfig { range_rows: 0, ..bonferroni },
        ));
        for rows in [4032, 16128] {
            out.push((format!("range {rows}"), SeriesConfig { range_rows: rows, ..base }));
        }
        for tail in [5, 50] {
            let config = SeriesConfig { range_tail_rows: tail, ..base };
            out.push((format!("range tail {tail}"), config));
        }
        out.push(("no change".to_string(), SeriesConfig { use_change: false, ..base }));
        out.push(("range robust".to_string(), SeriesConfig { range_robust: true, ..base }));
        out.push(("daily difference".to_string(), SeriesConfig { daily_difference: true, ..base }));
        let config = SeriesConfig { daily_difference: true, use_change: false, ..base };
        out.push(("daily difference instead of steps".to_string(), config));
        for days in [3, 7] {
            for share in [0.5, 0.7, 0.85] {
                let config = SeriesConfig {
                    long_suppression_secs: days * DAY_SECS,
                    long_suppression_share: share,
                    ..base
                };
                out.push((format!("long suppression {days} days, share {share}"), config));
            }
        }
        for rows in [200, 500] {
            let config = SeriesConfig { hourly_range_rows: rows, hourly_rhythm_share: 0.0, ..base };
            out.push((format!("hourly range {rows} always"), config));
        }
        out.push(("no hourly range".to_string(), SeriesConfig { hourly_range_rows: 0, ..base }));
        let config = SeriesConfig { hourly_left_out: false, ..base };
        out.push(("hourly range counted as one without rhythm".to_string(), config));
        let config = SeriesConfig { hourly_left_out: false, hourly_rhythm_share: 2.0, ..base };
        out.push(("hourly range never, a probability of one in its place".to_string(), config));
        for minutes in [30, 60, 120] {
            let config = SeriesConfig { daily_suppression_secs: minutes * 60, ..base };
            out.push((format!("daily suppression {minutes} min"), config));
        }
        for rows in [0, 6, 16, 24] {
            let config = SeriesConfig { range_mean_rows: rows, ..base };
            out.push((format!("range of the mean of {rows}"), config));
        }
        out.push(("step range".to_string(), SeriesConfig { step_range: true, ..base }));
        let config = SeriesConfig { step_range: true, use_change: false, ..base };
        out.push(("step range instead of change".to_string(), config));
        let config = SeriesConfig { range_min_excess: false, ..base };
        out.push(("range excess unbounded".to_string(), config));
        for rate in [0.003, 0.03] {
            let config = SeriesConfig { change_forgetting_per_hour: rate, ..base };
            out.push((format!("change forgetting {rate}"), config));
        }
        for margin in [0.25, 0.5, 1.0] {
            let config = SeriesConfig { suppression_margin_decades: margin, ..base };
            out.push((format!("suppression margin {margin} decades"), config));
        }
        out.push(("uncalibrated".to_string(), SeriesConfig { calibration_rows: 0, ..base }));
        for blend in [0, 1] {
            let config = SeriesConfig { calibration_blend: blend, ..base };
            out.push((format!("calibration blend {blend}"), config));
        }
        for span in [10.0, 100.0, 1000.0, 1e4, 1e5] {
            let config = SeriesConfig { log_scale_span: span, ..base };
            out.push((format!("log scale span {span}"), config));
        }
        let config = SeriesConfig { calibrate_components: true, ..base };
        out.push(("calibrated components".to_string(), config));
        let config = SeriesConfig { calibrate_components: true, calibration_rows: 0, ..base };
        out.push(("calibrated components only".to_string(), config));
        for weight in [0.3, 0.4, 0.6, 0.7] {
            let config = SeriesConfig { calibration_weight: weight, ..base };
            out.push((format!("calibration weight {weight}"), config));
        }
        for rows in [2000, 10000] {
            let config = SeriesConfig { calibration_rows: rows, calibration_secs: 0, ..base };
            out.push((format!("calibrated over {rows}"), config));
        }
        for weekly_step in [WeeklyStep::Either, WeeklyStep::Rhythmic] {
            let config = SeriesConfig { weekly_step, ..base };
            out.push((format!("weekly step {weekly_step:?}"), config));
        }
        let config = SeriesConfig { calibration_secs: 0, ..base };
        out.push(("calibrated over 5000".to_string(), config));
        for days in [7, 12, 14, 21, 25, 35] {
            let config = SeriesConfig { calibration_secs: days * DAY_SECS, ..base };
            out.push((format!("calibrated over {days} days"), config));
        }
        for days in [14, 28, 56] {
            let config = SeriesConfig { range_secs: days * DAY_SECS, ..base };
            out.push((format!("range over {days} days"), config));
        }
        for repeats in [3, 12] {
            let config = SeriesConfig { flat_run_rows: repeats, ..base };
            out.push((format!("flat after {repeats} repeats"), config));
        }
        for rows in [100, 500] {
            let config = SeriesConfig { hourly_range_rows: rows, ..base };
            out.push((format!("hourly range {rows} with rhythm"), config));
        }
        for share in [0.3, 0.7, 0.9] {
            let config = SeriesConfig { hourly_rhythm_share: share, ..base };
            out.push((format!("hourly range with rhythm share {share}"), config));
        }
        for share in [0.3, 0.5, 0.7, 0.9] {
            let config = SeriesConfig { rhythmic_daily_step_share: share, ..base };
            out.push((format!("daily step alone with rhythm share {share}"), config));
        }
        for scaling in [ComponentScaling::ToMeanOne, ComponentScaling::OnlyDown] {
            let config = SeriesConfig { component_scaling: scaling, ..base };
            out.push((format!("component scaling {scaling:?}"), config));
        }
        out
    }

    /// Prints, per file, the windows detected and the detections outside windows at
    /// `threshold`, with the rows of the first detection in each window and of each outside one.
    fn print_files(corpus: &NabCorpus, config: SeriesConfig, threshold: f64) {
        for file in &corpus.files {
            let mut model = SeriesModel::with_config(config);
            let scores: Vec<f64> = file
                .timestamps
                .iter()
                .zip(&file.values)
                .map(|(&t, &v)| model.score(t, v))
                .collect();
            let probation = crate::eval::nab::probation_rows(scores.len());
            let inside = |row: usize| file.windows.iter().any(|&(a, b)| a <= row && row <= b);
            let fires = |row: usize| row >= probation && scores[row] >= threshold;
            let hits: Vec<String> = file
                .windows
                .iter()
                .filter(|&&(_, b)| b >= probation)
                .map(|&(a, b)| match (a..=b).find(|&r| fires(r)) {
                    Some(r) => format!("{a}-{b}@{r}"),
                    None => format!("{a}-{b}@MISS"),
                })
                .collect();
            let fps: Vec<usize> = (0..scores.len()).filter(|&r| fires(r) && !inside(r)).collect();
            println!(
                "{} n={} fp={} {:?} fp at {:?}",
                file.name,
                scores.len(),
                fps.len(),
                hits,
                fps
            );
        }
    }

    /// Scores the model on the NAB corpus when it is present. Run with
    /// `cargo test --release --lib series -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn nab_benchmark() {
        let dir = std::env::var("NAB_DIR").unwrap_or_else(|_| "/work/shared/data/nab".to_string());
        let dir = Path::new(&dir);
        if !dir.join("labels/combined_windows.json").exists() {
            println!("NAB corpus not found at {}: set NAB_DIR; nothing scored", dir.display());
            return;
        }
        let corpus = NabCorpus::load(dir).expect("corpus loads");
        let report = evaluate(&corpus, || Box::new(SeriesModel::new()));
        println!("{}", report.to_markdown("geoexfil SeriesModel"));
        if let Ok(name) = std::env::var("NAB_FILES") {
            let config = variants()
                .into_iter()
                .find(|(n, _)| *n == name)
                .map_or(SeriesConfig::default(), |(_, c)| c);
            let report = evaluate(&corpus, move || Box::new(SeriesModel::with_config(config)));
            print_files(&corpus, config, report.profiles[0].threshold);
            println!("{}", report.to_markdown(&name));
        }
        if std::env::var("NAB_VARIANTS").is_ok() {
            let only = std::env::var("NAB_ONLY").unwrap_or_default();
            let chosen: Vec<(String, SeriesConfig)> =
                // Several substrings may be given, separated by commas.
                variants()
                    .into_iter()
                    .filter(|(n, _)| only.split(',').any(|o| n.contains(o)))
                    .collect();
            // Variants are independent: one per worker thread, results printed as they finish.
            let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
            let next = std::sync::atomic::AtomicUsize::new(0);
            std::thread::scope(|scope| {
                for _ in 0..threads {
                    scope.spawn(|| loop {
                        let at = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some((name, config)) = chosen.get(at).cloned() else { break };
                        let report =
                            evaluate(&corpus, move || Box::new(SeriesModel::with_config(config)));
                        let scores: Vec<String> = report
                            .profiles
                            .iter()
                            .map(|p| format!("{:.1}", p.normalised))
                            .collect();
                        println!("{name}: {}", scores.join(" / "));
                    });
                }
            });
        }
    }
}
