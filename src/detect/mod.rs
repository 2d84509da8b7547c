//! The detector: flows through normalise -> filter -> enrich -> bucket, and each closed bucket
//! through model -> score -> rule.
//!
//! [`Detector`] holds every piece of state a run needs and does no I/O. The caller feeds it
//! either one flow at a time ([`Detector::process`]) or whole batches of lines, prepared on any
//! thread by [`prepare`] and *folded* into the detector in input order ([`Detector::fold`]);
//! [`pipeline`] runs the batches of one input on several threads. Then the caller collects
//! the records and alerts produced. Its persistent part, [`DetectorState`], is what the state
//! database saves between runs.

pub mod pipeline;
pub mod prepare;

use crate::bucket::clock::{Admission, BucketClock};
use crate::bucket::{BucketAggregate, FieldValueRef};
use crate::enrich::{Enricher, GeoLocation};
use crate::filter::FlowFilter;
use crate::flow::{Flow, MICROS_PER_SEC};
use crate::job::{FlowField, JobConfig};
use crate::model::{ModelConfig, ModelSet};
use crate::normalise::Normaliser;
use crate::rule::{Alerted, RuleConfig, RuleReplay};
use crate::score::record::AnomalyRecord;
use crate::skip::{SkipCounts, SkipReason};
use prepare::{PreparedBatch, Preparer};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

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
    /// The stateless steps, shared with the pipeline's threads.
    preparer: Arc<Preparer>,
    pub(crate) normaliser: Normaliser,
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
        let job = state.job.clone();
        Detector {
            state,
            preparer: Arc::new(Preparer { filter, enricher, job, latest_plausible_secs: None }),
            normaliser: Normaliser::default(),
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
        Arc::get_mut(&mut self.preparer)
            .expect("the preparer is shared only while a pipeline runs")
            .latest_plausible_secs = Some(secs);
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
        &self.preparer.enricher
    }

    /// The stateless steps, for the threads that prepare batches.
    pub fn preparer(&self) -> Arc<Preparer> {
        Arc::clone(&self.preparer)
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
        self.preparer.check_plausible(flow)?;
        self.normaliser.normalise(flow)?;
        self.preparer.filter.check(flow)?;
        let event_secs = flow.event_micros().div_euclid(MICROS_PER_SEC);
        let bucket_start = match self.state.clock.admit(event_secs) {
            Admission::Open(start) => start,
            Admission::TooLate => return Err(SkipReason::TooLate.into()),
            Admission::AlreadyProcessed => return Err(SkipReason::AlreadyProcessed.into()),
        };
        let Some(keyed) = self.preparer.key(flow) else {
            return Err(SkipReason::OverFieldMissing.into());
        };
        let bytes_sent = keyed.evidence.bytes_sent;
        self.state
            .clock
            .bucket_mut(bucket_start)
            .partition_mut(FieldValueRef::text(&keyed.over_value))
            .add(keyed.evidence, &keyed.influencer_values);
        self.count_flows(1, bytes_sent, event_secs, event_secs);
        // The clock moves only with counted flows, so that stray timestamps on records that are
        // skipped anyway cannot close buckets early.
        let closed = self.state.clock.advance(event_secs);
        self.score(closed);
        Ok(())
    }

    fn count_flows(&mut self, flows: u64, bytes: u64, first_secs: i64, last_secs: i64) {
        let counts = &mut self.counts;
        counts.flows_counted += flows;
        counts.bytes_counted = counts.bytes_counted.saturating_add(bytes);
        counts.first_event_secs =
            Some(counts.first_event_secs.map_or(first_secs, |t| t.min(first_secs)));
        counts.last_event_secs =
            Some(counts.last_event_secs.map_or(last_secs, |t| t.max(last_secs)));
    }

    /// Folds a prepared batch in: the batch's partial aggregates join their buckets unless the
    /// clock has closed them (see [`prepare`] for why this decides every flow as
    /// [`process`](Self::process) would), then the clock moves to the batch's newest counted
    /// flow and the buckets that closes are scored. Batches of one input must be folded in
    /// input order. The bad lines are left in the batch for the caller to report.
    pub fn fold(&mut self, batch: &mut PreparedBatch) {
        self.counts.flows_read += batch.flows_read;
        self.counts.skipped.merge(&batch.skipped);
        let mut newest: Option<i64> = None;
        for (start, partial) in std::mem::take(&mut batch.partials) {
            match self.state.clock.admit(start) {
                Admission::AlreadyProcessed => {
                    self.counts.skipped.add_n(SkipReason::AlreadyProcessed, partial.all_flows());
                }
                Admission::TooLate => {
                    self.counts.skipped.add_n(SkipReason::TooLate, partial.all_flows());
                }
                Admission::Open(_) => {
                    self.counts.skipped.add_n(SkipReason::TooLate, partial.late_flows);
                    let missing = partial.over_field_missing;
                    self.counts.skipped.add_n(SkipReason::OverFieldMissing, missing);
                    if partial.flows > 0 {
                        let (first, last) = (partial.first_event_secs, partial.last_event_secs);
                        self.count_flows(partial.flows, partial.bytes_sent, first, last);
                        newest = Some(newest.map_or(last, |t| t.max(last)));
                        self.state.clock.bucket_mut(start).merge(&partial.aggregate);
                    }
                }
            }
        }
        if let Some(newest) = newest {
            let closed = self.state.clock.advance(newest);
            self.score(closed);
        }
    }

    fn score(&mut self, closed: Vec<BucketAggregate>) {
        for mut bucket in closed {
            bucket.settle();
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
pub fn field_value(field: FlowField, flow: &Flow, location: &GeoLocation) -> Option<String> {
    field_ref(field, flow, location).map(|value| value.to_string())
}

/// The value of a [location field](FlowField::is_location); `None` for the other fields and
/// when the location has no value for it.
pub fn location_field_ref(field: FlowField, location: &GeoLocation) -> Option<FieldValueRef<'_>> {
    fn text(value: &Option<String>) -> Option<FieldValueRef<'_>> {
        value.as_deref().filter(|v| !v.is_empty()).map(FieldValueRef::text)
    }
    match field {
        FlowField::CountryIsoCode => Some(FieldValueRef::text(&location.country_iso_code)),
        FlowField::CountryName => text(&location.country_name),
        FlowField::ContinentName => text(&location.continent_name),
        FlowField::RegionName => text(&location.region_name),
        FlowField::CityName => text(&location.city_name),
        _ => None,
    }
}

/// The value of a job field for a located flow, borrowed from the flow and the location; `None`
/// when the flow has no value for it. Keying a flow this way allocates nothing.
pub fn field_ref<'a>(
    field: FlowField,
    flow: &'a Flow,
    location: &'a GeoLocation,
) -> Option<FieldValueRef<'a>> {
    let text = |value: &'a Option<String>| {
        value.as_deref().filter(|v| !v.is_empty()).map(FieldValueRef::text)
    };
    match field {
        FlowField::CountryIsoCode
        | FlowField::CountryName
        | FlowField::ContinentName
        | FlowField::RegionName
        | FlowField::CityName => location_field_ref(field, location),
        FlowField::HostName => text(&flow.host_name),
        FlowField::UserName => text(&flow.user_name),
        FlowField::ProcessName => text(&flow.process_name),
        FlowField::DestinationIp => Some(FieldValueRef::Address(flow.destination_ip)),
        FlowField::SourceIp => Some(FieldValueRef::Address(flow.source_ip)),
        FlowField::DestinationPort => flow.destination_port.map(FieldValueRef::Number),
    }
}
