//! The rule: which records become alerts, and when.
//!
//! A *rule run* at time `t` looks at the records whose bucket starts within
//! `[t - lookback_secs, t]` and that were available by `t`, and emits an *alert* for each with a
//! record score at or above the threshold that has not been alerted before, at most
//! `max_alerts_per_run` per run, highest scores first. Runs happen every `interval_secs` on the
//! data's own clock, as if the rule had been running while the data was collected. A record left
//! over by the per-run cap is picked up by a later run while it is still inside the look-back.
//!
//! An *episode* is a run of alerting records of one over value, each less than
//! [`EPISODE_GAP_SECS`] after the one before: one transfer that keeps scoring bucket after
//! bucket, or a drip seen through its day and week windows. Only its first record alerts; later
//! ones *join* it (counted, and still written with `--records`) unless their bucket total is at
//! least [`ESCALATION_FACTOR`] times the largest total alerted in the episode so far, which
//! alerts again as an escalation. Within a run, records are taken in bucket order, so a
//! backlog of one value's buckets alerts once.

use crate::score::record::AnomalyRecord;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

pub use crate::model::EPISODE_GAP_SECS;

/// A record in an ongoing episode alerts again when its bucket total reaches this multiple of
/// the largest total alerted in the episode: the same transfer growing by an order of magnitude
/// is news, the same transfer continuing is not.
pub const ESCALATION_FACTOR: u64 = 10;

/// The reference rule's settings (SPEC §2).
pub const DEFAULT_INTERVAL_SECS: i64 = 15 * 60;
pub const DEFAULT_LOOKBACK_SECS: i64 = 6 * 3600;
pub const DEFAULT_SCORE_THRESHOLD: f64 = 75.0;
pub const DEFAULT_MAX_ALERTS_PER_RUN: usize = 100;

/// Settings of the rule.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    pub interval_secs: i64,
    pub lookback_secs: i64,
    pub score_threshold: f64,
    pub max_alerts_per_run: usize,
}

impl Default for RuleConfig {
    fn default() -> Self {
        RuleConfig {
            interval_secs: DEFAULT_INTERVAL_SECS,
            lookback_secs: DEFAULT_LOOKBACK_SECS,
            score_threshold: DEFAULT_SCORE_THRESHOLD,
            max_alerts_per_run: DEFAULT_MAX_ALERTS_PER_RUN,
        }
    }
}

impl RuleConfig {
    /// Checks that records can be seen by some run: a record becomes available `delay_secs`
    /// after its bucket starts (bucket span plus allowed lateness), and the look-back must still
    /// reach its bucket at the first run after that.
    pub fn validate(&self, delay_secs: i64) -> Result<(), String> {
        if self.max_alerts_per_run == 0 {
            return Err("at most 0 alerts per run would never alert; give 1 or more".to_string());
        }
        if self.interval_secs <= 0 {
            return Err(format!("rule interval must be positive, got {} s", self.interval_secs));
        }
        if !(0.0..=100.0).contains(&self.score_threshold) {
            return Err(format!(
                "score threshold must be in 0..=100, got {}",
                self.score_threshold
            ));
        }
        if self.lookback_secs < delay_secs + self.interval_secs {
            return Err(format!(
                "look-back of {} s is too short: records become available {} s after their \
                 bucket starts and the rule runs every {} s; use a look-back of at least {} s",
                self.lookback_secs,
                delay_secs,
                self.interval_secs,
                delay_secs + self.interval_secs
            ));
        }
        Ok(())
    }
}

/// One alert decision: the record and the run that alerted it.
#[derive(Debug, Clone, PartialEq)]
pub struct Alerted {
    pub rule_run_secs: i64,
    pub record: AnomalyRecord,
    /// Start of the first bucket of the record's episode.
    pub episode_start_secs: i64,
    /// True when the record alerts again in an ongoing episode because it grew tenfold.
    pub escalation: bool,
}

/// One over value's ongoing (or last) episode.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Episode {
    pub start_secs: i64,
    /// Start of the episode's latest bucket that scored over the threshold.
    pub last_secs: i64,
    pub max_alerted_bytes: u64,
}

/// Replays the rule over records as they become available.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleReplay {
    pub config: RuleConfig,
    /// Time of the last run done, if any.
    pub last_run_secs: Option<i64>,
    /// Records over the threshold that have not been alerted yet, and may still be.
    pending: Vec<AnomalyRecord>,
    /// Keys of records already alerted (job, bucket start, over value), so none alerts twice.
    alerted: BTreeSet<(String, i64, String)>,
    /// Episodes by job id, then over value.
    #[serde(default)]
    episodes: BTreeMap<String, BTreeMap<String, Episode>>,
    /// Records that joined an ongoing episode instead of alerting, since this replay was
    /// loaded or created.
    #[serde(skip)]
    pub joined_episode: u64,
}

impl RuleReplay {
    pub fn new(config: RuleConfig) -> RuleReplay {
        RuleReplay {
            config,
            last_run_secs: None,
            pending: Vec::new(),
            alerted: BTreeSet::new(),
            episodes: BTreeMap::new(),
            joined_episode: 0,
        }
    }

    /// Hands over a record and runs the rule at every scheduled time before it became
    /// available. Records must come in order of availability; the run at the record's own
    /// availability time waits for the next record (or [`run_until`](Self::run_until)), since
    /// other records of the same bucket become available at the same moment.
    pub fn offer(&mut self, record: &AnomalyRecord) -> Vec<Alerted> {
        let alerts = self.run_until(record.available_secs - 1);
        if record.record_score >= self.config.score_threshold
            && !record.learning
            && !self.alerted.contains(&record.key())
        {
            self.pending.push(record.clone());
        }
        alerts
    }

    /// Runs the rule at every scheduled time up to and including `until_secs`.
    pub fn run_until(&mut self, until_secs: i64) -> Vec<Alerted> {
        let mut alerts = Vec::new();
        let interval = self.config.interval_secs;
        let mut next = match self.last_run_secs {
            Some(last) => last + interval,
            None => match self.pending.iter().map(|r| r.available_secs).min() {
                // The first run is the first scheduled time at which a record is available.
                Some(first) => (first + interval - 1).div_euclid(interval) * interval,
                None => return alerts,
            },
        };
        while next <= until_secs {
            if self.pending.is_empty() {
                // Nothing can alert before the next record arrives: skip the idle runs.
                self.last_run_secs = Some(until_secs.div_euclid(interval) * interval);
                break;
            }
            alerts.extend(self.run_at(next));
            self.last_run_secs = Some(next);
            next += interval;
        }
        alerts
    }

    /// Runs the rule until every pending record has left the look-back.
    pub fn drain(&mut self) -> Vec<Alerted> {
        let latest = self.pending.iter().map(|r| r.bucket_start_secs).max();
        match latest {
            Some(latest) => self.run_until(latest + self.config.lookback_secs),
            None => Vec::new(),
        }
    }

    fn run_at(&mut self, run_secs: i64) -> Vec<Alerted> {
        let lookback_start = run_secs - self.config.lookback_secs;
        // Records whose bucket fell out of the look-back can never alert any more.
        self.pending.retain(|r| r.bucket_start_secs >= lookback_start);
        // Neither can records already alerted, so their keys need not be kept.
        self.alerted.retain(|(_, bucket_start_secs, _)| *bucket_start_secs >= lookback_start);
        // An episode that ended before the look-back cannot be joined by any pending record.
        for episodes in self.episodes.values_mut() {
            episodes.retain(|_, e| e.last_secs + EPISODE_GAP_SECS > lookback_start);
        }
        self.episodes.retain(|_, episodes| !episodes.is_empty());
        let mut eligible: Vec<AnomalyRecord> = Vec::new();
        let mut waiting = Vec::with_capacity(self.pending.len());
        for record in self.pending.drain(..) {
            if record.available_secs <= run_secs && record.bucket_start_secs <= run_secs {
                eligible.push(record);
            } else {
                waiting.push(record);
            }
        }
        eligible.sort_by(|a, b| {
            (a.bucket_start_secs, &a.over_value).cmp(&(b.bucket_start_secs, &b.over_value))
        });
        // First, in bucket order, which records join an episode (one already alerted, or one
        // opened by an earlier record of this run) and which are candidates to alert.
        let mut candidates: Vec<(AnomalyRecord, bool)> = Vec::new();
        let mut opened: BTreeMap<(String, String), Episode> = BTreeMap::new();
        for record in eligible {
            let value_key = (record.job_id.clone(), record.over_value.clone());
            let known = opened.get(&value_key).copied().or_else(|| {
                self.episodes.get(&record.job_id).and_then(|e| e.get(&record.over_value)).copied()
            });
            let ongoing =
                known.filter(|e| record.bucket_start_secs - e.last_secs < EPISODE_GAP_SECS);
            let episode = match ongoing {
                Some(episode) => {
                    let escalates = record.actual_bytes
                        >= episode.max_alerted_bytes.saturating_mul(ESCALATION_FACTOR);
                    let episode = Episode {
                        last_secs: episode.last_secs.max(record.bucket_start_secs),
                        max_alerted_bytes: if escalates {
                            record.actual_bytes
                        } else {
                            episode.max_alerted_bytes
                        },
                        ..episode
                    };
                    if escalates {
                        candidates.push((record, true));
                    } else {
                        self.alerted.insert(record.key());
                        self.joined_episode += 1;
                    }
                    episode
                }
                None => {
                    let episode = Episode {
                        start_secs: record.bucket_start_secs,
                        last_secs: record.bucket_start_secs,
                        max_alerted_bytes: record.actual_bytes,
                    };
                    candidates.push((record, false));
                    episode
                }
            };
            opened.insert(value_key, episode);
        }
        // Then the candidates with the highest scores, up to the cap; the rest wait.
        candidates.sort_by(|(a, _), (b, _)| {
            b.record_score
                .total_cmp(&a.record_score)
                .then(a.bucket_start_secs.cmp(&b.bucket_start_secs))
                .then(a.over_value.cmp(&b.over_value))
        });
        let deferred = candidates.split_off(candidates.len().min(self.config.max_alerts_per_run));
        for (record, _) in deferred {
            // A deferred record opens or escalates nothing yet: it decides again next run.
            opened.remove(&(record.job_id.clone(), record.over_value.clone()));
            waiting.push(record);
        }
        for ((job_id, over_value), episode) in opened {
            self.episodes.entry(job_id).or_default().insert(over_value, episode);
        }
        let mut alerts = Vec::with_capacity(candidates.len());
        for (record, escalation) in candidates {
            self.alerted.insert(record.key());
            let episode_start_secs = self.episodes[&record.job_id][&record.over_value].start_secs;
            alerts.push(Alerted {
                rule_run_secs: run_secs,
                record,
                episode_start_secs,
                escalation,
            });
        }
        self.pending = waiting;
        alerts.sort_by(|a, b| {
            b.record.record_score.total_cmp(&a.record.record_score).then_with(|| {
                (a.record.bucket_start_secs, &a.record.over_value)
                    .cmp(&(b.record.bucket_start_secs, &b.record.over_value))
            })
        });
        alerts
    }
}

#[cfg(test)]
mod tests;
