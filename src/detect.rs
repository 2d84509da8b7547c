//! The detector: one flow at a time through normalise -> filter -> enrich -> bucket, and each
//! closed bucket through model -> score -> rule.
//!
//! [`Detector`] holds every piece of state a run needs and does no I/O: the caller feeds it
//! flows (and skip reasons for lines it could not read), then collects the records and alerts it
//! produced. Its persistent part, [`DetectorState`], is what the state database saves between
//! runs.

use crate::bucket::clock::{Admission, BucketClock};
use crate::bucket::{BucketAggregate, FlowEvidence};
use crate::enrich::{Enricher, Located};
use crate::filter::FlowFilter;
use crate::flow::{Flow, MICROS_PER_SEC};
use crate::job::{FlowField, JobConfig};
use crate::model::{ModelConfig, ModelSet};
use crate::normalise::Normaliser;
use crate::rule::{Alerted, RuleConfig, RuleReplay};
use crate::score::record::AnomalyRecord;
use crate::skip::{SkipCounts, SkipReason};
use serde::{Deserialize, Serialize};

/// The part of a detector that outlives a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DetectorState {
    pub job: JobConfig,
    pub clock: BucketClock,
    pub models: ModelSet,
    pub rule: RuleReplay,
}

impl DetectorState {
    pub fn new(job: JobConfig, model: ModelConfig, rule: RuleConfig) -> DetectorState {
        DetectorState {
            clock: BucketClock::new(job.bucket_secs, job.allowed_lateness_secs),
            models: ModelSet::new(model),
            rule: RuleReplay::new(rule),
            job,
        }
    }
}

/// A single flow's byte count above this is a sensor glitch, not traffic: it is more than a
/// 10 Gbit/s link carries in ten days. Zeek writes 2^64 - 1 for some broken connections, and
/// one such value would swamp every total it joined.
pub const MAX_FLOW_BYTES: u64 = 1 << 50;

/// Why a flow was not counted, with a message for the user when the cause is broken input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub reason: SkipReason,
    /// Set for broken input: what is wrong, naming the field and value.
    pub message: Option<String>,
}

impl From<SkipReason> for Rejection {
    fn from(reason: SkipReason) -> Rejection {
        Rejection { reason, message: None }
    }
}

/// Totals of one run, for the summary.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunCounts {
    /// Flows that the readers produced.
    pub flows_read: u64,
    /// Flows that passed every step and were added to a bucket.
    pub flows_counted: u64,
    pub bytes_counted: u64,
    pub skipped: SkipCounts,
    pub buckets_closed: u64,
    /// Records scored (one per over value with traffic per closed bucket).
    pub records_scored: u64,
    pub first_event_secs: Option<i64>,
    pub last_event_secs: Option<i64>,
}

/// Runs flows through the pipeline.
pub struct Detector {
    pub state: DetectorState,
    filter: FlowFilter,
    enricher: Enricher,
    normaliser: Normaliser,
    /// Flows whose time lies beyond this are rejected as bad timestamps; see
    /// [`Detector::with_latest_plausible_secs`].
    latest_plausible_secs: Option<i64>,
    pub counts: RunCounts,
    /// Records with a score above zero, not yet collected by the caller.
    records: Vec<AnomalyRecord>,
    alerts: Vec<Alerted>,
    /// Closed buckets kept for the caller when [`Detector::keep_closed_buckets`] was called.
    closed_buckets: Option<Vec<BucketAggregate>>,
}

impl Detector {
    pub fn new(state: DetectorState, filter: FlowFilter, enricher: Enricher) -> Detector {
        let mut state = state;
        state.clock.begin_run();
        Detector {
            state,
            filter,
            enricher,
            normaliser: Normaliser::default(),
            latest_plausible_secs: None,
            counts: RunCounts::default(),
            records: Vec::new(),
            alerts: Vec::new(),
            closed_buckets: None,
        }
    }

    /// Rejects flows timed after `secs`. The data's clock only moves forward, so one record
    /// dated years ahead would close every open bucket and, saved in the state, make all real
    /// data look late from then on; the caller passes the wall-clock time plus a margin.
    pub fn with_latest_plausible_secs(mut self, secs: i64) -> Detector {
        self.latest_plausible_secs = Some(secs);
        self
    }

    /// Keeps every closed bucket's totals for [`take_closed_buckets`](Self::take_closed_buckets),
    /// so that other scorers (the evaluation's comparators) judge exactly the same totals.
    pub fn keep_closed_buckets(mut self) -> Detector {
        self.closed_buckets = Some(Vec::new());
        self
    }

    /// Buckets closed since the last call, oldest first (empty unless kept).
    pub fn take_closed_buckets(&mut self) -> Vec<BucketAggregate> {
        self.closed_buckets.as_mut().map(std::mem::take).unwrap_or_default()
    }

    pub fn enricher(&self) -> &Enricher {
        &self.enricher
    }

    /// Counts an input line that could not become a flow.
    pub fn skip(&mut self, reason: SkipReason) {
        self.counts.skipped.add(reason);
    }

    /// Takes one flow through normalise, filter, enrich and bucket.
    pub fn process(&mut self, mut flow: Flow) -> Result<(), Rejection> {
        let result = self.admit(&mut flow);
        // A flow rejected with a message was broken input: it counts as a bad line, not as a
        // flow read, so that the summary's totals add up.
        if !matches!(&result, Err(Rejection { message: Some(_), .. })) {
            self.counts.flows_read += 1;
        }
        if let Err(rejection) = &result {
            self.counts.skipped.add(rejection.reason);
        }
        result
    }

    fn admit(&mut self, flow: &mut Flow) -> Result<(), Rejection> {
        let event_secs = flow.event_micros().div_euclid(MICROS_PER_SEC);
        if self.latest_plausible_secs.is_some_and(|latest| event_secs > latest) {
            return Err(Rejection {
                reason: SkipReason::BadTimestamp,
                message: Some(format!(
                    "flow time {} lies in the future; check the sensor's clock",
                    crate::output::units::iso_time(event_secs)
                )),
            });
        }
        if let Some(bytes) = flow.bytes_sent.filter(|&b| b > MAX_FLOW_BYTES) {
            return Err(Rejection {
                reason: SkipReason::BadValue,
                message: Some(format!(
                    "bytes sent {bytes} is more than any single flow carries (limit \
                     {MAX_FLOW_BYTES}); a sensor glitch"
                )),
            });
        }
        self.normaliser.normalise(flow)?;
        self.filter.check(flow)?;
        let bucket_start = match self.state.clock.admit(event_secs) {
            Admission::Open(start) => start,
            Admission::TooLate => return Err(SkipReason::TooLate.into()),
            Admission::AlreadyProcessed => return Err(SkipReason::AlreadyProcessed.into()),
        };
        let located = self.enricher.locate(flow);
        let job = &self.state.job;
        let Some(over_value) = field_value(job.over_field, flow, &located) else {
            return Err(SkipReason::OverFieldMissing.into());
        };
        let influencer_values: Vec<(FlowField, String)> = job
            .influencers
            .iter()
            .filter_map(|&field| field_value(field, flow, &located).map(|v| (field, v)))
            .collect();
        let bytes_sent = flow.bytes_sent.unwrap_or(0);
        let evidence = FlowEvidence {
            start_micros: flow.start_micros,
            source_ip: flow.source_ip,
            destination_ip: flow.destination_ip,
            destination_port: flow.destination_port,
            transport: flow.transport.clone(),
            bytes_sent,
            host_name: flow.host_name.clone(),
            process_name: flow.process_name.clone(),
        };
        self.state
            .clock
            .bucket_mut(bucket_start)
            .partition_mut(&over_value)
            .add(evidence, &influencer_values);
        self.counts.flows_counted += 1;
        self.counts.bytes_counted = self.counts.bytes_counted.saturating_add(bytes_sent);
        self.counts.first_event_secs =
            Some(self.counts.first_event_secs.map_or(event_secs, |t| t.min(event_secs)));
        self.counts.last_event_secs =
            Some(self.counts.last_event_secs.map_or(event_secs, |t| t.max(event_secs)));
        // The clock moves only with counted flows, so that stray timestamps on records that are
        // skipped anyway cannot close buckets early.
        let closed = self.state.clock.advance(event_secs);
        self.score(closed);
        Ok(())
    }

    fn score(&mut self, closed: Vec<BucketAggregate>) {
        for bucket in closed {
            self.counts.buckets_closed += 1;
            let available = self.state.clock.close_time(bucket.bucket_start_secs);
            let records = self.state.models.process_bucket(&self.state.job, &bucket, available);
            self.counts.records_scored += records.len() as u64;
            for record in records {
                self.alerts.extend(self.state.rule.offer(&record));
                if record.record_score > 0.0 {
                    self.records.push(record);
                }
            }
            if let Some(kept) = self.closed_buckets.as_mut() {
                kept.push(bucket);
            }
        }
    }

    /// Ends the input. With `flush`, every open bucket is closed and scored now, and the rule
    /// runs until no record can alert any more; without it, open buckets wait for a later run.
    pub fn finish(&mut self, flush: bool) {
        if flush {
            let closed = self.state.clock.flush();
            self.score(closed);
            let drained = self.state.rule.drain();
            self.alerts.extend(drained);
        } else if let Some(max) = self.state.clock.max_event_secs() {
            // Run the rule as far as the data's clock has gone.
            let ran = self.state.rule.run_until(max);
            self.alerts.extend(ran);
        }
    }

    /// True when records or alerts wait to be taken.
    pub fn has_output(&self) -> bool {
        !self.records.is_empty() || !self.alerts.is_empty()
    }

    /// Records with a score above zero produced since the last call.
    pub fn take_records(&mut self) -> Vec<AnomalyRecord> {
        std::mem::take(&mut self.records)
    }

    /// Alerts produced since the last call.
    pub fn take_alerts(&mut self) -> Vec<Alerted> {
        std::mem::take(&mut self.alerts)
    }
}

/// The value of a job field for a located flow, if it has one.
pub fn field_value(field: FlowField, flow: &Flow, located: &Located) -> Option<String> {
    let location = &located.location;
    let non_empty = |s: &Option<String>| s.as_ref().filter(|v| !v.is_empty()).cloned();
    match field {
        FlowField::CountryIsoCode => Some(location.country_iso_code.clone()),
        FlowField::CountryName => non_empty(&location.country_name),
        FlowField::ContinentName => non_empty(&location.continent_name),
        FlowField::RegionName => non_empty(&location.region_name),
        FlowField::CityName => non_empty(&location.city_name),
        FlowField::DestinationIp => Some(flow.destination_ip.to_string()),
        FlowField::DestinationPort => flow.destination_port.map(|p| p.to_string()),
        FlowField::SourceIp => Some(flow.source_ip.to_string()),
        FlowField::HostName => non_empty(&flow.host_name),
        FlowField::UserName => non_empty(&flow.user_name),
        FlowField::ProcessName => non_empty(&flow.process_name),
    }
}
