//! Preparing a batch of lines: the part of the detector that any thread can do.
//!
//! A *prepared batch* is what the lines of one [`LineBatch`] add to the detector, worked out
//! without the detector's state: the bad lines with their numbers, skip counts by reason, and
//! one *partial aggregate* per bucket, the totals of the batch's flows in that bucket. It is
//! built in three steps:
//! 1. [`Preparer::parse`]: lines to flows, and the checks that reject a flow as broken input;
//! 2. [`ParsedBatch::normalise`]: duplicates and interim reports ([`Normaliser`]). This is the
//!    one step that depends on the flows of earlier batches, so the pipeline runs it for one
//!    batch at a time, in input order;
//! 3. [`Preparer::aggregate`]: the flow filter, GeoIP, and the partial aggregates.
//!
//! Step 3 also applies the clock as far as the batch itself can tell. A flow is too late when
//! a flow counted before it has closed its bucket. Before folding, the detector's clock stands
//! at the newest flow of the earlier batches, and a flow of this batch is late when either
//! that or an earlier flow of this batch has closed its bucket. The second case is decided
//! here (the flow is counted as late in its partial); the first depends only on the bucket,
//! so the detector decides it for each partial as a whole when it folds the batch in (see
//! [`Detector::fold`](super::Detector::fold)). Flows of this batch that the fold then turns
//! away lie before the clock's newest flow, so counting them in the batch's own clock changes
//! none of its decisions: the fold gives the same answer for every flow as reading the input
//! one flow at a time.

use super::{field_ref, field_value, location_field_ref, Rejection, MAX_FLOW_BYTES};
use crate::bucket::{BucketAggregate, FlowEvidence};
use crate::enrich::{Enricher, LocalLocations};
use crate::filter::FlowFilter;
use crate::flow::{Flow, MICROS_PER_SEC};
use crate::job::{FlowField, JobConfig};
use crate::normalise::Normaliser;
use crate::read::source::LineBatch;
use crate::read::LineOutcome;
use crate::skip::{SkipCounts, SkipReason};
use std::collections::BTreeMap;

/// A line that was not read, as the user will see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLine {
    pub line: u64,
    pub reason: SkipReason,
    pub message: String,
}

/// A flow that needs nothing from the detector's state to be placed in a bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyedFlow {
    /// Event time in whole seconds: the time the flow is counted at.
    pub event_secs: i64,
    pub over_value: String,
    pub influencer_values: Vec<(FlowField, String)>,
    pub evidence: FlowEvidence,
}

/// What a batch adds to one bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketPartial {
    pub aggregate: BucketAggregate,
    /// Flows in `aggregate`.
    pub flows: u64,
    pub bytes_sent: u64,
    /// Event times of the first and last flow in `aggregate` (meaningless while `flows` is 0).
    pub first_event_secs: i64,
    pub last_event_secs: i64,
    /// Flows of this bucket that came after an earlier flow of the batch had closed it.
    pub late_flows: u64,
    /// Flows of this bucket whose over field had no value.
    pub over_field_missing: u64,
}

impl BucketPartial {
    fn new(bucket_start_secs: i64) -> BucketPartial {
        BucketPartial {
            aggregate: BucketAggregate::new(bucket_start_secs),
            flows: 0,
            bytes_sent: 0,
            first_event_secs: i64::MAX,
            last_event_secs: i64::MIN,
            late_flows: 0,
            over_field_missing: 0,
        }
    }

    /// Every flow the partial accounts for, counted or not.
    pub fn all_flows(&self) -> u64 {
        self.flows + self.late_flows + self.over_field_missing
    }
}

/// A batch after step 1: its flows, and what was not a flow.
#[derive(Debug, Default)]
pub struct ParsedBatch {
    pub last_line: u64,
    pub flows: Vec<Flow>,
    pub bad_lines: Vec<BadLine>,
    /// Flows the readers produced that were not broken input.
    pub flows_read: u64,
    /// Reasons for records that do not count, except the clock's (decided at the fold).
    pub skipped: SkipCounts,
}

impl ParsedBatch {
    /// True when a flow of the batch carries a sensor identity, the only flows the normaliser
    /// looks at.
    pub fn needs_normalising(&self) -> bool {
        self.flows.iter().any(has_identity)
    }

    /// Step 2: drops duplicates and turns running totals into increases. Only flows that
    /// carry a sensor identity need the normaliser, so most batches pass straight through.
    pub fn normalise(&mut self, normaliser: &mut Normaliser) {
        let skipped = &mut self.skipped;
        self.flows.retain_mut(|flow| {
            if !has_identity(flow) {
                return true;
            }
            match normaliser.normalise(flow) {
                Ok(()) => true,
                Err(reason) => {
                    skipped.add(reason);
                    false
                }
            }
        });
    }
}

fn has_identity(flow: &Flow) -> bool {
    flow.community_id.is_some() || flow.flow_id.is_some()
}

/// A batch ready to be folded into the detector.
#[derive(Debug, Default)]
pub struct PreparedBatch {
    pub last_line: u64,
    pub bad_lines: Vec<BadLine>,
    pub flows_read: u64,
    pub skipped: SkipCounts,
    /// Partial aggregates by bucket start.
    pub partials: BTreeMap<i64, BucketPartial>,
}

/// A flow as it is shown in evidence.
fn evidence_of(flow: &Flow) -> FlowEvidence {
    FlowEvidence {
        start_micros: flow.start_micros,
        source_ip: flow.source_ip,
        destination_ip: flow.destination_ip,
        destination_port: flow.destination_port,
        transport: flow.transport.clone(),
        bytes_sent: flow.bytes_sent.unwrap_or(0),
        host_name: flow.host_name.clone(),
        process_name: flow.process_name.clone(),
    }
}

/// The stateless steps of the pipeline, shared by every thread of a run.
#[derive(Debug)]
pub struct Preparer {
    pub filter: FlowFilter,
    pub enricher: Enricher,
    pub job: JobConfig,
    /// Flows whose time lies beyond this are rejected as bad timestamps.
    pub latest_plausible_secs: Option<i64>,
}

impl Preparer {
    /// Rejects a flow that cannot be real: dated in the future, or carrying more bytes than a
    /// flow can. Such a flow is broken input and is reported as a bad line.
    pub fn check_plausible(&self, flow: &Flow) -> Result<(), Rejection> {
        let event_secs = flow.event_micros().div_euclid(MICROS_PER_SEC);
        // Captures with relative time start at 1970; nothing is older. A negative time is a
        // sign error, and as a run's first flow it would set the job's first bucket decades
        // before every other.
        if flow.start_micros < 0 {
            return Err(Rejection {
                reason: SkipReason::BadTimestamp,
                message: Some(format!(
                    "flow time {} lies before 1970",
                    crate::output::units::iso_time(flow.start_micros.div_euclid(MICROS_PER_SEC))
                )),
            });
        }
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
        Ok(())
    }

    /// Locates a flow and takes the job's fields from it; `None` when the over field has no
    /// value for it.
    pub fn key(&self, flow: &Flow) -> Option<KeyedFlow> {
        let located = self.enricher.locate(flow);
        let over_value = field_value(self.job.over_field, flow, &located.location)?;
        let influencer_values = self
            .job
            .influencers
            .iter()
            .filter_map(|&field| field_value(field, flow, &located.location).map(|v| (field, v)))
            .collect();
        let evidence = evidence_of(flow);
        let event_secs = flow.event_micros().div_euclid(MICROS_PER_SEC);
        Some(KeyedFlow { event_secs, over_value, influencer_values, evidence })
    }

    /// Step 1: parses the batch's lines.
    pub fn parse(&self, batch: LineBatch) -> ParsedBatch {
        // Room for every line at once: a flow is a few hundred bytes, and growing the vector
        // step by step would copy each one several times.
        let flows = Vec::with_capacity(batch.line_count() as usize);
        let mut parsed = ParsedBatch { last_line: batch.last_line(), flows, ..Default::default() };
        batch.parse(|line, result| match result {
            Ok(LineOutcome::Flow(flow)) => match self.check_plausible(&flow) {
                Ok(()) => {
                    parsed.flows_read += 1;
                    parsed.flows.push(flow);
                }
                Err(rejection) => {
                    let message = rejection.message.unwrap_or_default();
                    parsed.skipped.add(rejection.reason);
                    parsed.bad_lines.push(BadLine { line, reason: rejection.reason, message });
                }
            },
            Ok(LineOutcome::Ignored) => {}
            Ok(LineOutcome::NotAFlow) => parsed.skipped.add(SkipReason::NotAFlow),
            Err(error) => {
                parsed.skipped.add(error.reason);
                let message = error.to_string();
                parsed.bad_lines.push(BadLine { line, reason: error.reason, message });
            }
        });
        parsed
    }

    /// Step 3: filters the normalised flows and adds them to per-bucket partial aggregates.
    /// The influencer fields of the destination's place (country, continent, region, city) are
    /// counted by place number as flows come and added once per place at the end of the batch
    /// (see [`PartitionBucket::place_bytes`](crate::bucket::PartitionBucket::place_bytes)).
    /// `locations` is the calling thread's own GeoIP cache (see [`Enricher::locate_local`]);
    /// its counts are added to the enricher's before the batch is handed on.
    pub fn aggregate(&self, parsed: ParsedBatch, locations: &mut LocalLocations) -> PreparedBatch {
        let ParsedBatch { last_line, flows, bad_lines, flows_read, mut skipped } = parsed;
        let bucket_secs = self.job.bucket_secs;
        let bucket_start = |secs: i64| secs.div_euclid(bucket_secs) * bucket_secs;
        let mut partials: BTreeMap<i64, BucketPartial> = BTreeMap::new();
        // Every bucket before this one was closed by a flow of this batch.
        let mut closed_before: Option<i64> = None;
        // Fields of the place are totalled by place number and added at the end of the batch.
        let (place_fields, flow_fields): (Vec<FlowField>, Vec<FlowField>) =
            self.job.influencers.iter().partition(|field| field.is_location());
        locations.start_batch();
        // By reference: a flow is a few hundred bytes, not worth moving once more.
        for flow in &flows {
            if let Err(reason) = self.filter.check(flow) {
                skipped.add(reason);
                continue;
            }
            let event_secs = flow.event_micros().div_euclid(MICROS_PER_SEC);
            let start = bucket_start(event_secs);
            let partial = partials.entry(start).or_insert_with(|| BucketPartial::new(start));
            if closed_before.is_some_and(|closed| start < closed) {
                partial.late_flows += 1;
                continue;
            }
            let place = self.enricher.locate_local(flow, locations);
            let location = locations.place(place);
            let Some(over_value) = field_ref(self.job.over_field, flow, location) else {
                partial.over_field_missing += 1;
                continue;
            };
            let bytes = flow.bytes_sent.unwrap_or(0);
            let values = flow_fields
                .iter()
                .filter_map(|&field| field_ref(field, flow, location).map(|value| (field, value)));
            let partition = partial.aggregate.partition_mut(over_value);
            partition.add_flow(bytes, values, || evidence_of(flow));
            if !place_fields.is_empty() {
                partition.add_place_bytes(place, bytes);
            }
            partial.flows += 1;
            partial.bytes_sent = partial.bytes_sent.saturating_add(bytes);
            partial.first_event_secs = partial.first_event_secs.min(event_secs);
            partial.last_event_secs = partial.last_event_secs.max(event_secs);
            let horizon = bucket_start(event_secs - self.job.allowed_lateness_secs.max(0));
            closed_before = Some(closed_before.map_or(horizon, |closed| closed.max(horizon)));
        }
        let partitions = partials.values_mut().flat_map(|p| p.aggregate.partitions.values_mut());
        for partition in partitions {
            for (place, bytes) in partition.take_place_bytes() {
                let location = locations.place(place);
                for &field in &place_fields {
                    if let Some(value) = location_field_ref(field, location) {
                        partition.add_influencer(field, value, bytes);
                    }
                }
            }
        }
        self.enricher.settle(locations);
        PreparedBatch { last_line, bad_lines, flows_read, skipped, partials }
    }
}
