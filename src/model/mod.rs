//! The model: what normal outbound volume looks like for each over value.
//!
//! For every *over value* (a country, when the job splits on countries) a [`PartitionModel`]
//! keeps a *baseline*: how often the value receives anything in a bucket (its *active share*)
//! and, on the log scale, the level and spread of its bucket totals when it does. Buckets in
//! which it received nothing count as zeros in the active share. A value with no history is
//! judged against the [`PopulationModel`]: what over values usually receive in the bucket where
//! they first appear. A large first transfer therefore stands out while a small one does not.
//! A young baseline starts from a prior centred on that population, with the pooled
//! bucket-to-bucket spread of established values, and follows its own history as it accumulates.
//!
//! Learning is online, one closed bucket at a time, and follows three rules:
//! - *Forgetting.* Before each update, all remembered evidence is multiplied by
//!   `exp(-forgetting_per_hour * bucket_hours)`. The default 0.001 per hour gives a memory of
//!   about 1,000 hours (42 days).
//! - *Robustness.* A bucket enters its baseline with weight 1 when its probability is at least
//!   1e-3, 0.01 when it is at most 1e-5, and log-linearly in between, so an exfiltration barely
//!   moves the baseline and a sustained one keeps scoring.
//! - *Accepting change.* When an over value's buckets have been anomalous for
//!   `change_acceptance_secs` (default 30 hours), its new level is taken as normal: from then on
//!   its buckets enter at full weight until one is unremarkable again.
//!
//! Scoring is one-sided: the probability of a total at least as high as observed is
//! `min(1, 2 * active_share * tail)`, where `tail` is the upper tail of the log-volume's
//! predictive t distribution (see [`stats`]).
//!
//! When the organisation's outbound volume follows the clock (see [`season`]), buckets in its
//! quiet hours (and on quiet days) are judged and learned net of their offset: a value's log
//! total plus how far the organisation's whole volume in that slot usually sits below its
//! average, so a night upload stands out more. Busy slots are never excused: a baseline may have
//! been learned before the rhythm was established, and subtracting a large busy-hour offset from
//! it would hide a daytime transfer hundreds of times the value's usual, exactly where
//! exfiltration competes with the most traffic.
//!
//! Beside the bucket, the value's totals over the last day and the last week are judged
//! against their own baselines ([`window`]), so that a transfer spread thin is still seen. The
//! record's probability is the smallest of the bucket's and of each window's times the number
//! of windows (a Bonferroni bound over the windows). Totals below `min_anomalous_bytes` are
//! never anomalous, in a bucket or in a window: the tool looks for data leaving, and a few
//! hundred kilobytes to an unusual place is web browsing, not a loss worth an analyst's time.

pub mod footprint;
pub mod host;
pub mod season;
pub mod series;
pub mod stats;
pub mod window;

use crate::bucket::{BucketAggregate, PartitionBucket};
use crate::job::JobConfig;
use crate::score::record::{AnomalyRecord, Influence, ModelContext};
use crate::score::{influence, record_score, MIN_REPORTED_INFLUENCE};
use serde::{Deserialize, Serialize};
use stats::{bytes_from_log, log_volume, NormalInverseGamma, Predictive, WeightedMoments};
use std::collections::{BTreeMap, VecDeque};

/// Default memory decay: about 1,000 hours (42 days) of memory.
pub const DEFAULT_FORGETTING_PER_HOUR: f64 = 0.001;

/// Default time an anomaly must persist before it is accepted as the new normal.
pub const DEFAULT_CHANGE_ACCEPTANCE_SECS: i64 = 30 * 3600;

/// Default number of over values modelled. A country job needs about 250; a destination-IP job
/// on a large network needs far more, so the limit is a setting.
pub const DEFAULT_MAX_PARTITIONS: usize = 100_000;

/// The active share used in scores never drops below this. Rarity on its own should not
/// make a bucket anomalous, only sharpen an unusual volume: with this floor, rarity alone can
/// never bring the probability below 0.1.
pub const MIN_SCORED_ACTIVE_SHARE: f64 = 0.05;

/// Before any first appearance has been seen, they are assumed to be around 10 kB, with a spread
/// of a factor of about 12 either way (2.5 on the log scale), believed as if from two
/// observations: tails heavy enough that nothing alerts from the assumption alone.
const PRIOR_FIRST_SEEN_LOG_BYTES: f64 = 9.21;
const PRIOR_FIRST_SEEN_LOG_VARIANCE: f64 = 6.25;
const PRIOR_FIRST_SEEN_SHAPE: f64 = 1.0;

/// The population prior carries at most this much certainty about spread (twenty degrees of
/// freedom): the population says where new values usually sit, but each value's own spread must
/// soon come from its own history.
const MAX_PRIOR_SHAPE: f64 = 10.0;

/// An over value's own spread informs the pooled spread once it has this many active buckets;
/// fewer say little about how much its totals vary.
const MIN_ACTIVE_BUCKETS_FOR_SPREAD: u64 = 4;

/// Before any over value has enough history, bucket totals are assumed to vary by a factor of
/// about 7 (2 on the log scale) from bucket to bucket, which real per-country totals do.
const DEFAULT_WITHIN_LOG_VARIANCE: f64 = 4.0;

/// The pooled spread is never taken as narrower than a factor of about 2.7 (1 on the log
/// scale): a young baseline borrows it, and the steadiest established destinations say little
/// about how much a barely known one varies.
const MIN_WITHIN_LOG_VARIANCE: f64 = 1.0;

/// Past excursions are taken to vary by at least a factor of two (on the log scale, ln 2):
/// a repeat within that of an earlier transfer is the same thing again, one several times larger
/// is not.
const MIN_EXCURSION_LOG_SD: f64 = std::f64::consts::LN_2;

/// Anomalous buckets this far apart belong to separate episodes. A day separates one
/// transfer (however long it lasts within a day) from the same thing happening again.
pub const EPISODE_GAP_SECS: i64 = 24 * 3600;

/// Probability at and above which a bucket updates its baseline at full weight.
pub(crate) const FULL_WEIGHT_PROBABILITY: f64 = 1e-3;
/// Probability at and below which a bucket updates its baseline at [`MIN_UPDATE_WEIGHT`].
const MIN_WEIGHT_PROBABILITY: f64 = 1e-5;
const MIN_UPDATE_WEIGHT: f64 = 0.01;

/// Settings of the model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    pub forgetting_per_hour: f64,
    pub change_acceptance_secs: i64,
    pub max_partitions: usize,
    /// Limit on remembered (host, over value) pairs.
    #[serde(default = "default_max_pairs")]
    pub max_pairs: usize,
    /// From the job's first bucket, how long records are scored but cannot alert.
    #[serde(default = "default_learning_period_secs")]
    pub learning_period_secs: i64,
    /// Bucket and window totals below this many bytes are never anomalous.
    #[serde(default = "default_min_anomalous_bytes")]
    pub min_anomalous_bytes: u64,
    /// Limit on the memory of all baselines and pairs (see [`footprint`]).
    #[serde(default = "default_max_model_bytes")]
    pub max_model_bytes: u64,
    /// A (host, over value) pair without traffic for this long is forgotten; 0 keeps pairs
    /// for ever (see [`host`]).
    #[serde(default = "default_pair_retention_secs")]
    pub pair_retention_secs: i64,
}

fn default_pair_retention_secs() -> i64 {
    host::DEFAULT_PAIR_RETENTION_SECS
}

fn default_max_model_bytes() -> u64 {
    DEFAULT_MAX_MODEL_BYTES
}

/// Default limit on model memory: 1 GiB, a million over values at the measured few hundred
/// bytes each with room for their pairs, and well inside a small server's memory.
pub const DEFAULT_MAX_MODEL_BYTES: u64 = 1 << 30;

/// Over values turned away by a limit that are named in the run summary; the rest are counted.
pub const UNTRACKED_SAMPLE_SIZE: usize = 5;

fn default_min_anomalous_bytes() -> u64 {
    DEFAULT_MIN_ANOMALOUS_BYTES
}

/// Default smallest anomalous total: one megabyte. Below it, totals to unusual countries are
/// everyday browsing (a page with its images, an update check), and the smallest leak this tool
/// is meant to find, tens of megabytes, exceeds it in every bucket of an hour's transfer and in
/// every day of a week-long drip.
pub const DEFAULT_MIN_ANOMALOUS_BYTES: u64 = 1_000_000;

fn default_max_pairs() -> usize {
    host::DEFAULT_MAX_PAIRS
}

fn default_learning_period_secs() -> i64 {
    DEFAULT_LEARNING_PERIOD_SECS
}

/// Default learning period: three days. Before a job has seen each hour of the day three
/// times, the first busy morning after a quiet night looks like a surge to every country; three
/// repeats is also what a daily pattern needs before it can be told from chance.
pub const DEFAULT_LEARNING_PERIOD_SECS: i64 = 72 * 3600;

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig {
            forgetting_per_hour: DEFAULT_FORGETTING_PER_HOUR,
            change_acceptance_secs: DEFAULT_CHANGE_ACCEPTANCE_SECS,
            max_partitions: DEFAULT_MAX_PARTITIONS,
            max_pairs: host::DEFAULT_MAX_PAIRS,
            learning_period_secs: DEFAULT_LEARNING_PERIOD_SECS,
            min_anomalous_bytes: DEFAULT_MIN_ANOMALOUS_BYTES,
            max_model_bytes: DEFAULT_MAX_MODEL_BYTES,
            pair_retention_secs: host::DEFAULT_PAIR_RETENTION_SECS,
        }
    }
}

/// The baseline of one over value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartitionModel {
    /// Log bucket totals of the buckets in which the value received something.
    pub volume: WeightedMoments,
    /// Remembered weight of buckets with traffic.
    pub active_weight: f64,
    /// Remembered weight of all buckets since the value was first seen.
    pub observed_weight: f64,
    pub first_seen_secs: i64,
    pub active_buckets: u64,
    /// Active buckets that were unremarkable (probability at least 1e-3). A value with none has
    /// learned nothing but anomalies and is judged like a value never seen, so that a sustained
    /// transfer to a new destination keeps being judged against what new destinations receive.
    pub ordinary_buckets: u64,
    pub observed_buckets: u64,
    /// Start of the first bucket of the current run of anomalous buckets.
    pub anomalous_since_secs: Option<i64>,
    /// Log totals of the value's anomalous buckets (its *excursions*), at full weight.
    #[serde(default)]
    pub excursions: WeightedMoments,
    /// Remembered number of excursion *episodes*: runs of anomalous buckets separated by at
    /// least [`EPISODE_GAP_SECS`].
    #[serde(default)]
    pub excursion_episodes: f64,
    /// Start of the last anomalous bucket.
    #[serde(default)]
    pub last_excursion_secs: Option<i64>,
    /// The value's low-and-slow windows.
    #[serde(default)]
    pub windows: window::WindowState,
}

impl PartitionModel {
    fn new(first_seen_secs: i64) -> PartitionModel {
        PartitionModel {
            volume: WeightedMoments::default(),
            active_weight: 0.0,
            observed_weight: 0.0,
            first_seen_secs,
            active_buckets: 0,
            ordinary_buckets: 0,
            observed_buckets: 0,
            anomalous_since_secs: None,
            excursions: WeightedMoments::default(),
            excursion_episodes: 0.0,
            last_excursion_secs: None,
            windows: window::WindowState::default(),
        }
    }

    /// Share of buckets that belong to past excursion episodes, judged at `now_secs`. An
    /// episode still going on does not count: one transfer, however long, is not a habit, and
    /// it keeps scoring while it lasts. Once an episode has ended, excursions of that size are
    /// part of the value's behaviour, so the same thing happening again on another day is
    /// unremarkable unless it is larger.
    fn recurring_share(&self, now_secs: i64) -> f64 {
        let ongoing =
            self.last_excursion_secs.is_some_and(|last| now_secs - last < EPISODE_GAP_SECS);
        let ended = self.excursion_episodes - if ongoing { 1.0 } else { 0.0 };
        ended.max(0.0) / (self.observed_weight + 1.0)
    }

    /// Share of buckets with traffic, with one active and one quiet pseudo-bucket as prior.
    pub fn active_share(&self) -> f64 {
        (self.active_weight + 1.0) / (self.observed_weight + 2.0)
    }
}

/// What over values usually receive in the bucket in which they first appear.
///
/// The population keeps the log totals of the most recent first appearances (at most
/// [`POPULATION_SAMPLE_SIZE`]) with their update weights, and summarises them robustly by the
/// weighted median and the median absolute deviation. Robust statistics matter here: when a job
/// starts, every over value appears for the first time, the busiest ones included, and a few
/// huge first totals must not widen what "new" looks like.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PopulationModel {
    /// `(log total, weight)` of recent first appearances, oldest first.
    pub first_appearances: VecDeque<(f64, f64)>,
}

/// First appearances remembered by the population. 512 is enough for a stable median and
/// spread, and old enough appearances should be forgotten as the network changes.
pub const POPULATION_SAMPLE_SIZE: usize = 512;

/// Converts a median absolute deviation to the standard deviation of a normal distribution.
const MAD_TO_SD: f64 = 1.4826;

/// The population's spread is never taken as narrower than this on the log scale (a factor of
/// about 2.7): a handful of equally sized first appearances must not make every other size look
/// impossible.
const MIN_POPULATION_LOG_SD: f64 = 1.0;

impl PopulationModel {
    pub(crate) fn record_first_appearance(&mut self, log_bytes: f64, weight: f64) {
        if self.first_appearances.len() == POPULATION_SAMPLE_SIZE {
            self.first_appearances.pop_front();
        }
        self.first_appearances.push_back((log_bytes, weight));
    }

    /// The belief about the log total of a value in the bucket where it first appears. Before
    /// any data, a weak assumption; afterwards, centred on the weighted median of first
    /// appearances, with their robust spread and as much certainty as the sample's weight
    /// supports (at most [`MAX_PRIOR_SHAPE`]).
    pub fn first_seen_belief(&self) -> NormalInverseGamma {
        let weight: f64 = self.first_appearances.iter().map(|&(_, w)| w).sum();
        if weight < 1.0 {
            return NormalInverseGamma::with_predictive(
                PRIOR_FIRST_SEEN_LOG_BYTES,
                PRIOR_FIRST_SEEN_LOG_VARIANCE,
                PRIOR_FIRST_SEEN_SHAPE,
            );
        }
        let median = weighted_median(self.first_appearances.iter().copied());
        let deviations = self.first_appearances.iter().map(|&(v, w)| ((v - median).abs(), w));
        let spread = (MAD_TO_SD * weighted_median(deviations)).max(MIN_POPULATION_LOG_SD);
        let shape = (PRIOR_FIRST_SEEN_SHAPE + weight / 2.0).min(MAX_PRIOR_SHAPE);
        NormalInverseGamma::with_predictive(median, spread * spread, shape)
    }
}

/// The value below which half of the total weight lies.
fn weighted_median(values: impl Iterator<Item = (f64, f64)>) -> f64 {
    let mut sorted: Vec<(f64, f64)> = values.collect();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    let half = sorted.iter().map(|&(_, w)| w).sum::<f64>() / 2.0;
    let mut seen = 0.0;
    for &(value, weight) in &sorted {
        seen += weight;
        if seen >= half {
            return value;
        }
    }
    sorted.last().map_or(0.0, |&(value, _)| value)
}

/// How one over value is judged in one bucket: the predictive distribution of its log total
/// when it receives something, and how often it does.
#[derive(Debug, Clone, Copy)]
struct Judgement {
    predictive: Predictive,
    active_share: f64,
    /// The value's recurring excursions: their distribution and the share of buckets they
    /// take. A total judged anomalous by the baseline is unremarkable if it looks like them.
    excursions: Option<(Predictive, f64)>,
    /// The bucket's seasonal offset on the log scale, subtracted from its total before judging.
    offset: f64,
}

impl Judgement {
    fn probability(&self, bytes: u64) -> f64 {
        if bytes == 0 {
            return 1.0;
        }
        let share = self.active_share.max(MIN_SCORED_ACTIVE_SHARE);
        let log_bytes = log_volume(bytes as f64) - self.offset;
        let baseline = (2.0 * share * self.predictive.upper_tail(log_bytes)).min(1.0);
        match self.excursions {
            Some((excursions, recurring)) => {
                let like_excursions = (2.0 * excursions.upper_tail(log_bytes)).min(1.0);
                (1.0 - recurring) * baseline + recurring * like_excursions
            }
            None => baseline,
        }
    }

    /// The median of the bucket total: zero when the value is quiet in at least half the
    /// buckets, else the matching quantile of the active-bucket distribution.
    fn typical_bytes(&self) -> f64 {
        if self.active_share <= 0.5 {
            return 0.0;
        }
        let quantile = 1.0 - 0.5 / self.active_share;
        bytes_from_log(self.predictive.quantile(quantile) + self.offset).round()
    }
}

/// Weight of a bucket with probability `p` in its baseline update.
pub(crate) fn update_weight(p: f64) -> f64 {
    if p >= FULL_WEIGHT_PROBABILITY {
        1.0
    } else if p <= MIN_WEIGHT_PROBABILITY {
        MIN_UPDATE_WEIGHT
    } else {
        let span = (FULL_WEIGHT_PROBABILITY / MIN_WEIGHT_PROBABILITY).ln();
        let position = (p / MIN_WEIGHT_PROBABILITY).ln() / span;
        (MIN_UPDATE_WEIGHT.ln() * (1.0 - position)).exp()
    }
}

/// Every over value's baseline and the population prior of one job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelSet {
    pub config: ModelConfig,
    pub partitions: BTreeMap<String, PartitionModel>,
    pub population: PopulationModel,
    /// Records (bucket and over value) of values seen after [`ModelConfig::max_partitions`]
    /// was reached: scored against the population prior, without a baseline of their own.
    pub untracked_values: u64,
    /// The first over values turned away by a limit, at most [`UNTRACKED_SAMPLE_SIZE`].
    #[serde(default)]
    pub untracked_sample: Vec<String>,
    /// True once the model memory limit has turned an over value or a pair away.
    #[serde(default)]
    pub memory_limit_reached: bool,
    /// Every host's baselines toward every over value it sends to.
    #[serde(default)]
    pub hosts: host::HostBaselines,
    /// Start of the job's first bucket with traffic: the learning period counts from it.
    #[serde(default)]
    pub first_bucket_secs: Option<i64>,
    /// Buckets with traffic scored so far. The learning period also lasts until the job has
    /// seen as many buckets as the period holds, so that a stray timestamp years before the
    /// rest (Zeek writes 0 on some glitches) does not end it before any real data arrived.
    #[serde(default)]
    pub buckets_scored: u64,
    /// What over values receive over the first window of each span after they appear.
    #[serde(default)]
    pub first_windows: Vec<PopulationModel>,
    /// The organisation's daily and weekly rhythm of outbound volume.
    #[serde(default)]
    pub seasonality: season::Seasonality,
}

/// Offsets of quiet slots are applied up to a factor of ten: past that, the quietest hours of a
/// network are empty rather than quiet, and an offset estimated from them says little about how
/// much a destination should receive.
const MAX_SEASONAL_OFFSET: f64 = std::f64::consts::LN_10;

/// A first-window population judges young values once it holds this much weight: fewer first
/// windows say little about what new values accumulate.
const MIN_FIRST_WINDOWS: f64 = 8.0;

impl ModelSet {
    pub fn new(config: ModelConfig) -> ModelSet {
        ModelSet {
            config,
            partitions: BTreeMap::new(),
            population: PopulationModel::default(),
            untracked_values: 0,
            untracked_sample: Vec::new(),
            memory_limit_reached: false,
            hosts: host::HostBaselines::default(),
            first_bucket_secs: None,
            buckets_scored: 0,
            first_windows: Vec::new(),
            seasonality: season::Seasonality::new(config.forgetting_per_hour),
        }
    }

    /// The offset by which a bucket's totals are adjusted: only quiet slots, and at most a
    /// factor of [`MAX_SEASONAL_OFFSET`] (see the module doc).
    fn seasonal_offset(&self, bucket_start_secs: i64) -> f64 {
        self.seasonality.offset(bucket_start_secs).clamp(-MAX_SEASONAL_OFFSET, 0.0)
    }

    fn over_value_bytes(&self) -> usize {
        self.partitions.iter().map(|(key, model)| footprint::over_value_bytes(key, model)).sum()
    }

    /// The model state's footprint now (see [`footprint`]).
    pub fn footprint(&self) -> footprint::ModelFootprint {
        let over_value_bytes = self.over_value_bytes();
        let pair_bytes = self
            .hosts
            .pairs
            .iter()
            .map(|(host, pairs)| {
                host.with_text(footprint::host_bytes)
                    + pairs.keys().map(|value| footprint::pair_bytes(value)).sum::<usize>()
            })
            .sum();
        footprint::ModelFootprint {
            over_values: self.partitions.len(),
            over_value_bytes,
            pairs: self.hosts.pair_count,
            pair_bytes,
        }
    }

    /// Counts an over value that gets no baseline of its own, naming the first few.
    fn turn_away(&mut self, over_value: &str, by_memory: bool) {
        self.untracked_values += 1;
        if by_memory {
            self.note_memory_limit();
        }
        if self.untracked_sample.len() < UNTRACKED_SAMPLE_SIZE
            && !self.untracked_sample.iter().any(|v| v == over_value)
        {
            self.untracked_sample.push(over_value.to_string());
        }
    }

    fn note_memory_limit(&mut self) {
        if !self.memory_limit_reached {
            self.memory_limit_reached = true;
            tracing::warn!(
                max_model_bytes = self.config.max_model_bytes,
                "model memory limit reached: new over values and pairs are no longer modelled"
            );
        }
    }

    fn first_window_beliefs(&self) -> Vec<Option<NormalInverseGamma>> {
        self.first_windows
            .iter()
            .map(|population| {
                let weight: f64 = population.first_appearances.iter().map(|&(_, w)| w).sum();
                (weight >= MIN_FIRST_WINDOWS).then(|| population.first_seen_belief())
            })
            .collect()
    }

    /// Typical bucket-to-bucket spread of an over value's log totals: the weighted median of
    /// the spreads of the values with at least [`MIN_ACTIVE_BUCKETS_FOR_SPREAD`] active buckets,
    /// or a weak default before there are any. Returns the variance and how many values'
    /// worth of evidence it rests on.
    fn pooled_within_variance(&self) -> (f64, usize) {
        let spreads: Vec<(f64, f64)> = self
            .partitions
            .values()
            .filter(|m| m.active_buckets >= MIN_ACTIVE_BUCKETS_FOR_SPREAD && m.volume.weight > 0.0)
            .map(|m| (m.volume.sum_sq_dev / m.volume.weight, 1.0))
            .collect();
        if spreads.is_empty() {
            return (DEFAULT_WITHIN_LOG_VARIANCE, 0);
        }
        let count = spreads.len();
        (weighted_median(spreads.into_iter()).max(MIN_WITHIN_LOG_VARIANCE), count)
    }

    /// The prior each over value's own baseline starts from: centred where first appearances
    /// sit and as certain as the population is, but with the pooled bucket-to-bucket spread of
    /// established values rather than the spread between values. A baseline without weight of
    /// its own (a value whose only bucket was anomalous) is thus judged much like a new value,
    /// and one with history soon by its own level and spread.
    fn partition_prior(&self, first_seen: &NormalInverseGamma) -> NormalInverseGamma {
        let (within_variance, informed_by) = self.pooled_within_variance();
        // As certain about the spread as the number of values it was pooled from allows.
        let shape = (1.0 + informed_by as f64 / 2.0).min(first_seen.shape);
        NormalInverseGamma {
            mean: first_seen.mean,
            mean_weight: 1.0,
            shape,
            rate: shape * within_variance,
        }
    }

    fn judgement(
        &self,
        first_seen: &NormalInverseGamma,
        partition_prior: &NormalInverseGamma,
        over_value: &str,
        now_secs: i64,
    ) -> Judgement {
        match self.partitions.get(over_value) {
            Some(model) => {
                let predictive = if model.ordinary_buckets == 0 {
                    first_seen.predictive()
                } else {
                    partition_prior.updated(&model.volume).predictive()
                };
                let recurring = model.recurring_share(now_secs);
                let excursions = (recurring > 0.0).then(|| {
                    // Centred on past excursions, as wide as they themselves varied, and at
                    // least a factor of two either way: the baseline's spread describes
                    // ordinary buckets, not how much a repeated transfer varies.
                    let spread = model.excursions.sum_sq_dev / model.excursions.weight.max(1.0);
                    let scale = spread.sqrt().max(MIN_EXCURSION_LOG_SD);
                    (Predictive { centre: model.excursions.mean, scale, ..predictive }, recurring)
                });
                Judgement {
                    predictive,
                    active_share: model.active_share(),
                    excursions,
                    // A value judged as if new is judged against raw first appearances.
                    offset: if model.ordinary_buckets == 0 {
                        0.0
                    } else {
                        self.seasonal_offset(now_secs)
                    },
                }
            }
            // A value never seen: judged on volume alone, against what first appearances
            // usually carry. An active share of one half makes the probability the plain tail.
            None => Judgement {
                predictive: first_seen.predictive(),
                active_share: 0.5,
                excursions: None,
                offset: 0.0,
            },
        }
    }

    /// Scores every over value of a closed bucket, then learns from it. Returns one record per
    /// over value with traffic, in over-value order. A bucket without any traffic is taken as a
    /// gap in collection and changes nothing.
    pub fn process_bucket(
        &mut self,
        job: &JobConfig,
        bucket: &BucketAggregate,
        available_secs: i64,
    ) -> Vec<AnomalyRecord> {
        if bucket.total_bytes() == 0 {
            return Vec::new();
        }
        let job_start = *self.first_bucket_secs.get_or_insert(bucket.bucket_start_secs);
        let period_buckets = (self.config.learning_period_secs / job.bucket_secs.max(1)) as u64;
        let learning = bucket.bucket_start_secs < job_start + self.config.learning_period_secs
            || self.buckets_scored < period_buckets;
        self.buckets_scored += 1;
        let keep_per_sec = (-self.config.forgetting_per_hour / 3600.0).exp();
        let first_seen = self.population.first_seen_belief();
        let partition_prior = self.partition_prior(&first_seen);
        let (pooled_variance, _) = self.pooled_within_variance();
        let host_tests = host::HostBaselines::tests_in(bucket) as f64;
        let first_seen_median_bytes = bytes_from_log(first_seen.predictive().centre).round();
        let first_windows = self.first_window_beliefs();
        let floor = self.config.min_anomalous_bytes;
        let no_windows = window::WindowState::default();
        let new_pair = self.hosts.new_pair_belief();
        let mut records = Vec::with_capacity(bucket.partitions.len());
        for (over_value, partition) in bucket.in_order() {
            let over_value = &over_value.to_string();
            let judgement =
                self.judgement(&first_seen, &partition_prior, over_value, bucket.bucket_start_secs);
            let country_probability = judgement.probability(partition.bytes_sent);
            let mut host_evidence = self.hosts.evidence(
                &new_pair,
                over_value,
                partition,
                keep_per_sec,
                bucket.bucket_start_secs,
                pooled_variance,
            );
            if let Some(evidence) = host_evidence.as_mut() {
                evidence.probability = (evidence.probability * host_tests).min(1.0);
            }
            // The bucket is as unusual as its most unusual evidence: the value's total against
            // its baseline, or a sender that never sent there before against what new pairs
            // carry. A familiar sender's own history is reported, not scored: hosts repeat
            // their habits (a weekly sync, a monthly report) more often than a few weeks of
            // pair history can show, and the value's baseline already weighs their volume.
            let bucket_probability = if partition.bytes_sent < floor {
                1.0
            } else {
                host_evidence
                    .as_ref()
                    .filter(|h| h.first_time)
                    .map_or(country_probability, |h| h.probability.min(country_probability))
            };
            let (windows, age_secs) = match self.partitions.get(over_value) {
                Some(model) => (&model.windows, bucket.bucket_start_secs - model.first_seen_secs),
                None => (&no_windows, 0),
            };
            let belief = window::BucketBelief {
                predictive: judgement.predictive,
                active_share: judgement.active_share,
                bucket_secs: job.bucket_secs,
            };
            let mut windows = windows.judge(
                &belief,
                bucket.bucket_start_secs,
                partition.bytes_sent,
                age_secs,
                &first_windows,
            );
            for evidence in &mut windows {
                if evidence.total_bytes < floor {
                    evidence.probability = 1.0;
                }
            }
            let window_tests = window::WINDOW_SPANS_SECS.len() as f64;
            let probability = windows
                .iter()
                .map(|w| (w.probability * window_tests).min(1.0))
                .fold(bucket_probability, f64::min);
            let context = match self.partitions.get(over_value) {
                Some(model) => ModelContext {
                    first_seen: false,
                    first_seen_secs: model.first_seen_secs,
                    active_buckets: model.active_buckets,
                    observed_buckets: model.observed_buckets,
                    active_share: model.active_share(),
                    first_seen_median_bytes,
                },
                None => ModelContext {
                    first_seen: true,
                    first_seen_secs: bucket.bucket_start_secs,
                    active_buckets: 0,
                    observed_buckets: 0,
                    active_share: 0.0,
                    first_seen_median_bytes,
                },
            };
            records.push(AnomalyRecord {
                job_id: job.job_id.clone(),
                bucket_start_secs: bucket.bucket_start_secs,
                bucket_secs: job.bucket_secs,
                over_field: job.over_field,
                over_value: over_value.clone(),
                actual_bytes: partition.bytes_sent,
                typical_bytes: judgement.typical_bytes(),
                probability,
                record_score: record_score(probability),
                flow_count: partition.flow_count,
                influencers: influencers(job, partition, &judgement, probability),
                top_flows: partition.top_flows.clone(),
                context,
                host_evidence,
                bucket_probability,
                windows,
                learning,
                available_secs,
            });
        }
        self.learn(job, bucket, &records);
        records
    }

    fn learn(&mut self, job: &JobConfig, bucket: &BucketAggregate, records: &[AnomalyRecord]) {
        let offset = self.seasonal_offset(bucket.bucket_start_secs);
        let mut model_bytes = self.over_value_bytes() + self.hosts.pair_bytes();
        let bucket_hours = job.bucket_secs as f64 / 3600.0;
        let keep = (-self.config.forgetting_per_hour * bucket_hours).exp();
        for model in self.partitions.values_mut() {
            model.volume.forget(keep);
            model.excursions.forget(keep);
            model.excursion_episodes *= keep;
            model.active_weight *= keep;
            model.observed_weight = model.observed_weight * keep + 1.0;
            model.observed_buckets += 1;
            model.windows.forget(keep);
        }
        for record in records {
            let log_bytes = log_volume(record.actual_bytes as f64);
            // A value's own baseline holds totals net of the season; new values' first totals
            // stay as they were, since where a value first appears says little about the hour.
            let seasonal_log_bytes = log_bytes - offset;
            let mut weight = update_weight(record.bucket_probability);
            if !self.partitions.contains_key(&record.over_value) {
                let new_bytes = footprint::new_over_value_bytes(&record.over_value);
                let over_memory = (model_bytes + new_bytes) as u64 > self.config.max_model_bytes;
                if over_memory || self.partitions.len() >= self.config.max_partitions {
                    self.turn_away(&record.over_value, over_memory);
                    continue;
                }
                model_bytes += new_bytes;
                self.population.record_first_appearance(log_bytes, weight);
                let mut model = PartitionModel::new(bucket.bucket_start_secs);
                model.observed_weight = 1.0;
                model.observed_buckets = 1;
                self.partitions.insert(record.over_value.clone(), model);
            }
            let model = self.partitions.get_mut(&record.over_value).expect("inserted above");
            let window_weights: Vec<f64> =
                record.windows.iter().map(|w| update_weight(w.probability)).collect();
            model.windows.record(
                bucket.bucket_start_secs,
                record.actual_bytes,
                &record.windows,
                &window_weights,
            );
            if record.bucket_probability < FULL_WEIGHT_PROBABILITY {
                let start = bucket.bucket_start_secs;
                if model.last_excursion_secs.is_none_or(|last| start - last >= EPISODE_GAP_SECS) {
                    model.excursion_episodes += 1.0;
                }
                model.last_excursion_secs = Some(start);
                model.excursions.add(seasonal_log_bytes, 1.0);
                let since = *model.anomalous_since_secs.get_or_insert(bucket.bucket_start_secs);
                if bucket.bucket_start_secs - since >= self.config.change_acceptance_secs {
                    weight = 1.0;
                }
            } else {
                model.anomalous_since_secs = None;
                model.ordinary_buckets += 1;
            }
            model.volume.add(seasonal_log_bytes, weight);
            model.active_weight += weight;
            model.active_buckets += 1;
            if let Some(partition) = bucket.partition(&record.over_value) {
                let keep_per_sec = (-self.config.forgetting_per_hour / 3600.0).exp();
                let limits = host::PairLimits {
                    max_pairs: self.config.max_pairs,
                    max_model_bytes: self.config.max_model_bytes,
                };
                let turned_away = self.hosts.learn(
                    &record.over_value,
                    partition,
                    bucket.bucket_start_secs,
                    keep_per_sec,
                    update_weight(record.bucket_probability),
                    limits,
                    &mut model_bytes,
                );
                if turned_away {
                    self.note_memory_limit();
                }
            }
        }
        self.hosts.forget_stale(bucket.bucket_start_secs, self.config.pair_retention_secs);
        self.seasonality.observe(
            bucket.bucket_start_secs,
            job.bucket_secs,
            log_volume(bucket.total_bytes() as f64),
        );
        self.first_windows.resize(window::WINDOW_SPANS_SECS.len(), PopulationModel::default());
        for model in self.partitions.values_mut() {
            let completed = model.windows.completed_first_windows(
                model.first_seen_secs,
                bucket.bucket_start_secs,
                job.bucket_secs,
            );
            for (index, total_bytes) in completed {
                self.first_windows[index]
                    .record_first_appearance(log_volume(total_bytes as f64), 1.0);
            }
        }
    }
}

/// The influencers of one record: for each influencer field, the values that carried the
/// anomaly, most influential first.
fn influencers(
    job: &JobConfig,
    partition: &PartitionBucket,
    judgement: &Judgement,
    probability: f64,
) -> Vec<Influence> {
    // Values are ranked by bytes and influence grows with bytes, so once one falls below the
    // reporting floor every later one does too. Few pass it, so the head of the ranking is
    // taken a few values at a time instead of ranking the thousands of addresses a busy
    // country can have.
    const FIRST_LOOK: usize = 4;
    let mut found = Vec::new();
    for &field in &job.influencers {
        let mut wanted = FIRST_LOOK;
        let mut rank = 0;
        loop {
            let head = partition.top_influencers(field, wanted);
            let complete = head.len() < wanted;
            for &(value, bytes) in &head[rank..] {
                let without = judgement.probability(partition.bytes_sent - bytes);
                let value_influence = influence(probability, without);
                if rank > 0 && value_influence < MIN_REPORTED_INFLUENCE {
                    break;
                }
                found.push(Influence {
                    field,
                    value: value.to_string(),
                    influence: value_influence,
                    bytes_sent: bytes,
                });
                rank += 1;
            }
            if complete || rank < head.len() {
                break;
            }
            wanted *= 4;
        }
    }
    found
}

#[cfg(test)]
mod tests;
