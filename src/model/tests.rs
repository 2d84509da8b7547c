//! Behaviour of the baseline model on seeded synthetic series with known answers.

use super::*;
use crate::bucket::{BucketAggregate, FieldValueRef, FlowEvidence};
use crate::job::FlowField;
use std::net::IpAddr;

const BUCKET: i64 = 3 * 3600;
const MB: u64 = 1_000_000;

/// A small deterministic generator, so the series are the same on every run.
struct Lcg(u64);

impl Lcg {
    fn uniform(&mut self) -> f64 {
        self.0 =
            self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    /// A log-normal value with the given median and log-scale spread.
    fn log_normal(&mut self, median: f64, sigma: f64) -> u64 {
        let (u1, u2) = (self.uniform(), self.uniform());
        let normal = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
        (median * (sigma * normal).exp()).round().max(1.0) as u64
    }
}

fn bucket(index: i64, totals: &[(&str, u64)]) -> BucketAggregate {
    let mut aggregate = BucketAggregate::new(index * BUCKET);
    for &(country, bytes) in totals {
        let evidence = FlowEvidence {
            start_micros: index * BUCKET * 1_000_000,
            source_ip: IpAddr::from([10, 0, 0, 1]),
            destination_ip: IpAddr::from([203, 0, 114, 1]),
            destination_port: Some(443),
            transport: Some("tcp".into()),
            bytes_sent: bytes,
            host_name: None,
            process_name: None,
        };
        let values = [(FlowField::SourceIp, "10.0.0.1".to_string())];
        aggregate.partition_mut(FieldValueRef::text(country)).add(evidence, &values);
    }
    aggregate
}

/// An organisation's ordinary week: a few busy countries every bucket, a long tail of
/// countries that appear now and then with small totals.
fn background(rng: &mut Lcg, index: i64) -> Vec<(String, u64)> {
    let mut totals = vec![
        ("US".to_string(), rng.log_normal(80.0 * MB as f64, 1.0)),
        ("DE".to_string(), rng.log_normal(5.0 * MB as f64, 1.0)),
        ("NL".to_string(), rng.log_normal(1.0 * MB as f64, 1.2)),
    ];
    // A new rarely-contacted country every few buckets, with a few kilobytes.
    if index % 3 == 0 {
        totals.push((format!("T{index:03}"), rng.log_normal(20_000.0, 1.5)));
    }
    totals
}

fn run(models: &mut ModelSet, index: i64, totals: &[(String, u64)]) -> Vec<AnomalyRecord> {
    let job = JobConfig::country();
    let borrowed: Vec<(&str, u64)> = totals.iter().map(|(c, b)| (c.as_str(), *b)).collect();
    models.process_bucket(&job, &bucket(index, &borrowed), (index + 1) * BUCKET)
}

fn warmed_up(buckets: i64) -> (ModelSet, Lcg) {
    let mut rng = Lcg(7);
    let mut models = ModelSet::new(ModelConfig::default());
    for index in 0..buckets {
        let totals = background(&mut rng, index);
        for record in run(&mut models, index, &totals) {
            assert!(record.record_score < 75.0, "background alerted: {record:?}");
        }
    }
    (models, rng)
}

fn score_of(records: &[AnomalyRecord], country: &str) -> f64 {
    records.iter().find(|r| r.over_value == country).expect("record for country").record_score
}

#[test]
fn a_large_first_transfer_alerts_and_a_small_one_does_not() {
    let (mut models, mut rng) = warmed_up(120);
    let mut totals = background(&mut rng, 120);
    totals.push(("KP".into(), 200 * MB));
    totals.push(("MN".into(), 15_000));
    let records = run(&mut models, 120, &totals);
    let kp = records.iter().find(|r| r.over_value == "KP").unwrap();
    assert!(kp.record_score >= 75.0, "200 MB to a new country scored {}", kp.record_score);
    assert!(kp.context.first_seen);
    assert_eq!(kp.typical_bytes, 0.0);
    assert_eq!(score_of(&records, "MN"), 0.0);
}

#[test]
fn an_ordinary_large_upload_to_a_busy_country_stays_quiet() {
    let (mut models, mut rng) = warmed_up(120);
    let mut totals = background(&mut rng, 120);
    // Three times the median of a country that receives 80 MB per bucket.
    totals[0].1 = 240 * MB;
    let records = run(&mut models, 120, &totals);
    assert_eq!(score_of(&records, "US"), 0.0);
    let us = records.iter().find(|r| r.over_value == "US").unwrap();
    let typical_mb = us.typical_bytes / MB as f64;
    assert!((60.0..110.0).contains(&typical_mb), "typical {typical_mb} MB");
}

#[test]
fn a_sustained_exfiltration_keeps_scoring_until_accepted() {
    let (mut models, mut rng) = warmed_up(120);
    let mut scores = Vec::new();
    for index in 120..140 {
        let mut totals = background(&mut rng, index);
        totals.push(("KP".into(), 500 * MB));
        scores.push(score_of(&run(&mut models, index, &totals), "KP"));
    }
    // Thirty hours are ten 3-hour buckets: all of them still alert.
    assert!(scores[..10].iter().all(|&s| s >= 75.0), "{scores:?}");
    // Once accepted, the new level enters at full weight and the scores fall.
    assert!(scores[19] < scores[9], "{scores:?}");
}

#[test]
fn a_rarely_active_country_has_a_typical_of_zero() {
    let (mut models, mut rng) = warmed_up(30);
    for index in 30..60 {
        let mut totals = background(&mut rng, index);
        if index % 10 == 0 {
            totals.push(("SE".into(), 30_000));
        }
        run(&mut models, index, &totals);
    }
    let mut totals = background(&mut rng, 60);
    totals.push(("SE".into(), 30_000));
    let records = run(&mut models, 60, &totals);
    let se = records.iter().find(|r| r.over_value == "SE").unwrap();
    assert_eq!(se.typical_bytes, 0.0);
    assert_eq!(se.record_score, 0.0);
    assert_eq!(se.context.active_buckets, 3);
    assert_eq!(se.context.observed_buckets, 30);
}

#[test]
fn nothing_alerts_before_the_population_has_been_learned() {
    let mut models = ModelSet::new(ModelConfig::default());
    let records = run(&mut models, 0, &[("KP".into(), 200 * MB), ("US".into(), 10 * MB)]);
    assert!(records.iter().all(|r| r.record_score < 75.0), "{records:?}");
}

#[test]
fn identical_input_gives_identical_records() {
    let (a, _) = warmed_up(60);
    let (b, _) = warmed_up(60);
    assert_eq!(a, b);
}

#[test]
fn the_partition_limit_is_respected_and_counted() {
    let config = ModelConfig { max_partitions: 2, ..ModelConfig::default() };
    let mut models = ModelSet::new(config);
    run(&mut models, 0, &[("US".into(), 1), ("DE".into(), 1), ("FR".into(), 1), ("IT".into(), 1)]);
    assert_eq!(models.partitions.len(), 2);
    assert_eq!(models.untracked_values, 2);
}

#[test]
fn the_memory_limit_turns_new_values_away_and_names_them() {
    // Room for two countries with their one sender's pairs, and no more.
    let limit = 2 * footprint::new_over_value_bytes("DE")
        + footprint::host_bytes("10.0.0.1")
        + 2 * footprint::pair_bytes("DE");
    let config = ModelConfig { max_model_bytes: limit as u64, ..ModelConfig::default() };
    let mut models = ModelSet::new(config);
    let totals = [("US".into(), MB), ("DE".into(), MB), ("FR".into(), MB), ("IT".into(), MB)];
    run(&mut models, 0, &totals);
    // Records come in order of their over value: DE and FR fit, IT and US do not.
    assert_eq!(models.partitions.keys().collect::<Vec<_>>(), ["DE", "FR"]);
    assert_eq!(models.untracked_values, 2);
    assert_eq!(models.untracked_sample, ["IT", "US"]);
    assert!(models.memory_limit_reached);
    assert_eq!(models.footprint().pairs, 2);
    assert!(models.footprint().total_bytes() <= limit);
    // Later buckets still score the turned-away values, against the population.
    let records = run(&mut models, 1, &totals);
    assert_eq!(records.len(), 4);
    assert_eq!(models.untracked_values, 4);
    assert_eq!(models.untracked_sample, ["IT", "US"]);
}

#[test]
fn influence_is_full_for_the_only_sender() {
    let (mut models, mut rng) = warmed_up(120);
    let mut totals = background(&mut rng, 120);
    totals.push(("KP".into(), 200 * MB));
    let records = run(&mut models, 120, &totals);
    let kp = records.iter().find(|r| r.over_value == "KP").unwrap();
    let sources: Vec<_> = kp.influencers_of(FlowField::SourceIp).collect();
    assert_eq!(sources.len(), 1);
    assert_eq!(sources[0].value, "10.0.0.1");
    assert_eq!(sources[0].influence, 100.0);
    assert_eq!(sources[0].bytes_sent, 200 * MB);
}

#[test]
fn update_weights_follow_the_documented_schedule() {
    assert_eq!(update_weight(0.5), 1.0);
    assert_eq!(update_weight(1e-3), 1.0);
    assert_eq!(update_weight(1e-5), 0.01);
    assert_eq!(update_weight(1e-9), 0.01);
    assert!((update_weight(1e-4) - 0.1).abs() < 1e-12);
}

#[test]
fn a_recurring_excursion_is_quiet_the_second_time_unless_larger() {
    let (mut models, mut rng) = warmed_up(120);
    let mut with = |models: &mut ModelSet, index: i64, extra: Option<u64>| {
        let mut totals = background(&mut rng, index);
        if let Some(bytes) = extra {
            totals[1].1 = bytes;
        }
        score_of(&run(models, index, &totals), "DE")
    };
    assert!(with(&mut models, 120, Some(500 * MB)) >= 75.0);
    for index in 121..137 {
        with(&mut models, index, None);
    }
    // Two days later, the same 500 MB to Germany: part of its behaviour now.
    assert!(with(&mut models, 137, Some(500 * MB)) < 75.0);
    for index in 138..154 {
        with(&mut models, index, None);
    }
    // Forty times larger than either excursion: still an anomaly.
    assert!(with(&mut models, 154, Some(20_000 * MB)) >= 75.0);
}

#[test]
fn records_in_the_learning_period_are_flagged() {
    let mut models = ModelSet::new(ModelConfig::default());
    let first = run(&mut models, 0, &[("US".into(), MB)]);
    for index in 1..23 {
        run(&mut models, index, &[("US".into(), MB)]);
    }
    let inside = run(&mut models, 23, &[("US".into(), MB)]);
    let after = run(&mut models, 24, &[("US".into(), MB)]);
    assert!(first[0].learning && inside[0].learning);
    assert!(!after[0].learning, "72 hours are 24 buckets of 3 hours");
}

#[test]
fn a_stray_early_bucket_does_not_end_the_learning_period() {
    // One flow decades early (a zero timestamp), then the real data.
    let mut models = ModelSet::new(ModelConfig::default());
    run(&mut models, 0, &[("US".into(), 100)]);
    let real_start = 150_000;
    for index in real_start..real_start + 22 {
        assert!(run(&mut models, index, &[("US".into(), MB)])[0].learning);
    }
    // The 24th bucket with traffic is still learning; the 25th is not.
    assert!(run(&mut models, real_start + 22, &[("US".into(), MB)])[0].learning);
    assert!(!run(&mut models, real_start + 23, &[("US".into(), MB)])[0].learning);
}

/// A bucket whose flows each name their source.
fn bucket_from(index: i64, flows: &[(&str, String, u64)]) -> BucketAggregate {
    let mut aggregate = BucketAggregate::new(index * BUCKET);
    for (country, source, bytes) in flows {
        let evidence = FlowEvidence {
            start_micros: index * BUCKET * 1_000_000,
            source_ip: source.parse().unwrap(),
            destination_ip: IpAddr::from([203, 0, 114, 1]),
            destination_port: Some(443),
            transport: Some("tcp".into()),
            bytes_sent: *bytes,
            host_name: None,
            process_name: None,
        };
        let values = [(FlowField::SourceIp, source.clone())];
        aggregate.partition_mut(FieldValueRef::text(country)).add(evidence, &values);
    }
    aggregate
}

#[test]
fn a_host_new_to_the_busiest_country_alerts_where_the_country_alone_would_not() {
    let job = JobConfig::country();
    let mut models = ModelSet::new(ModelConfig::default());
    let mut rng = Lcg(11);
    let mut organisation = |index: i64| {
        // Twenty hosts upload about 100 MB each to the US every bucket; now and then one of
        // them reaches a small country for the first time with a few kilobytes.
        let mut flows: Vec<(&str, String, u64)> = (1..=20)
            .map(|h| ("US", format!("10.0.0.{h}"), rng.log_normal(100.0 * MB as f64, 0.5)))
            .collect();
        let small = ["SE", "NO", "FI", "DK", "IS", "EE", "LV", "LT"][(index % 8) as usize];
        flows.push((small, format!("10.0.0.{}", 1 + index % 20), rng.log_normal(8000.0, 1.0)));
        flows
    };
    for index in 0..120 {
        let flows = organisation(index);
        let records = models.process_bucket(&job, &bucket_from(index, &flows), 0);
        if index >= 24 {
            assert!(records.iter().all(|r| r.record_score < 75.0), "{records:?}");
        }
    }
    let mut flows = organisation(120);
    flows.push(("US", "10.0.9.9".to_string(), 2_000 * MB));
    let records = models.process_bucket(&job, &bucket_from(120, &flows), 0);
    let us = records.iter().find(|r| r.over_value == "US").unwrap();
    let host = us.host_evidence.as_ref().unwrap();
    assert_eq!((host.host.as_str(), host.first_time), ("10.0.9.9", true));
    assert!(us.record_score >= 75.0, "score {}", us.record_score);
    // The country's total alone (about 4 GB against 2 GB) would not have alerted.
    assert!(us.typical_bytes > 1_500.0 * MB as f64);
}

#[test]
fn a_pair_without_traffic_for_the_retention_is_forgotten_and_comes_back_first_time() {
    let job = JobConfig::country();
    let day = 24 * 3600 / BUCKET;
    let retention_days = 10;
    let config =
        ModelConfig { pair_retention_secs: retention_days * 24 * 3600, ..ModelConfig::default() };
    let mut models = ModelSet::new(config);
    let us = |index: i64, host: &str| bucket_from(index, &[("US", host.to_string(), 5 * MB)]);
    // Host 1 sends on day 0 only; host 2 sends every day.
    models.process_bucket(&job, &us(0, "10.0.0.1"), 0);
    for index in 1..=(retention_days + 2) * day {
        models.process_bucket(&job, &us(index, "10.0.0.2"), 0);
        let forgotten = models.hosts.forgotten_pairs;
        // Looked for once a day: host 1's pair goes at the first look past ten days.
        let expected = u64::from(index >= (retention_days + 1) * day);
        assert_eq!(forgotten, expected, "bucket {index}");
    }
    assert_eq!(models.footprint().pairs, 1);
    // The running total the memory limit is checked against follows the pairs.
    assert_eq!(models.hosts.pair_bytes(), models.footprint().pair_bytes);
    assert!(models.hosts.pairs.contains_key(&FieldValueRef::text("10.0.0.2")));
    assert!(!models.hosts.pairs.contains_key(&FieldValueRef::text("10.0.0.1")));
    // Seen again, host 1 is judged as new to the US.
    let index = (retention_days + 2) * day + 1;
    let records = models.process_bucket(&job, &us(index, "10.0.0.1"), 0);
    let host = records[0].host_evidence.as_ref().unwrap();
    assert_eq!((host.host.as_str(), host.first_time), ("10.0.0.1", true));
    assert_eq!(models.footprint().pairs, 2);
    assert_eq!(models.hosts.pair_bytes(), models.footprint().pair_bytes);
}

#[test]
fn a_retention_of_zero_keeps_every_pair() {
    let job = JobConfig::country();
    let mut models = ModelSet::new(ModelConfig { pair_retention_secs: 0, ..Default::default() });
    models.process_bucket(&job, &bucket_from(0, &[("US", "10.0.0.1".into(), MB)]), 0);
    for index in 1..2000 {
        models.process_bucket(&job, &bucket_from(index, &[("US", "10.0.0.2".into(), MB)]), 0);
    }
    assert_eq!((models.footprint().pairs, models.hosts.forgotten_pairs), (2, 0));
}
