//! Per-host baselines: which over values each internal host sends to, and how much.
//!
//! A *pair* is one source host and one over value (a country). Its baseline is the log total
//! the host sends there in the buckets where it sends anything. A pair never seen is judged
//! against what new pairs usually carry in their first bucket (a population like the one for
//! new countries), so "this host never sent anything to this country before, and now sends a
//! gigabyte" is evidence even when the country itself is the organisation's busiest; that
//! probability is corrected for every host examined in the bucket, so that a new host's
//! ordinary first day does not alert on everything it does. A known pair's baseline (shrunk
//! toward the new-pair population while young) gives the host's typical volume for the
//! explanation.
//!
//! Hosts are identified by source address, the one host field every format has.
//!
//! A pair that carries nothing for the *pair retention* (default [`DEFAULT_PAIR_RETENTION_SECS`])
//! is forgotten: it comes back as a first-time pair. Without this, a long-running job would
//! remember every pair it ever met, and on a network where addresses change hands (DHCP, VPN
//! pools, short-lived cloud instances) that memory grows for as long as the job runs.

use super::footprint;
use super::stats::{bytes_from_log, log_volume, NormalInverseGamma, WeightedMoments};
use super::PopulationModel;
use crate::bucket::{FieldValue, PartitionBucket, ValueMap};
use crate::job::FlowField;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Hosts examined per record: the largest senders. Every one examined costs a factor in the
/// Bonferroni correction, and an exfiltration is carried by its largest sender.
pub const HOSTS_EXAMINED: usize = 3;

/// Default limit on remembered pairs. A few hundred hosts times a few dozen countries is far
/// below it; a destination-IP job on a large network may reach it, and then new pairs are
/// judged as new without being remembered (counted).
pub const DEFAULT_MAX_PAIRS: usize = 1_000_000;

/// Default pair retention: six weeks. A month is the longest habit a host commonly has (a
/// monthly report, a monthly backup); six weeks keeps such a pair known through a month that
/// runs a week late. The reference job prunes the models of values not updated for 30 days by
/// default.
pub const DEFAULT_PAIR_RETENTION_SECS: i64 = 42 * 24 * 3600;

/// Stale pairs are looked for once per this much data time: a pass over every pair costs far
/// more than one bucket's learning, and a day's delay is nothing against the retention.
const PRUNE_EVERY_SECS: i64 = 24 * 3600;

/// The baseline of one host toward one over value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairModel {
    pub volume: WeightedMoments,
    pub active_buckets: u64,
    pub first_seen_secs: i64,
    /// Start of the last bucket in which the pair's memory was brought up to date.
    pub updated_secs: i64,
}

/// What the largest senders of a record say.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostEvidence {
    pub host: String,
    pub bytes_sent: u64,
    /// Probability of that host sending at least this much there, corrected for every host
    /// examined in the bucket (see [`HostBaselines::tests_in`]).
    pub probability: f64,
    /// True when the host had never sent anything to this over value before.
    pub first_time: bool,
    /// The host's usual total there in a bucket where it sends anything (0 when first time).
    pub typical_bytes: f64,
    pub active_buckets: u64,
    /// Weight of the pair's remembered ordinary buckets: below one, its earlier buckets were
    /// anomalous (they enter the baseline at low weight) and `typical_bytes` is the prior's.
    #[serde(default)]
    pub ordinary_weight: f64,
}

/// Every host's baselines and the population of new pairs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HostBaselines {
    /// Host, then over value. Hosts are looked up for every sender of every bucket, so they
    /// are kept by value (no text written out per lookup) in a hash map, saved in text order.
    #[serde(serialize_with = "in_text_order")]
    pub pairs: ValueMap<BTreeMap<String, PairModel>>,
    pub pair_count: usize,
    /// What pairs carry in the bucket where they first appear.
    pub new_pairs: PopulationModel,
    /// Pairs seen after the limit was reached.
    pub untracked_pairs: u64,
    /// Pairs forgotten after the pair retention without traffic.
    #[serde(default)]
    pub forgotten_pairs: u64,
    /// Data time of the last look for stale pairs.
    #[serde(default)]
    pub last_pruned_secs: Option<i64>,
    /// The footprint of `pairs`, kept as pairs come and go so that the memory limit is checked
    /// in every bucket without walking every pair.
    #[serde(skip)]
    pair_bytes: PairBytes,
}

fn in_text_order<S: serde::Serializer>(
    pairs: &ValueMap<BTreeMap<String, PairModel>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_map(pairs.iter().collect::<BTreeMap<_, _>>())
}

/// A running total that is derived state: not saved, and not part of equality.
#[derive(Debug, Clone, Copy, Default)]
struct PairBytes(Option<usize>);

impl PartialEq for PairBytes {
    fn eq(&self, _: &PairBytes) -> bool {
        true
    }
}

impl HostBaselines {
    fn pair(&self, host: &FieldValue, over_value: &str) -> Option<&PairModel> {
        self.pairs.get(host).and_then(|p| p.get(over_value))
    }

    /// Judges the largest senders of one bucket of one over value; returns the most surprising.
    /// `new_pair` is [`new_pair_belief`](Self::new_pair_belief), computed once per bucket.
    pub fn evidence(
        &self,
        new_pair: &NormalInverseGamma,
        over_value: &str,
        partition: &PartitionBucket,
        keep_per_sec: f64,
        bucket_start_secs: i64,
        pooled_within_variance: f64,
    ) -> Option<HostEvidence> {
        let senders = partition.top_influencers(FlowField::SourceIp, HOSTS_EXAMINED);
        let (host, evidence) = senders
            .into_iter()
            .map(|(host, bytes)| {
                let log_bytes = log_volume(bytes as f64);
                let (tail, first_time, typical, active, weight) = match self.pair(host, over_value)
                {
                    None => (new_pair.predictive().upper_tail(log_bytes), true, 0.0, 0, 0.0),
                    Some(pair) => {
                        let elapsed = (bucket_start_secs - pair.updated_secs).max(0) as f64;
                        let mut volume = pair.volume;
                        volume.forget(keep_per_sec.powf(elapsed));
                        let prior = young_prior(new_pair, pooled_within_variance);
                        let predictive = prior.updated(&volume).predictive();
                        let typical = bytes_from_log(predictive.centre).round();
                        let tail = (2.0 * predictive.upper_tail(log_bytes)).min(1.0);
                        (tail, false, typical, pair.active_buckets, volume.weight)
                    }
                };
                // The host's text is written out only for the one returned.
                let evidence = HostEvidence {
                    host: String::new(),
                    bytes_sent: bytes,
                    probability: tail,
                    first_time,
                    typical_bytes: typical,
                    active_buckets: active,
                    ordinary_weight: weight,
                };
                (host, evidence)
            })
            .min_by(|a, b| a.1.probability.total_cmp(&b.1.probability))?;
        Some(HostEvidence { host: host.to_string(), ..evidence })
    }

    /// The footprint of every pair (see [`footprint`]).
    pub fn pair_bytes(&mut self) -> usize {
        let pairs = &self.pairs;
        *self.pair_bytes.0.get_or_insert_with(|| {
            pairs
                .iter()
                .map(|(host, pairs)| {
                    host.with_text(footprint::host_bytes)
                        + pairs.keys().map(|value| footprint::pair_bytes(value)).sum::<usize>()
                })
                .sum()
        })
    }

    /// Forgets the pairs that carried nothing for `retention_secs` before `now_secs` (none when
    /// `retention_secs` is 0), looking at most once per [`PRUNE_EVERY_SECS`] of data time.
    /// Returns the number forgotten.
    pub fn forget_stale(&mut self, now_secs: i64, retention_secs: i64) -> usize {
        if retention_secs <= 0 {
            return 0;
        }
        let last = *self.last_pruned_secs.get_or_insert(now_secs);
        if now_secs - last < PRUNE_EVERY_SECS {
            return 0;
        }
        self.last_pruned_secs = Some(now_secs);
        let oldest_kept = now_secs - retention_secs;
        let mut forgotten = 0;
        self.pairs.retain(|_, pairs| {
            let before = pairs.len();
            pairs.retain(|_, pair| pair.updated_secs >= oldest_kept);
            forgotten += before - pairs.len();
            !pairs.is_empty()
        });
        self.pair_count -= forgotten;
        self.forgotten_pairs += forgotten as u64;
        self.pair_bytes = PairBytes(None);
        forgotten
    }

    /// What a (host, destination) pair carries in the bucket where it first appears.
    pub fn new_pair_belief(&self) -> NormalInverseGamma {
        self.new_pairs.first_seen_belief()
    }

    /// How many host tests a bucket makes: up to [`HOSTS_EXAMINED`] senders for each over value.
    /// Each record's host probability is multiplied by this (a Bonferroni correction over the
    /// whole bucket): with hundreds of hosts and dozens of countries, some pair is one in a
    /// thousand in every bucket by chance alone.
    pub fn tests_in(bucket: &crate::bucket::BucketAggregate) -> usize {
        bucket
            .partitions
            .values()
            .map(|p| {
                let senders = p.influencers.get(&FlowField::SourceIp);
                senders.map_or(0, |s| s.bytes_by_value.len().min(HOSTS_EXAMINED))
            })
            .sum()
    }

    /// Learns every sender of one bucket of one over value; `weight` is the update weight the
    /// record's probability earned, so that an exfiltration barely teaches its pair.
    /// `model_bytes` is the model's footprint so far, grown by the pairs added. Returns true
    /// when the memory limit turned a new pair away.
    #[allow(clippy::too_many_arguments)]
    pub fn learn(
        &mut self,
        over_value: &str,
        partition: &PartitionBucket,
        bucket_start_secs: i64,
        keep_per_sec: f64,
        weight: f64,
        limits: PairLimits,
        model_bytes: &mut usize,
    ) -> bool {
        let mut turned_away_by_memory = false;
        let update = |pair: &mut PairModel, log_bytes: f64| {
            let elapsed = (bucket_start_secs - pair.updated_secs).max(0) as f64;
            pair.volume.forget(keep_per_sec.powf(elapsed));
            pair.updated_secs = bucket_start_secs;
            pair.volume.add(log_bytes, weight);
            pair.active_buckets += 1;
        };
        // Largest senders first, so that which new pairs a full memory turns away does not
        // depend on the order of a hash map.
        for (host, bytes) in partition.influencer_ranking(FlowField::SourceIp) {
            let log_bytes = log_volume(bytes as f64);
            // Known pairs are found with one lookup and without copying their keys.
            if let Some(pair) = self.pairs.get_mut(host).and_then(|p| p.get_mut(over_value)) {
                update(pair, log_bytes);
                continue;
            }
            self.new_pairs.record_first_appearance(log_bytes, weight);
            let mut new_bytes = footprint::pair_bytes(over_value);
            if !self.pairs.contains_key(host) {
                new_bytes += host.with_text(footprint::host_bytes);
            }
            let over_memory = (*model_bytes + new_bytes) as u64 > limits.max_model_bytes;
            if over_memory || self.pair_count >= limits.max_pairs {
                turned_away_by_memory |= over_memory;
                self.untracked_pairs += 1;
                continue;
            }
            *model_bytes += new_bytes;
            self.pair_count += 1;
            let total = self.pair_bytes();
            self.pair_bytes = PairBytes(Some(total + new_bytes));
            let mut pair = PairModel {
                volume: WeightedMoments::default(),
                active_buckets: 0,
                first_seen_secs: bucket_start_secs,
                updated_secs: bucket_start_secs,
            };
            update(&mut pair, log_bytes);
            self.pairs.entry(host.clone()).or_default().insert(over_value.to_string(), pair);
        }
        turned_away_by_memory
    }
}

/// Limits on remembered pairs: their number, and the memory of all model state.
#[derive(Debug, Clone, Copy)]
pub struct PairLimits {
    pub max_pairs: usize,
    pub max_model_bytes: u64,
}

/// Certainty of a young pair's prior about its spread: two buckets' worth, so that the pair's
/// own history soon decides, and its first buckets are judged with heavy tails.
const PAIR_PRIOR_SHAPE: f64 = 2.0;

/// A young pair's prior: centred where new pairs sit, with the bucket-to-bucket spread of the
/// organisation's established over values (the same one young over values borrow).
fn young_prior(new_pair: &NormalInverseGamma, within_variance: f64) -> NormalInverseGamma {
    NormalInverseGamma {
        mean: new_pair.mean,
        mean_weight: 1.0,
        shape: PAIR_PRIOR_SHAPE,
        rate: PAIR_PRIOR_SHAPE * within_variance,
    }
}
