//! The anomaly record: one over value in one bucket, judged.

use crate::bucket::FlowEvidence;
use crate::job::FlowField;
use serde::{Deserialize, Serialize};

/// One influencer value with its influence and the bytes it carried.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Influence {
    pub field: FlowField,
    pub value: String,
    /// 0-100: how much of the anomaly would remain without this value's bytes.
    pub influence: f64,
    pub bytes_sent: u64,
}

/// What the model knew about the over value when it judged the bucket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelContext {
    /// True when the over value had never received anything before this bucket.
    pub first_seen: bool,
    /// Start of the first bucket in which the over value received anything.
    pub first_seen_secs: i64,
    /// Buckets with traffic to the over value before this one.
    pub active_buckets: u64,
    /// Buckets observed since the over value was first seen, before this one.
    pub observed_buckets: u64,
    /// Share of observed buckets in which it received anything (forgetting applied).
    pub active_share: f64,
    /// Median bucket total of over values seen for the first time (the population prior).
    pub first_seen_median_bytes: f64,
}

/// One scored bucket of one over value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnomalyRecord {
    pub job_id: String,
    pub bucket_start_secs: i64,
    pub bucket_secs: i64,
    pub over_field: FlowField,
    pub over_value: String,
    /// Bytes sent to the over value in the bucket.
    pub actual_bytes: u64,
    /// The model's median expectation for the bucket.
    pub typical_bytes: f64,
    /// One-sided probability of a total at least `actual_bytes`.
    pub probability: f64,
    pub record_score: f64,
    pub flow_count: u64,
    /// Influencers by field, most influential first.
    pub influencers: Vec<Influence>,
    pub top_flows: Vec<FlowEvidence>,
    pub context: ModelContext,
    /// What the largest senders' own baselines say, when the record has senders.
    pub host_evidence: Option<crate::model::host::HostEvidence>,
    /// Probability of the bucket alone (its total, and any first-time sender), before the
    /// low-and-slow windows are taken into account; `probability` is at most this.
    pub bucket_probability: f64,
    /// The low-and-slow windows ending with this bucket.
    pub windows: Vec<crate::model::window::WindowEvidence>,
    /// True while the job is in its learning period: scored, but never alerted.
    pub learning: bool,
    /// When, on the data's clock, the bucket closed and the record became available.
    pub available_secs: i64,
}

impl AnomalyRecord {
    /// The key under which a record is unique: job, bucket and over value.
    pub fn key(&self) -> (String, i64, String) {
        (self.job_id.clone(), self.bucket_start_secs, self.over_value.clone())
    }

    /// The influencer values of one field, most influential first.
    pub fn influencers_of(&self, field: FlowField) -> impl Iterator<Item = &Influence> + '_ {
        self.influencers.iter().filter(move |i| i.field == field)
    }
}
