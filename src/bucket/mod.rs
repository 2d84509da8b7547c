//! Bucketing: flows to per-bucket totals per over value.
//!
//! A *bucket* is the interval `[start, start + bucket_secs)` of event time. For every over value
//! (a country code, a region, an address or a port, depending on the job) a bucket holds a
//! [`PartitionBucket`]: the total bytes sent, the bytes carried by each influencer value, and the
//! largest flows as evidence. Aggregates are plain sums, so partial aggregates built on different
//! threads or machines [`merge`](BucketAggregate::merge) into the same totals in any order.
//!
//! One exception: past [`MAX_INFLUENCER_VALUES`] values of one influencer field, each partial
//! pools its smallest values, so which values end up pooled, and how many bytes a value keeps
//! by name, can depend on how the flows were split (totals, flow counts and the largest flows
//! never do). A run cuts its input into the same batches at any thread count, so its results
//! do not depend on the number of threads; shards split differently could differ in those
//! pooled bytes.
//!
//! [`clock`] decides when a bucket is complete: by event time, never by the end of a file.

pub mod clock;
pub mod value;

use crate::job::FlowField;
use serde::{Deserialize, Serialize, Serializer};
use std::borrow::Cow;
use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::net::IpAddr;
pub use value::{FieldValue, FieldValueRef};

/// The maps looked up once per flow: a fast hash keyed at random (values come from the logs, so
/// an attacker must not be able to choose colliding ones), and lookups by borrowed values.
pub type ValueMap<V> = hashbrown::HashMap<FieldValue, V, ahash::RandomState>;

/// Largest flows kept per bucket and over value as evidence for the analyst. Five is what fits
/// in an alert without burying the explanation.
pub const TOP_FLOWS_PER_PARTITION: usize = 5;

/// Distinct values tracked per influencer field, per bucket and over value. Past this, the
/// smallest values' bytes are pooled as overflow (and counted) so that a scan over millions of
/// addresses cannot exhaust memory; the values that carry an anomaly are the large ones, and they
/// are kept. While flows are added and partial aggregates merged a map may hold up to twice as
/// many, so that pooling happens once per [`MAX_INFLUENCER_VALUES`] new values rather than on
/// every one; a closed bucket is [settled](BucketAggregate::settle) to the limit.
pub const MAX_INFLUENCER_VALUES: usize = 512;

/// One flow as it appears in evidence: enough to find it again in the sensor's logs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowEvidence {
    pub start_micros: i64,
    pub source_ip: IpAddr,
    pub destination_ip: IpAddr,
    pub destination_port: Option<u16>,
    pub transport: Option<Cow<'static, str>>,
    pub bytes_sent: u64,
    pub host_name: Option<String>,
    pub process_name: Option<String>,
}

impl FlowEvidence {
    /// Larger flows first; ties broken by every other field so the order is total and merges
    /// are independent of arrival order.
    fn rank_key(&self) -> impl Ord + '_ {
        (
            Reverse(self.bytes_sent),
            self.start_micros,
            self.source_ip,
            self.destination_ip,
            self.destination_port,
            &self.transport,
            &self.host_name,
            &self.process_name,
        )
    }
}

/// Bytes per value of one influencer field.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InfluencerTotals {
    /// Every reader of it ranks or sums it, so its order never matters.
    pub bytes_by_value: ValueMap<u64>,
    /// Bytes of values dropped past [`MAX_INFLUENCER_VALUES`].
    pub overflow_bytes: u64,
}

impl InfluencerTotals {
    fn add(&mut self, value: FieldValueRef<'_>, bytes: u64) {
        match self.bytes_by_value.entry_ref(&value) {
            hashbrown::hash_map::EntryRef::Occupied(mut total) => {
                *total.get_mut() = total.get().saturating_add(bytes);
            }
            hashbrown::hash_map::EntryRef::Vacant(slot) => {
                slot.insert(bytes);
                if self.bytes_by_value.len() >= 2 * MAX_INFLUENCER_VALUES {
                    self.enforce_limit();
                }
            }
        }
    }

    fn merge(&mut self, other: &InfluencerTotals) {
        for (value, &bytes) in &other.bytes_by_value {
            match self.bytes_by_value.get_mut(value) {
                Some(total) => *total = total.saturating_add(bytes),
                None => {
                    self.bytes_by_value.insert(value.clone(), bytes);
                }
            }
        }
        self.overflow_bytes = self.overflow_bytes.saturating_add(other.overflow_bytes);
        if self.bytes_by_value.len() >= 2 * MAX_INFLUENCER_VALUES {
            self.enforce_limit();
        }
    }

    /// Pools the smallest values past [`MAX_INFLUENCER_VALUES`] into the overflow, in one
    /// pass: the smallest by bytes, the later name first among equals.
    fn enforce_limit(&mut self) {
        let excess = self.bytes_by_value.len().saturating_sub(MAX_INFLUENCER_VALUES);
        if excess == 0 {
            return;
        }
        let mut ranked: Vec<(u64, &FieldValue)> =
            self.bytes_by_value.iter().map(|(value, &bytes)| (bytes, value)).collect();
        ranked.select_nth_unstable_by_key(excess - 1, |&(bytes, value)| (bytes, Reverse(value)));
        let dropped: Vec<FieldValue> = ranked[..excess].iter().map(|(_, v)| (*v).clone()).collect();
        for value in dropped {
            let bytes = self.bytes_by_value.remove(&value).unwrap_or(0);
            self.overflow_bytes = self.overflow_bytes.saturating_add(bytes);
        }
    }
}

/// One over value's share of one bucket.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionBucket {
    pub bytes_sent: u64,
    pub flow_count: u64,
    pub influencers: BTreeMap<FlowField, InfluencerTotals>,
    /// The largest flows, largest first, at most [`TOP_FLOWS_PER_PARTITION`].
    pub top_flows: Vec<FlowEvidence>,
    /// Bytes by the number of the destination's place, while one thread totals a batch: the
    /// fields that depend only on the place are added once per place instead of once per flow
    /// (see [`take_place_bytes`](Self::take_place_bytes)). Empty everywhere else.
    #[serde(skip)]
    pub place_bytes: Vec<(u32, u64)>,
}

impl PartitionBucket {
    /// Adds one flow with its influencer values.
    pub fn add(&mut self, evidence: FlowEvidence, influencer_values: &[(FlowField, String)]) {
        let values =
            influencer_values.iter().map(|(field, value)| (*field, FieldValueRef::text(value)));
        self.add_flow(evidence.bytes_sent, values, || evidence);
    }

    /// Adds one flow of `bytes` with its influencer values; `evidence` is called only when the
    /// flow may be among the largest, so that most flows cost no copy of their text fields.
    pub fn add_flow<'a>(
        &mut self,
        bytes: u64,
        influencer_values: impl IntoIterator<Item = (FlowField, FieldValueRef<'a>)>,
        evidence: impl FnOnce() -> FlowEvidence,
    ) {
        // Saturating: a total that reached u64::MAX is wrong either way, but must not wrap to
        // a small number that hides it.
        self.bytes_sent = self.bytes_sent.saturating_add(bytes);
        self.flow_count += 1;
        for (field, value) in influencer_values {
            self.influencers.entry(field).or_default().add(value, bytes);
        }
        let full = self.top_flows.len() >= TOP_FLOWS_PER_PARTITION;
        // Ranked by bytes first: a smaller flow than the smallest kept cannot enter.
        if !(full && self.top_flows.last().is_some_and(|last| bytes < last.bytes_sent)) {
            self.insert_top_flow(evidence());
        }
    }

    /// Adds `bytes` of one flow to `field`'s total for `value`, without counting a flow.
    pub fn add_influencer(&mut self, field: FlowField, value: FieldValueRef<'_>, bytes: u64) {
        self.influencers.entry(field).or_default().add(value, bytes);
    }

    /// Counts `bytes` for the place numbered `place`. A partition holds one or a few places,
    /// so a list searched from its end finds the place faster than a map.
    pub fn add_place_bytes(&mut self, place: u32, bytes: u64) {
        match self.place_bytes.iter_mut().rev().find(|(number, _)| *number == place) {
            Some((_, total)) => *total = total.saturating_add(bytes),
            None => self.place_bytes.push((place, bytes)),
        }
    }

    /// The bytes by place counted since the last call, for adding to the place's fields.
    pub fn take_place_bytes(&mut self) -> Vec<(u32, u64)> {
        std::mem::take(&mut self.place_bytes)
    }

    pub fn merge(&mut self, other: &PartitionBucket) {
        self.bytes_sent = self.bytes_sent.saturating_add(other.bytes_sent);
        self.flow_count += other.flow_count;
        for (field, totals) in &other.influencers {
            self.influencers.entry(*field).or_default().merge(totals);
        }
        for flow in &other.top_flows {
            self.insert_top_flow(flow.clone());
        }
    }

    fn insert_top_flow(&mut self, flow: FlowEvidence) {
        let full = self.top_flows.len() >= TOP_FLOWS_PER_PARTITION;
        if full && self.top_flows.last().is_some_and(|last| last.rank_key() <= flow.rank_key()) {
            return;
        }
        let at = self.top_flows.partition_point(|kept| kept.rank_key() <= flow.rank_key());
        self.top_flows.insert(at, flow);
        self.top_flows.truncate(TOP_FLOWS_PER_PARTITION);
    }

    /// Bytes carried by each value of `field`, largest first; equal ones by text.
    pub fn influencer_ranking(&self, field: FlowField) -> Vec<(&FieldValue, u64)> {
        self.top_influencers(field, usize::MAX)
    }

    /// The first `count` values of [`influencer_ranking`](Self::influencer_ranking), found
    /// without ranking the others.
    pub fn top_influencers(&self, field: FlowField, count: usize) -> Vec<(&FieldValue, u64)> {
        let mut ranked: Vec<(&FieldValue, u64)> = self
            .influencers
            .get(&field)
            .map(|t| t.bytes_by_value.iter().map(|(v, &b)| (v, b)).collect())
            .unwrap_or_default();
        let order = |a: &(&FieldValue, u64), b: &(&FieldValue, u64)| {
            (Reverse(a.1), a.0).cmp(&(Reverse(b.1), b.0))
        };
        if count == 0 {
            return Vec::new();
        }
        if ranked.len() > count {
            ranked.select_nth_unstable_by(count - 1, order);
            ranked.truncate(count);
        }
        ranked.sort_unstable_by(order);
        ranked
    }
}

/// All over values' totals for one bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketAggregate {
    pub bucket_start_secs: i64,
    /// By over value; [`in_order`](Self::in_order) gives them in the order of their text.
    /// Saved in that order too, so that equal aggregates are saved as equal text.
    #[serde(serialize_with = "in_text_order")]
    pub partitions: ValueMap<PartitionBucket>,
}

fn in_text_order<S: Serializer>(
    partitions: &ValueMap<PartitionBucket>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_map(partitions.iter().collect::<BTreeMap<_, _>>())
}

impl BucketAggregate {
    pub fn new(bucket_start_secs: i64) -> BucketAggregate {
        BucketAggregate { bucket_start_secs, partitions: ValueMap::default() }
    }

    pub fn partition_mut(&mut self, over_value: FieldValueRef<'_>) -> &mut PartitionBucket {
        // One probe; the value is copied only when it is new, which nearly every flow's is not.
        self.partitions.entry_ref(&over_value).or_default()
    }

    /// The partition of the over value whose text is `over_value`.
    pub fn partition(&self, over_value: &str) -> Option<&PartitionBucket> {
        self.partitions.get(&FieldValueRef::text(over_value))
    }

    /// Every over value's partition, in the order of the values' text.
    pub fn in_order(&self) -> Vec<(&FieldValue, &PartitionBucket)> {
        let mut partitions: Vec<_> = self.partitions.iter().collect();
        partitions.sort_unstable_by(|a, b| a.0.cmp(b.0));
        partitions
    }

    /// Adds another partial aggregate of the same bucket.
    pub fn merge(&mut self, other: &BucketAggregate) {
        debug_assert_eq!(self.bucket_start_secs, other.bucket_start_secs);
        for (value, partition) in &other.partitions {
            self.partition_mut(value.as_ref()).merge(partition);
        }
    }

    /// Pools every influencer field down to [`MAX_INFLUENCER_VALUES`] values, as a closed
    /// bucket is before it is scored.
    pub fn settle(&mut self) {
        for partition in self.partitions.values_mut() {
            for totals in partition.influencers.values_mut() {
                totals.enforce_limit();
            }
        }
    }

    pub fn total_bytes(&self) -> u64 {
        self.partitions.values().fold(0u64, |total, p| total.saturating_add(p.bytes_sent))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::{Just, Strategy};

    fn evidence(bytes: u64, last_octet: u8) -> FlowEvidence {
        FlowEvidence {
            start_micros: i64::from(last_octet) * 1_000_000,
            source_ip: IpAddr::from([10, 0, 0, last_octet]),
            destination_ip: IpAddr::from([8, 8, 8, 8]),
            destination_port: Some(443),
            transport: Some("tcp".into()),
            bytes_sent: bytes,
            host_name: None,
            process_name: None,
        }
    }

    fn add(bucket: &mut BucketAggregate, country: &str, bytes: u64, host: u8) {
        let values = [(FlowField::SourceIp, format!("10.0.0.{host}"))];
        bucket.partition_mut(FieldValueRef::text(country)).add(evidence(bytes, host), &values);
    }

    #[test]
    fn totals_and_influencer_bytes_add_up() {
        let mut bucket = BucketAggregate::new(0);
        add(&mut bucket, "US", 100, 1);
        add(&mut bucket, "US", 250, 2);
        add(&mut bucket, "US", 50, 1);
        add(&mut bucket, "DE", 7, 3);
        let us = bucket.partition("US").unwrap();
        assert_eq!(us.bytes_sent, 400);
        assert_eq!(us.flow_count, 3);
        let ranking: Vec<(String, u64)> = us
            .influencer_ranking(FlowField::SourceIp)
            .into_iter()
            .map(|(value, bytes)| (value.to_string(), bytes))
            .collect();
        assert_eq!(ranking, [("10.0.0.2".to_string(), 250), ("10.0.0.1".to_string(), 150)]);
        assert_eq!(bucket.total_bytes(), 407);
        let top: Vec<u64> = us.top_flows.iter().map(|f| f.bytes_sent).collect();
        assert_eq!(top, vec![250, 100, 50]);
    }

    #[test]
    fn the_top_influencers_are_the_head_of_the_ranking() {
        let mut bucket = BucketAggregate::new(0);
        for (host, bytes) in [(1u8, 50u64), (2, 700), (3, 50), (4, 9), (5, 700), (6, 300)] {
            add(&mut bucket, "NL", bytes, host);
        }
        let partition = bucket.partition("NL").unwrap();
        let ranking = partition.influencer_ranking(FlowField::SourceIp);
        for count in 0..8 {
            let top = partition.top_influencers(FlowField::SourceIp, count);
            assert_eq!(top, ranking[..count.min(ranking.len())], "{count}");
        }
        let texts: Vec<String> = ranking.iter().map(|(value, _)| value.to_string()).collect();
        assert_eq!(texts, ["10.0.0.2", "10.0.0.5", "10.0.0.6", "10.0.0.1", "10.0.0.3", "10.0.0.4"]);
    }

    #[test]
    fn top_flows_keep_only_the_largest() {
        let mut bucket = BucketAggregate::new(0);
        for (i, bytes) in [5u64, 900, 3, 70, 70, 1000, 2, 800].into_iter().enumerate() {
            add(&mut bucket, "NL", bytes, i as u8);
        }
        let top: Vec<u64> =
            bucket.partition("NL").unwrap().top_flows.iter().map(|f| f.bytes_sent).collect();
        assert_eq!(top, vec![1000, 900, 800, 70, 70]);
    }

    #[test]
    fn influencer_values_past_the_limit_pool_into_overflow() {
        let mut totals = InfluencerTotals::default();
        for i in 0..(MAX_INFLUENCER_VALUES as u64 + 10) {
            totals.add(FieldValueRef::text(&format!("v{i:05}")), 1000 + i);
        }
        totals.enforce_limit();
        assert_eq!(totals.bytes_by_value.len(), MAX_INFLUENCER_VALUES);
        // The ten smallest values (1000..=1009 bytes) went to overflow.
        assert_eq!(totals.overflow_bytes, (1000..1010).sum::<u64>());
        assert!(totals.bytes_by_value.contains_key(&FieldValueRef::text("v00521")));
        assert!(!totals.bytes_by_value.contains_key(&FieldValueRef::text("v00009")));
    }

    proptest::proptest! {
        /// Any split of the flows into partial aggregates, merged in any order, gives the
        /// aggregate of all flows: totals, influencer bytes and the largest flows alike.
        #[test]
        fn partial_aggregates_merge_in_any_order_to_the_same_aggregate(
            flows in proptest::collection::vec((0usize..4, 0u64..5_000_000, 1u8..40), 0..300),
            shard_of in proptest::collection::vec(0usize..5, 300),
            order in Just((0usize..5).collect::<Vec<_>>()).prop_shuffle(),
        ) {
            const COUNTRIES: [&str; 4] = ["US", "NL", "CN", "BR"];
            let mut whole = BucketAggregate::new(0);
            let mut shards = vec![BucketAggregate::new(0); 5];
            for (i, &(country, bytes, host)) in flows.iter().enumerate() {
                add(&mut whole, COUNTRIES[country], bytes, host);
                add(&mut shards[shard_of[i]], COUNTRIES[country], bytes, host);
            }
            let mut merged = BucketAggregate::new(0);
            for &shard in &order {
                merged.merge(&shards[shard]);
            }
            proptest::prop_assert_eq!(&merged, &whole);
            let sum: u64 = flows.iter().map(|&(_, bytes, _)| bytes).sum();
            proptest::prop_assert_eq!(merged.total_bytes(), sum);
        }
    }

    #[test]
    fn merging_partial_aggregates_in_any_order_gives_the_same_result() {
        let flows: Vec<(&str, u64, u8)> = vec![
            ("US", 10, 1),
            ("US", 4000, 2),
            ("CN", 77, 3),
            ("US", 10, 4),
            ("CN", 5, 1),
            ("RU", 123_456, 9),
            ("US", 999, 7),
            ("US", 1, 8),
            ("US", 3, 6),
        ];
        let mut whole = BucketAggregate::new(0);
        for &(c, b, h) in &flows {
            add(&mut whole, c, b, h);
        }
        // Split into three shards in two different ways, merge in different orders.
        for split in [[0usize, 3, 6], [0, 1, 8]] {
            let mut shards = vec![BucketAggregate::new(0); 3];
            for (i, &(c, b, h)) in flows.iter().enumerate() {
                let shard = split.iter().rposition(|&s| i >= s).unwrap();
                add(&mut shards[shard], c, b, h);
            }
            for order in [[0, 1, 2], [2, 1, 0], [1, 2, 0]] {
                let mut merged = BucketAggregate::new(0);
                for i in order {
                    merged.merge(&shards[i]);
                }
                assert_eq!(merged, whole);
            }
        }
    }
}
