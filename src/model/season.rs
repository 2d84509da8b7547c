//! Seasonality: whether the organisation's outbound volume follows the clock, and by how much.
//!
//! Terms:
//! - A *slot* is a fixed part of the UTC day (the *daily* slots, e.g. 00:00-03:00 for 3-hour
//!   buckets) or of the week (*weekday* Monday to Friday, *weekend* Saturday and Sunday, UTC).
//!   A daily slot is one bucket long, or, for buckets shorter than an hour, the shortest run of
//!   whole buckets that is at least an hour and divides the day, so there are at most 24.
//!   Bucket spans that do not divide a day have no slots (their buckets fall on ever different
//!   hours), so nothing is learned for them; a span of a whole day has one daily slot, so only
//!   the weekly rhythm can be found.
//! - A *rhythm* is a lasting difference between the mean log-volumes of slots, as opposed to the
//!   bucket-to-bucket noise within a slot. The daily rhythm compares the daily slots, the weekly
//!   rhythm compares weekends with weekdays.
//! - The *offset* of a bucket is how far its slots sit above (positive) or below (negative) the
//!   organisation's average bucket on the log scale (`ln(1 + bytes)`). The model subtracts it
//!   before judging a bucket, so a busy Monday morning is not mistaken for a surge. When both
//!   rhythms are established their offsets add, i.e. their factors on the byte scale multiply.
//!
//! What is learned, from one closed bucket at a time: the log of the whole organisation's bytes
//! in the bucket (all destinations together), as forgetting weighted moments per daily slot and
//! per (daily slot, weekday or weekend) cell. Before each bucket all memory is multiplied by
//! `exp(-forgetting_per_hour * hours elapsed)`, as elsewhere in the model, so a rhythm that
//! fades is eventually dropped.
//!
//! Detection, redone after every bucket:
//! - *Daily*: a weighted one-way analysis of variance of the daily slots, over the slots seen at
//!   least [`MIN_SLOT_WEIGHT`] times. Weekly differences stay in the within-slot spread, which
//!   only makes the test more cautious.
//! - *Weekly*: weekend minus weekday, compared within each daily slot (so the daily rhythm does
//!   not blur it) and pooled over slots by precision: an F test with one degree of freedom
//!   against the spread within the (slot, weekday or weekend) cells. It needs
//!   [`MIN_WEEKLY_SPAN_SECS`] of data. Day of week is not tested separately: with 7 levels and
//!   42 days of memory each day would rest on about six repeats, and the one contrast that
//!   matters for most organisations, working days against weekends, is tested with more power.
//!
//! A rhythm is established only if its F test gives a p-value of at most [`MAX_P_VALUE`] and
//! its effect is at least [`MIN_EFFECT_FACTOR`] in volume (busiest against quietest daily slot,
//! weekends against weekdays). The forgetting weights stand in for counts in the degrees of
//! freedom; since no weight exceeds one, their sum is below the effective number of
//! observations, so the tests err on the cautious side.
//!
//! Offsets are shrunk toward the average in proportion to their evidence: a slot of weight `w`
//! keeps `w / (w + k)` of its measured difference, with `k` the within-slot variance over the
//! variance of the true slot differences (estimated by the method of moments; the posterior mean
//! of a slot under a normal prior on slot differences), and `k` at least [`MIN_PRIOR_WEIGHT`].
//!
//! *Relative timestamps*: packet captures may count time from 1970-01-01 instead of the real
//! start. Times before [`ABSOLUTE_TIME_FROM_SECS`] (2000-01-01) are taken as relative: elapsed
//! days are real, so the daily rhythm is learned and offered, but the weekday is meaningless, so
//! they never enter the weekly cells, the weekly test never runs while the latest bucket is
//! relative, and relative buckets get no weekly offset.

use super::stats::WeightedMoments;
use super::DEFAULT_FORGETTING_PER_HOUR;
use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, FisherSnedecor};

const SECS_PER_DAY: i64 = 86_400;
const SECS_PER_HOUR: f64 = 3_600.0;

/// Daily slots are at least this long. Finer slots would spread a day's evidence thinly (an
/// hour already gives 24 slots, each needing its own repeats) and enlarge the state.
pub const MIN_SLOT_SECS: i64 = 3_600;

/// 2000-01-01 00:00 UTC. No log this tool reads predates it, while a capture that counts from
/// zero stays far below it for decades of elapsed time.
pub const ABSOLUTE_TIME_FROM_SECS: i64 = 946_684_800;

/// A rhythm must be at least this unlikely under "no rhythm": the test is redone after every
/// bucket, and the model will then shift every judgement, so chance must hardly ever pass. Of
/// 300 simulated four-week runs of flat traffic with log noise 0.5, two crossed it at some
/// bucket (the first, on the third day) and none was still across at the end.
pub const MAX_P_VALUE: f64 = 1e-3;

/// The busiest and quietest slots must differ by at least this factor in volume. With months of
/// history even a 10% difference becomes significant, but one that small is lost in the
/// bucket-to-bucket spread of the baselines and not worth a correction.
pub const MIN_EFFECT_FACTOR: f64 = 2.0;

/// A slot takes part in a test only with at least this weight: three repeats, less what
/// forgetting took from them (three daily repeats keep about 2.93 at the default forgetting).
/// Fewer cannot tell a rhythm from a one-off busy day.
pub const MIN_SLOT_WEIGHT: f64 = 2.5;

/// The weekly test needs this much absolute time since the first absolute bucket: two full
/// weeks, so that each weekday and each weekend day have been seen at least twice and one odd
/// week cannot make a rhythm on its own.
pub const MIN_WEEKLY_SPAN_SECS: i64 = 14 * SECS_PER_DAY;

/// Shrinkage never trusts a slot more than its own weight plus this many average observations,
/// so that a slot seen three times keeps at most three quarters of its measured difference even
/// where the rhythm is much larger than the noise.
pub const MIN_PRIOR_WEIGHT: f64 = 1.0;

/// The learned state of the organisation's rhythms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Seasonality {
    forgetting_per_hour: f64,
    /// Span of the buckets learned from (0 before the first); a new span starts afresh, since
    /// slots of different lengths cannot be compared.
    bucket_secs: i64,
    last_bucket_start_secs: Option<i64>,
    /// Start of the first bucket with an absolute time, for [`MIN_WEEKLY_SPAN_SECS`].
    first_absolute_start_secs: Option<i64>,
    /// Log totals per daily slot, all buckets.
    by_slot: Vec<WeightedMoments>,
    /// Log totals per daily slot on weekdays and on weekends, absolute times only.
    weekday_by_slot: Vec<WeightedMoments>,
    weekend_by_slot: Vec<WeightedMoments>,
    /// What the last test found.
    daily: Option<DailyRhythm>,
    weekly: Option<WeeklyRhythm>,
}

/// An established daily rhythm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct DailyRhythm {
    slot_secs: i64,
    /// Shrunk offset of each daily slot; 0 for slots with too little evidence.
    offsets: Vec<f64>,
    p_value: f64,
}

/// An established weekly rhythm.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct WeeklyRhythm {
    weekday_offset: f64,
    weekend_offset: f64,
    p_value: f64,
}

impl Default for Seasonality {
    fn default() -> Self {
        Seasonality::new(DEFAULT_FORGETTING_PER_HOUR)
    }
}

/// A test's p-value as the summary shows it; one below what a double can hold is shown as a
/// bound rather than as zero.
fn p_label(p_value: f64) -> String {
    if p_value < f64::MIN_POSITIVE {
        "p<1e-300".to_string()
    } else {
        format!("p={p_value:.0e}")
    }
}

impl Seasonality {
    /// An empty state forgetting at the model's rate.
    pub fn new(forgetting_per_hour: f64) -> Self {
        Seasonality {
            forgetting_per_hour,
            bucket_secs: 0,
            last_bucket_start_secs: None,
            first_absolute_start_secs: None,
            by_slot: Vec::new(),
            weekday_by_slot: Vec::new(),
            weekend_by_slot: Vec::new(),
            daily: None,
            weekly: None,
        }
    }

    /// Learns from one closed bucket: its start (unix seconds, UTC) and the log of the total
    /// outbound bytes of the whole organisation in it. Buckets with no traffic are not passed
    /// in; a non-finite total is ignored.
    pub fn observe(&mut self, bucket_start_secs: i64, bucket_secs: i64, log_total: f64) {
        if !log_total.is_finite() {
            return;
        }
        if bucket_secs != self.bucket_secs {
            *self = Seasonality::new(self.forgetting_per_hour);
            self.bucket_secs = bucket_secs;
            let slots = slot_secs(bucket_secs).map_or(0, |s| (SECS_PER_DAY / s) as usize);
            self.by_slot = vec![WeightedMoments::default(); slots];
            self.weekday_by_slot = self.by_slot.clone();
            self.weekend_by_slot = self.by_slot.clone();
        }
        if let Some(last) = self.last_bucket_start_secs {
            // Time running backwards (out-of-order buckets) forgets nothing.
            let elapsed_hours = (bucket_start_secs - last).max(0) as f64 / SECS_PER_HOUR;
            let keep = (-self.forgetting_per_hour * elapsed_hours).exp();
            let all = self.by_slot.iter_mut();
            let cells = self.weekday_by_slot.iter_mut().chain(self.weekend_by_slot.iter_mut());
            all.chain(cells).for_each(|m| m.forget(keep));
        }
        self.last_bucket_start_secs = Some(bucket_start_secs);
        let Some(slot) = self.slot_of(bucket_start_secs) else {
            return;
        };
        self.by_slot[slot].add(log_total, 1.0);
        if is_absolute(bucket_start_secs) {
            self.first_absolute_start_secs.get_or_insert(bucket_start_secs);
            let cells = if is_weekend(bucket_start_secs) {
                &mut self.weekend_by_slot
            } else {
                &mut self.weekday_by_slot
            };
            cells[slot].add(log_total, 1.0);
        }
        self.daily = self.test_daily();
        self.weekly = self.test_weekly();
    }

    /// The log-scale offset of the bucket starting at `bucket_start_secs` relative to the
    /// organisation's average bucket: positive in busy slots, negative in quiet ones; exactly
    /// 0.0 when no rhythm is established.
    pub fn offset(&self, bucket_start_secs: i64) -> f64 {
        let mut offset = 0.0;
        if let Some(daily) = &self.daily {
            let slot = bucket_start_secs.rem_euclid(SECS_PER_DAY) / daily.slot_secs;
            offset += daily.offsets[slot as usize];
        }
        if let Some(weekly) = &self.weekly {
            if is_absolute(bucket_start_secs) {
                offset += if is_weekend(bucket_start_secs) {
                    weekly.weekend_offset
                } else {
                    weekly.weekday_offset
                };
            }
        }
        offset
    }

    /// What was found, for the run summary and explanations, e.g. `daily rhythm: busiest
    /// 09:00-12:00 UTC at 4.1x the typical bucket (geometric mean), quietest 00:00-03:00 UTC at
    /// 0.42x (p=1e-44); weekly
    /// rhythm: weekends at 0.20x weekdays (p=3e-32)`, or None when no rhythm is established.
    /// Offsets are relative to the geometric mean of the buckets (the model works on log
    /// totals), shrunk as used; the p-values are the tests'.
    pub fn describe(&self) -> Option<String> {
        let mut parts = Vec::new();
        if let Some(daily) = &self.daily {
            let (busiest, quietest) = extreme_slots(&daily.offsets);
            let label = |slot: usize| slot_label(slot as i64 * daily.slot_secs, daily.slot_secs);
            parts.push(format!(
                "daily rhythm: busiest {} UTC at {:.1}x the typical bucket (geometric mean), \
                 quietest {} UTC at {:.2}x ({})",
                label(busiest),
                daily.offsets[busiest].exp(),
                label(quietest),
                daily.offsets[quietest].exp(),
                p_label(daily.p_value),
            ));
        }
        if let Some(weekly) = &self.weekly {
            let ratio = (weekly.weekend_offset - weekly.weekday_offset).exp();
            let p_value = p_label(weekly.p_value);
            parts.push(format!("weekly rhythm: weekends at {ratio:.2}x weekdays ({p_value})"));
        }
        (!parts.is_empty()).then(|| parts.join("; "))
    }

    fn slot_of(&self, bucket_start_secs: i64) -> Option<usize> {
        let slot_secs = slot_secs(self.bucket_secs)?;
        Some((bucket_start_secs.rem_euclid(SECS_PER_DAY) / slot_secs) as usize)
    }

    /// The daily test over the slots with enough evidence (see the module documentation).
    fn test_daily(&self) -> Option<DailyRhythm> {
        if self.by_slot.len() < 2 {
            return None;
        }
        let tested: Vec<usize> = (0..self.by_slot.len())
            .filter(|&s| self.by_slot[s].weight >= MIN_SLOT_WEIGHT)
            .collect();
        let groups: Vec<WeightedMoments> = tested.iter().map(|&s| self.by_slot[s]).collect();
        let anova = one_way_anova(&groups)?;
        let highest = groups.iter().map(|g| g.mean).fold(f64::NEG_INFINITY, f64::max);
        let lowest = groups.iter().map(|g| g.mean).fold(f64::INFINITY, f64::min);
        if anova.p_value > MAX_P_VALUE || highest - lowest < MIN_EFFECT_FACTOR.ln() {
            return None;
        }
        let prior_weight = prior_weight(anova.within_variance, anova.between_variance);
        let mut offsets = vec![0.0; self.by_slot.len()];
        for (&slot, group) in tested.iter().zip(&groups) {
            let kept = group.weight / (group.weight + prior_weight);
            offsets[slot] = kept * (group.mean - anova.grand_mean);
        }
        Some(DailyRhythm {
            slot_secs: slot_secs(self.bucket_secs)?,
            offsets,
            p_value: anova.p_value,
        })
    }

    /// The weekly test: weekend minus weekday within each daily slot, pooled by precision.
    fn test_weekly(&self) -> Option<WeeklyRhythm> {
        let (first, last) = (self.first_absolute_start_secs?, self.last_bucket_start_secs?);
        if !is_absolute(last) || last + self.bucket_secs - first < MIN_WEEKLY_SPAN_SECS {
            return None;
        }
        // Precision of the pooled contrast (in observations), its precision-weighted sum, the
        // within-cell squared deviations and weight, the number of cells, the weekend weight.
        let (mut precision, mut weighted_contrast, mut sum_sq_dev, mut weight) =
            (0.0, 0.0, 0.0, 0.0);
        let (mut cells, mut weekend_weight) = (0.0, 0.0);
        for (weekday, weekend) in self.weekday_by_slot.iter().zip(&self.weekend_by_slot) {
            if weekday.weight < MIN_SLOT_WEIGHT || weekend.weight < MIN_SLOT_WEIGHT {
                continue;
            }
            let slot_precision =
                weekday.weight * weekend.weight / (weekday.weight + weekend.weight);
            precision += slot_precision;
            weighted_contrast += slot_precision * (weekend.mean - weekday.mean);
            sum_sq_dev += weekday.sum_sq_dev + weekend.sum_sq_dev;
            weight += weekday.weight + weekend.weight;
            weekend_weight += weekend.weight;
            cells += 2.0;
        }
        let dof = weight - cells;
        if precision <= 0.0 || dof <= 0.0 {
            return None;
        }
        let contrast = weighted_contrast / precision;
        let within_variance = (sum_sq_dev / dof).max(f64::MIN_POSITIVE);
        let f = precision * contrast * contrast / within_variance;
        let p_value = FisherSnedecor::new(1.0, dof).ok()?.sf(f);
        if p_value > MAX_P_VALUE || contrast.abs() < MIN_EFFECT_FACTOR.ln() {
            return None;
        }
        let between_variance = (contrast * contrast - within_variance / precision).max(0.0);
        let prior_weight = prior_weight(within_variance, between_variance);
        let kept = contrast * precision / (precision + prior_weight);
        // Split so that the weight-averaged weekly offset is zero: relative to the average bucket.
        let weekend_share = weekend_weight / weight;
        Some(WeeklyRhythm {
            weekday_offset: -weekend_share * kept,
            weekend_offset: (1.0 - weekend_share) * kept,
            p_value,
        })
    }
}

/// The daily slot length for a bucket span: the span itself if it is at least
/// [`MIN_SLOT_SECS`], otherwise the shortest multiple of it that is and divides the day. None
/// when the span does not divide a day, since its buckets then fall on ever different hours.
fn slot_secs(bucket_secs: i64) -> Option<i64> {
    if bucket_secs <= 0 || SECS_PER_DAY % bucket_secs != 0 {
        return None;
    }
    (1..).map(|n| n * bucket_secs).find(|&s| s >= MIN_SLOT_SECS && SECS_PER_DAY % s == 0)
}

fn is_absolute(secs: i64) -> bool {
    secs >= ABSOLUTE_TIME_FROM_SECS
}

/// Saturday or Sunday in UTC. 1970-01-01 was a Thursday, so day 2 after it is a Saturday.
fn is_weekend(secs: i64) -> bool {
    matches!(secs.div_euclid(SECS_PER_DAY).rem_euclid(7), 2 | 3)
}

/// A weighted one-way analysis of variance.
struct Anova {
    grand_mean: f64,
    p_value: f64,
    within_variance: f64,
    /// Method-of-moments estimate of the variance of the true group means (never negative).
    between_variance: f64,
}

fn one_way_anova(groups: &[WeightedMoments]) -> Option<Anova> {
    let groups_count = groups.len() as f64;
    let weight: f64 = groups.iter().map(|g| g.weight).sum();
    let dof_between = groups_count - 1.0;
    let dof_within = weight - groups_count;
    if dof_between < 1.0 || dof_within <= 0.0 {
        return None;
    }
    let grand_mean = groups.iter().map(|g| g.weight * g.mean).sum::<f64>() / weight;
    let between_sq: f64 = groups.iter().map(|g| g.weight * (g.mean - grand_mean).powi(2)).sum();
    let within_sq: f64 = groups.iter().map(|g| g.sum_sq_dev).sum();
    let within_variance = (within_sq / dof_within).max(f64::MIN_POSITIVE);
    let between_mean_sq = between_sq / dof_between;
    let p_value =
        FisherSnedecor::new(dof_between, dof_within).ok()?.sf(between_mean_sq / within_variance);
    // Weight per group that makes the expected between mean square equal the within variance
    // plus this times the variance of the true means (for unequal group weights).
    let typical_weight =
        (weight - groups.iter().map(|g| g.weight * g.weight).sum::<f64>() / weight) / dof_between;
    let between_variance = ((between_mean_sq - within_variance) / typical_weight).max(0.0);
    Some(Anova { grand_mean, p_value, within_variance, between_variance })
}

/// Shrinkage weight `k` in `w / (w + k)`: the noise variance over the variance of true effects.
fn prior_weight(within_variance: f64, between_variance: f64) -> f64 {
    if between_variance > 0.0 {
        (within_variance / between_variance).max(MIN_PRIOR_WEIGHT)
    } else {
        f64::INFINITY
    }
}

/// The indices of the largest and smallest offsets (the first of equals).
fn extreme_slots(offsets: &[f64]) -> (usize, usize) {
    let (mut busiest, mut quietest) = (0, 0);
    for (slot, &offset) in offsets.iter().enumerate() {
        if offset > offsets[busiest] {
            busiest = slot;
        }
        if offset < offsets[quietest] {
            quietest = slot;
        }
    }
    (busiest, quietest)
}

/// `HH:MM-HH:MM` for the slot starting `start_secs` into the day.
fn slot_label(start_secs: i64, slot_secs: i64) -> String {
    let clock = |secs: i64| format!("{:02}:{:02}", secs / 3600, secs % 3600 / 60);
    format!("{}-{}", clock(start_secs), clock(start_secs + slot_secs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use rand_distr::Normal;

    const BUCKET_SECS: i64 = 3 * 3600;
    /// Monday 2024-01-01 00:00 UTC.
    const MONDAY: i64 = 1_704_067_200;
    /// About 100 MB per bucket.
    const BASE_LOG: f64 = 18.4;
    const NOISE_SD: f64 = 0.5;

    /// Busy 09:00-18:00 UTC by a factor of 10.
    fn workday(start: i64) -> f64 {
        let hour = start.rem_euclid(SECS_PER_DAY) / 3600;
        if (9..18).contains(&hour) {
            10f64.ln()
        } else {
            0.0
        }
    }

    /// Feeds `days` of 3-hour buckets from `first`, each at `BASE_LOG + level(start)` plus noise.
    fn feed(
        season: &mut Seasonality,
        rng: &mut ChaCha8Rng,
        first: i64,
        days: i64,
        level: impl Fn(i64) -> f64,
    ) {
        let noise = Normal::new(0.0, NOISE_SD).unwrap();
        for start in (first..first + days * SECS_PER_DAY).step_by(BUCKET_SECS as usize) {
            season.observe(start, BUCKET_SECS, BASE_LOG + level(start) + rng.sample(noise));
        }
    }

    fn rng(seed: u64) -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(seed)
    }

    #[test]
    fn a_workday_rhythm_is_found_with_offsets_of_the_right_sign_and_size() {
        let mut season = Seasonality::default();
        feed(&mut season, &mut rng(1), MONDAY, 21, workday);
        assert!(season.daily.is_some());
        assert!(season.weekly.is_none());
        // Three busy slots of eight at +ln 10: the average bucket sits 3/8 ln 10 above quiet.
        let quiet = -3.0 / 8.0 * 10f64.ln();
        let busy = 10f64.ln() + quiet;
        // A slot's mean after three weeks is uncertain by about 0.5 / 16.5^0.5 = 0.12.
        let (mut busy_sum, mut quiet_sum) = (0.0, 0.0);
        for slot in 0..8 {
            let offset = season.offset(MONDAY + 21 * SECS_PER_DAY + slot * BUCKET_SECS);
            let expected = if (3..6).contains(&slot) { busy } else { quiet };
            assert!((offset - expected).abs() < 0.4, "slot {slot}: {offset} vs {expected}");
            assert_eq!(offset.signum(), expected.signum());
            *(if (3..6).contains(&slot) { &mut busy_sum } else { &mut quiet_sum }) += offset;
        }
        assert!((busy_sum / 3.0 - busy).abs() < 0.2, "{busy_sum}");
        assert!((quiet_sum / 5.0 - quiet).abs() < 0.2, "{quiet_sum}");
        let text = season.describe().unwrap();
        assert!(text.starts_with("daily rhythm: busiest "), "{text}");
        let busiest = &text["daily rhythm: busiest ".len()..][..11];
        assert!(["09:00-12:00", "12:00-15:00", "15:00-18:00"].contains(&busiest), "{text}");
        assert!(!text.contains("weekly"), "{text}");
    }

    #[test]
    fn flat_traffic_has_no_rhythm_and_zero_offsets() {
        // Several independent runs of four weeks: never found, not even for one bucket.
        for seed in 10..20 {
            let mut season = Seasonality::default();
            let mut rng = rng(seed);
            let noise = Normal::new(0.0, NOISE_SD).unwrap();
            for start in (MONDAY..MONDAY + 28 * SECS_PER_DAY).step_by(BUCKET_SECS as usize) {
                season.observe(start, BUCKET_SECS, BASE_LOG + rng.sample(noise));
                assert_eq!(season.describe(), None, "seed {seed}");
            }
            for start in (MONDAY..MONDAY + 7 * SECS_PER_DAY).step_by(3600) {
                assert_eq!(season.offset(start), 0.0);
            }
        }
    }

    /// Workdays as in [`workday`], and everything at weekends a fifth of weekdays.
    fn workweek(start: i64) -> f64 {
        workday(start) + if is_weekend(start) { -(5f64.ln()) } else { 0.0 }
    }

    #[test]
    fn weekends_are_found_on_absolute_times_and_never_on_relative_ones() {
        let mut absolute = Seasonality::default();
        feed(&mut absolute, &mut rng(3), MONDAY, 21, workweek);
        assert!(absolute.daily.is_some() && absolute.weekly.is_some());
        let saturday_10 = MONDAY + 26 * SECS_PER_DAY + 10 * 3600;
        let monday_10 = MONDAY + 21 * SECS_PER_DAY + 10 * 3600;
        let contrast = absolute.offset(saturday_10) - absolute.offset(monday_10);
        assert!((contrast + 5f64.ln()).abs() < 0.25, "{contrast}");
        // Weekly offsets average to zero over the remembered buckets, of which weekends are
        // about 2/7 (a little more, as the latest weekend is the least forgotten).
        let weekly = absolute.weekly.unwrap();
        assert!(weekly.weekday_offset > 0.0 && weekly.weekend_offset < 0.0);
        let weekend_share = weekly.weekday_offset / (weekly.weekday_offset - weekly.weekend_offset);
        assert!((0.28..0.32).contains(&weekend_share), "{weekend_share}");
        let text = absolute.describe().unwrap();
        assert!(text.contains("; weekly rhythm: weekends at 0.2"), "{text}");

        // The same buckets shifted to start at time zero (a Thursday, which does not matter).
        let mut relative = Seasonality::default();
        let shifted = |start: i64| workweek(start + MONDAY);
        let mut rng = rng(3);
        let noise = Normal::new(0.0, NOISE_SD).unwrap();
        for start in (0..21 * SECS_PER_DAY).step_by(BUCKET_SECS as usize) {
            let log_total = BASE_LOG + shifted(start) + rng.sample(noise);
            relative.observe(start, BUCKET_SECS, log_total);
            assert!(relative.weekly.is_none());
        }
        assert!(relative.daily.is_some());
        assert_eq!(relative.offset(0), relative.offset(2 * SECS_PER_DAY));
        assert!(relative.weekday_by_slot.iter().all(|m| m.weight == 0.0));
        assert!(!relative.describe().unwrap().contains("weekly"));
    }

    #[test]
    fn two_days_are_too_little_to_find_anything() {
        let mut season = Seasonality::default();
        feed(&mut season, &mut rng(4), MONDAY, 2, |s| 3.0 * workday(s));
        assert_eq!(season.describe(), None);
        assert_eq!(season.offset(MONDAY + 10 * 3600), 0.0);
        // A third day is enough for so strong a rhythm.
        feed(&mut season, &mut rng(5), MONDAY + 2 * SECS_PER_DAY, 1, |s| 3.0 * workday(s));
        assert!(season.daily.is_some());
    }

    #[test]
    fn a_rhythm_that_stops_is_dropped() {
        let mut season = Seasonality::default();
        let mut rng = rng(6);
        feed(&mut season, &mut rng, MONDAY, 21, workday);
        assert!(season.daily.is_some());
        // Forgetting is gradual: a week of flat traffic does not undo three weeks of rhythm.
        feed(&mut season, &mut rng, MONDAY + 21 * SECS_PER_DAY, 7, |_| 0.0);
        assert!(season.daily.is_some());
        feed(&mut season, &mut rng, MONDAY + 28 * SECS_PER_DAY, 49, |_| 0.0);
        assert_eq!(season.describe(), None);
        assert_eq!(season.offset(MONDAY + 10 * 3600), 0.0);
    }

    #[test]
    fn spans_that_do_not_divide_a_day_or_exceed_it_never_find_a_daily_rhythm() {
        for bucket_secs in [7 * 3600, SECS_PER_DAY, 2 * SECS_PER_DAY] {
            let mut season = Seasonality::default();
            let mut rng = rng(7);
            let noise = Normal::new(0.0, NOISE_SD).unwrap();
            let end = MONDAY + 28 * SECS_PER_DAY;
            for start in (MONDAY..end).step_by(bucket_secs as usize) {
                season.observe(start, bucket_secs, BASE_LOG + workday(start) + rng.sample(noise));
            }
            assert!(season.daily.is_none(), "{bucket_secs}");
        }
    }

    #[test]
    fn short_buckets_share_hour_long_slots() {
        assert_eq!(slot_secs(60), Some(3600));
        assert_eq!(slot_secs(2400), Some(4800));
        assert_eq!(slot_secs(BUCKET_SECS), Some(BUCKET_SECS));
        assert_eq!(slot_secs(SECS_PER_DAY), Some(SECS_PER_DAY));
        assert_eq!(slot_secs(7 * 3600), None);
        assert_eq!(slot_secs(0), None);
    }

    #[test]
    fn weekends_are_saturday_and_sunday_utc() {
        let days: Vec<bool> = (0..7).map(|d| is_weekend(MONDAY + d * SECS_PER_DAY + 1)).collect();
        assert_eq!(days, [false, false, false, false, false, true, true]);
        assert!(is_weekend(MONDAY - 1));
    }

    #[test]
    fn the_state_round_trips_through_json() {
        let mut season = Seasonality::default();
        feed(&mut season, &mut rng(8), MONDAY, 21, workweek);
        let json = serde_json::to_string(&season).unwrap();
        let back: Seasonality = serde_json::from_str(&json).unwrap();
        assert_eq!(back, season);
        assert_eq!(back.offset(MONDAY + 10 * 3600), season.offset(MONDAY + 10 * 3600));
        assert_eq!(back.describe(), season.describe());
    }
}
