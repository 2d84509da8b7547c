//! The event-time clock that decides when a bucket is complete.
//!
//! The *watermark* is the latest event time seen minus the allowed lateness. A bucket closes
//! once the watermark passes its end: from then on its totals are final and it can be scored.
//! A flow that belongs to a closed bucket is counted as too late (or as already processed when
//! the bucket was closed by an earlier run) and left out. End of input does not close a bucket:
//! a later run over newer data continues the open ones, unless the caller flushes them.

use super::BucketAggregate;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Where a flow with a given event time goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Into the open bucket starting at this time.
    Open(i64),
    /// Its bucket was closed during this run.
    TooLate,
    /// Its bucket was closed by an earlier run: this input was seen before.
    AlreadyProcessed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketClock {
    bucket_secs: i64,
    allowed_lateness_secs: i64,
    /// Latest event time seen.
    max_event_secs: Option<i64>,
    /// Every bucket that starts before this time is closed.
    closed_before_secs: Option<i64>,
    /// `closed_before_secs` as it was when this run started.
    #[serde(skip)]
    closed_before_at_start: Option<i64>,
    open: BTreeMap<i64, BucketAggregate>,
}

impl BucketClock {
    pub fn new(bucket_secs: i64, allowed_lateness_secs: i64) -> BucketClock {
        assert!(bucket_secs > 0, "bucket span must be positive");
        BucketClock {
            bucket_secs,
            allowed_lateness_secs: allowed_lateness_secs.max(0),
            max_event_secs: None,
            closed_before_secs: None,
            closed_before_at_start: None,
            open: BTreeMap::new(),
        }
    }

    /// Marks the start of a run: buckets closed so far count as processed by earlier runs.
    pub fn begin_run(&mut self) {
        self.closed_before_at_start = self.closed_before_secs;
    }

    pub fn bucket_start(&self, secs: i64) -> i64 {
        secs.div_euclid(self.bucket_secs) * self.bucket_secs
    }

    /// When a bucket starting at `start_secs` closes on a clock that runs with the data: its end
    /// plus the allowed lateness.
    pub fn close_time(&self, start_secs: i64) -> i64 {
        start_secs + self.bucket_secs + self.allowed_lateness_secs
    }

    pub fn max_event_secs(&self) -> Option<i64> {
        self.max_event_secs
    }

    pub fn closed_before_secs(&self) -> Option<i64> {
        self.closed_before_secs
    }

    pub fn open_bucket_count(&self) -> usize {
        self.open.len()
    }

    /// Moves the clock to an event at `event_secs` and returns the buckets that this closes,
    /// oldest first. Call before [`admit`](Self::admit) for the same event.
    pub fn advance(&mut self, event_secs: i64) -> Vec<BucketAggregate> {
        if self.max_event_secs.is_some_and(|max| max >= event_secs) {
            return Vec::new();
        }
        self.max_event_secs = Some(event_secs);
        let watermark = event_secs - self.allowed_lateness_secs;
        // The bucket holding the watermark is still open; every earlier one has ended.
        let horizon = self.bucket_start(watermark);
        if self.closed_before_secs.is_some_and(|closed| closed >= horizon) {
            return Vec::new();
        }
        self.closed_before_secs = Some(horizon);
        let still_open = self.open.split_off(&horizon);
        let closed = std::mem::replace(&mut self.open, still_open);
        closed.into_values().collect()
    }

    /// Decides where an event at `event_secs` goes.
    pub fn admit(&self, event_secs: i64) -> Admission {
        let start = self.bucket_start(event_secs);
        if self.closed_before_at_start.is_some_and(|closed| start < closed) {
            Admission::AlreadyProcessed
        } else if self.closed_before_secs.is_some_and(|closed| start < closed) {
            Admission::TooLate
        } else {
            Admission::Open(start)
        }
    }

    /// The open bucket starting at `start_secs`, created on first use.
    pub fn bucket_mut(&mut self, start_secs: i64) -> &mut BucketAggregate {
        self.open.entry(start_secs).or_insert_with(|| BucketAggregate::new(start_secs))
    }

    /// Closes every open bucket, as at the end of input with no later run to continue them.
    pub fn flush(&mut self) -> Vec<BucketAggregate> {
        if let Some(last) = self.open.keys().next_back() {
            let horizon = last + self.bucket_secs;
            self.closed_before_secs =
                Some(self.closed_before_secs.map_or(horizon, |c| c.max(horizon)));
        }
        std::mem::take(&mut self.open).into_values().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3600;

    #[test]
    fn a_bucket_closes_when_the_watermark_passes_its_end() {
        let mut clock = BucketClock::new(3 * HOUR, HOUR);
        assert!(clock.advance(0).is_empty());
        clock.bucket_mut(0);
        // 3 h 59 min: watermark 2 h 59 min, bucket [0, 3 h) still open.
        assert!(clock.advance(4 * HOUR - 60).is_empty());
        assert_eq!(clock.admit(3 * HOUR - 1), Admission::Open(0));
        // 4 h: watermark 3 h, the first bucket closes.
        let closed = clock.advance(4 * HOUR);
        assert_eq!(closed.iter().map(|b| b.bucket_start_secs).collect::<Vec<_>>(), vec![0]);
        assert_eq!(clock.admit(3 * HOUR - 1), Admission::TooLate);
        assert_eq!(clock.admit(3 * HOUR), Admission::Open(3 * HOUR));
        assert_eq!(clock.close_time(0), 4 * HOUR);
    }

    #[test]
    fn time_going_backwards_closes_nothing() {
        let mut clock = BucketClock::new(3 * HOUR, 0);
        clock.bucket_mut(0);
        clock.advance(2 * HOUR);
        assert!(clock.advance(HOUR).is_empty());
        assert_eq!(clock.max_event_secs(), Some(2 * HOUR));
    }

    #[test]
    fn a_gap_closes_every_bucket_before_it_in_order() {
        let mut clock = BucketClock::new(3 * HOUR, 0);
        for start in [0, 3 * HOUR, 9 * HOUR] {
            clock.bucket_mut(start);
        }
        let closed = clock.advance(100 * HOUR);
        let starts: Vec<_> = closed.iter().map(|b| b.bucket_start_secs).collect();
        assert_eq!(starts, vec![0, 3 * HOUR, 9 * HOUR]);
        assert_eq!(clock.open_bucket_count(), 0);
    }

    #[test]
    fn buckets_closed_by_an_earlier_run_count_as_already_processed() {
        let mut clock = BucketClock::new(3 * HOUR, 0);
        clock.begin_run();
        clock.bucket_mut(0);
        clock.advance(7 * HOUR);
        assert_eq!(clock.admit(HOUR), Admission::TooLate);
        clock.begin_run();
        assert_eq!(clock.admit(HOUR), Admission::AlreadyProcessed);
        assert_eq!(clock.admit(4 * HOUR), Admission::AlreadyProcessed);
        assert_eq!(clock.admit(6 * HOUR), Admission::Open(6 * HOUR));
        clock.advance(10 * HOUR);
        assert_eq!(clock.admit(7 * HOUR), Admission::TooLate);
    }

    #[test]
    fn flush_closes_the_open_buckets_and_later_events_for_them_are_late() {
        let mut clock = BucketClock::new(3 * HOUR, HOUR);
        clock.advance(HOUR);
        clock.bucket_mut(0);
        let flushed = clock.flush();
        assert_eq!(flushed.len(), 1);
        assert_eq!(clock.admit(2 * HOUR), Admission::TooLate);
        assert_eq!(clock.admit(3 * HOUR), Admission::Open(3 * HOUR));
    }
}
