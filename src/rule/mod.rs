//! The rule: which records become alerts, and when.
//!
//! A *rule run* at time `t` looks at the records whose bucket starts within
//! `[t - lookback_secs, t]` and that were available by `t`, and emits an *alert* for each with a
//! record score at or above the threshold that has not been alerted before, at most
//! `max_alerts_per_run` per run, highest scores first. Runs happen every `interval_secs` on the
//! data's own clock, as if the rule had been running while the data was collected. A record left
//! over by the per-run cap is picked up by a later run while it is still inside the look-back.

use crate::score::record::AnomalyRecord;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

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
}

impl RuleReplay {
    pub fn new(config: RuleConfig) -> RuleReplay {
        RuleReplay { config, last_run_secs: None, pending: Vec::new(), alerted: BTreeSet::new() }
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
        let mut eligible: Vec<usize> = (0..self.pending.len())
            .filter(|&i| {
                let r = &self.pending[i];
                r.available_secs <= run_secs && r.bucket_start_secs <= run_secs
            })
            .collect();
        eligible.sort_by(|&a, &b| {
            let (ra, rb) = (&self.pending[a], &self.pending[b]);
            rb.record_score
                .total_cmp(&ra.record_score)
                .then(ra.bucket_start_secs.cmp(&rb.bucket_start_secs))
                .then(ra.over_value.cmp(&rb.over_value))
        });
        eligible.truncate(self.config.max_alerts_per_run);
        eligible.sort_unstable();
        let mut alerts = Vec::with_capacity(eligible.len());
        for index in eligible.into_iter().rev() {
            let record = self.pending.swap_remove(index);
            self.alerted.insert(record.key());
            alerts.push(Alerted { rule_run_secs: run_secs, record });
        }
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
