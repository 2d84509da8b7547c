//! Comparators: the detectors a team would use without geoexfil, run on the same bucket totals.
//!
//! - *Fixed threshold*: alert when one country receives more than a fixed number of bytes in a
//!   bucket. The threshold is tuned on the clean background to at most one false alert per week,
//!   as a team tunes a rule until it stops paging them.
//! - *Log z-score*: per country, the mean and standard deviation of the log totals of its past
//!   active buckets; alert when a bucket's log total lies at least three deviations above the
//!   mean. A country needs a few buckets of history before it can alert.

use crate::bucket::BucketAggregate;
use crate::job::FlowField;
use std::collections::BTreeMap;

/// A comparator's alert: a country in a bucket, with the sources that carried most bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct ComparatorAlert {
    pub bucket_start_secs: i64,
    pub country: String,
    /// Source addresses, most bytes first, at most three.
    pub top_sources: Vec<String>,
}

/// The per-bucket totals comparators need, without the evidence the model keeps.
#[derive(Debug, Clone, PartialEq)]
pub struct BucketTotals {
    pub bucket_start_secs: i64,
    /// Country to (bytes, top sources).
    pub countries: BTreeMap<String, (u64, Vec<String>)>,
}

impl BucketTotals {
    pub fn from_aggregate(bucket: &BucketAggregate) -> BucketTotals {
        let countries = bucket
            .partitions
            .iter()
            .map(|(country, partition)| {
                let sources = partition
                    .influencer_ranking(FlowField::SourceIp)
                    .into_iter()
                    .take(3)
                    .map(|(value, _)| value.to_string())
                    .collect();
                (country.to_string(), (partition.bytes_sent, sources))
            })
            .collect();
        BucketTotals { bucket_start_secs: bucket.bucket_start_secs, countries }
    }
}

/// Alerts of a fixed byte threshold.
pub fn fixed_threshold(buckets: &[BucketTotals], threshold_bytes: u64) -> Vec<ComparatorAlert> {
    let mut alerts = Vec::new();
    for bucket in buckets {
        for (country, (bytes, sources)) in &bucket.countries {
            if *bytes >= threshold_bytes {
                alerts.push(ComparatorAlert {
                    bucket_start_secs: bucket.bucket_start_secs,
                    country: country.clone(),
                    top_sources: sources.clone(),
                });
            }
        }
    }
    alerts
}

/// The smallest threshold that raises at most `allowed` alerts on `clean` buckets.
pub fn tune_threshold(clean: &[BucketTotals], allowed: usize) -> u64 {
    let mut totals: Vec<u64> =
        clean.iter().flat_map(|b| b.countries.values().map(|(bytes, _)| *bytes)).collect();
    totals.sort_unstable_by(|a, b| b.cmp(a));
    totals.get(allowed).map_or(1, |&bytes| bytes + 1)
}

/// Past active buckets a country needs before the z-score can alert on it.
pub const Z_MIN_HISTORY: usize = 3;
/// Deviations above the mean that alert.
pub const Z_THRESHOLD: f64 = 3.0;

/// Alerts of the per-country z-score on log totals.
pub fn log_z_score(buckets: &[BucketTotals]) -> Vec<ComparatorAlert> {
    let mut history: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    let mut alerts = Vec::new();
    for bucket in buckets {
        for (country, (bytes, sources)) in &bucket.countries {
            let value = (*bytes as f64).ln_1p();
            let past = history.entry(country.as_str()).or_default();
            if past.len() >= Z_MIN_HISTORY {
                let n = past.len() as f64;
                let mean = past.iter().sum::<f64>() / n;
                let variance = past.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
                // A constant history would make any change infinitely unusual.
                let sd = variance.sqrt().max(0.1);
                if (value - mean) / sd >= Z_THRESHOLD {
                    alerts.push(ComparatorAlert {
                        bucket_start_secs: bucket.bucket_start_secs,
                        country: country.clone(),
                        top_sources: sources.clone(),
                    });
                }
            }
            past.push(value);
        }
    }
    alerts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket(start: i64, totals: &[(&str, u64)]) -> BucketTotals {
        BucketTotals {
            bucket_start_secs: start,
            countries: totals
                .iter()
                .map(|&(c, b)| (c.to_string(), (b, vec!["10.0.0.1".to_string()])))
                .collect(),
        }
    }

    #[test]
    fn the_tuned_threshold_allows_exactly_the_given_number_of_alerts() {
        let clean = vec![bucket(0, &[("US", 500), ("DE", 90)]), bucket(1, &[("US", 700)])];
        let threshold = tune_threshold(&clean, 1);
        assert_eq!(threshold, 501);
        assert_eq!(fixed_threshold(&clean, threshold).len(), 1);
        assert_eq!(tune_threshold(&clean, 0), 701);
    }

    #[test]
    fn z_score_alerts_only_with_history_and_only_on_highs() {
        let mut buckets: Vec<BucketTotals> =
            (0..5).map(|i| bucket(i, &[("US", 1000 + 10 * i as u64)])).collect();
        buckets.push(bucket(5, &[("US", 1_000_000), ("KP", 1_000_000_000)]));
        buckets.push(bucket(6, &[("US", 1)]));
        let alerts = log_z_score(&buckets);
        assert_eq!(alerts.len(), 1);
        assert_eq!((alerts[0].bucket_start_secs, alerts[0].country.as_str()), (5, "US"));
    }
}
