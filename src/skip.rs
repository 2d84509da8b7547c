//! Why a record did not count, and the tally of those reasons.
//!
//! Nothing is dropped silently: every input line that does not end up in a bucket total is
//! counted under exactly one [`SkipReason`], and the run summary prints the counts.

use std::collections::BTreeMap;
use std::fmt;

/// The one reason a record was not counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SkipReason {
    // Input that could not be read as a record at all.
    /// The line is not valid for its format (bad JSON, wrong column count).
    MalformedLine,
    /// A required field is absent.
    MissingField,
    /// A field holds a value of the wrong type or out of range.
    BadValue,
    /// An address field does not parse as an IP address.
    BadAddress,
    /// A timestamp field does not parse.
    BadTimestamp,
    /// The compressed stream or file ended in the middle of a record.
    TruncatedInput,
    /// A line longer than the reader's limit.
    LineTooLong,
    // Records that are valid but are not flows.
    /// A valid event of another kind (Suricata `alert`, `dns`; ECS non-network events).
    NotAFlow,
    // Flows left out by the input filter.
    /// The source is not an internal address.
    SourceNotInternal,
    /// The destination is private, loopback, multicast or another non-public range.
    DestinationNotPublic,
    /// The sensor marked the flow as inbound or internal.
    DirectionNotOutbound,
    /// The source sent no bytes.
    ZeroBytesSent,
    /// The sensor left the byte count unset (Zeek `-`); counted as zero bytes.
    BytesUnknown,
    /// The flow came from a log collector's own process (filebeat, elastic-agent, ...).
    CollectorProcess,
    /// The same flow was already counted from another sensor or an earlier report.
    Duplicate,
    /// The flow's bucket had already closed when it arrived (later than the allowed lateness).
    TooLate,
    /// The flow belongs to input that an earlier run already processed.
    AlreadyProcessed,
    /// The flow has no value for the job's over field (no region in a country-only database).
    OverFieldMissing,
}

impl SkipReason {
    /// Every reason, in the order the run summary prints them.
    pub const ALL: [SkipReason; 18] = [
        SkipReason::MalformedLine,
        SkipReason::MissingField,
        SkipReason::BadValue,
        SkipReason::BadAddress,
        SkipReason::BadTimestamp,
        SkipReason::TruncatedInput,
        SkipReason::LineTooLong,
        SkipReason::NotAFlow,
        SkipReason::SourceNotInternal,
        SkipReason::DestinationNotPublic,
        SkipReason::DirectionNotOutbound,
        SkipReason::ZeroBytesSent,
        SkipReason::BytesUnknown,
        SkipReason::CollectorProcess,
        SkipReason::Duplicate,
        SkipReason::TooLate,
        SkipReason::AlreadyProcessed,
        SkipReason::OverFieldMissing,
    ];

    /// Stable snake_case name used in summaries, JSON and the state database.
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::MalformedLine => "malformed_line",
            SkipReason::MissingField => "missing_field",
            SkipReason::BadValue => "bad_value",
            SkipReason::BadAddress => "bad_address",
            SkipReason::BadTimestamp => "bad_timestamp",
            SkipReason::TruncatedInput => "truncated_input",
            SkipReason::LineTooLong => "line_too_long",
            SkipReason::NotAFlow => "not_a_flow",
            SkipReason::SourceNotInternal => "source_not_internal",
            SkipReason::DestinationNotPublic => "destination_not_public",
            SkipReason::DirectionNotOutbound => "direction_not_outbound",
            SkipReason::ZeroBytesSent => "zero_bytes_sent",
            SkipReason::BytesUnknown => "bytes_unknown",
            SkipReason::CollectorProcess => "collector_process",
            SkipReason::Duplicate => "duplicate",
            SkipReason::TooLate => "too_late",
            SkipReason::AlreadyProcessed => "already_processed",
            SkipReason::OverFieldMissing => "over_field_missing",
        }
    }

    /// True for reasons that mean the input itself was broken, as opposed to valid records
    /// that the job's filter leaves out on purpose. Broken input changes the exit code.
    pub fn is_bad_input(self) -> bool {
        matches!(
            self,
            SkipReason::MalformedLine
                | SkipReason::MissingField
                | SkipReason::BadValue
                | SkipReason::BadAddress
                | SkipReason::BadTimestamp
                | SkipReason::TruncatedInput
                | SkipReason::LineTooLong
        )
    }
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Counts of skipped records per reason. Mergeable, so partial tallies add up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SkipCounts {
    counts: BTreeMap<SkipReason, u64>,
}

impl SkipCounts {
    pub fn add(&mut self, reason: SkipReason) {
        self.add_n(reason, 1);
    }

    pub fn add_n(&mut self, reason: SkipReason, n: u64) {
        if n > 0 {
            *self.counts.entry(reason).or_insert(0) += n;
        }
    }

    pub fn get(&self, reason: SkipReason) -> u64 {
        self.counts.get(&reason).copied().unwrap_or(0)
    }

    pub fn merge(&mut self, other: &SkipCounts) {
        for (&reason, &n) in &other.counts {
            self.add_n(reason, n);
        }
    }

    /// Non-zero counts in summary order.
    pub fn iter(&self) -> impl Iterator<Item = (SkipReason, u64)> + '_ {
        self.counts.iter().map(|(&r, &n)| (r, n))
    }

    pub fn total(&self) -> u64 {
        self.counts.values().sum()
    }

    /// Records that were skipped because the input was broken.
    pub fn bad_input_total(&self) -> u64 {
        self.iter().filter(|(r, _)| r.is_bad_input()).map(|(_, n)| n).sum()
    }
}
