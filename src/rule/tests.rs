use super::*;
use crate::job::FlowField;
use crate::score::record::ModelContext;

const HOUR: i64 = 3600;

fn record(bucket_start_secs: i64, over_value: &str, score: f64) -> AnomalyRecord {
    AnomalyRecord {
        job_id: "job".into(),
        bucket_start_secs,
        bucket_secs: 3 * HOUR,
        over_field: FlowField::CountryIsoCode,
        over_value: over_value.into(),
        actual_bytes: 1,
        typical_bytes: 0.0,
        probability: 0.0,
        record_score: score,
        flow_count: 1,
        influencers: Vec::new(),
        top_flows: Vec::new(),
        context: ModelContext {
            first_seen: true,
            first_seen_secs: bucket_start_secs,
            active_buckets: 0,
            observed_buckets: 0,
            active_share: 0.0,
            first_seen_median_bytes: 0.0,
        },
        host_evidence: None,
        bucket_probability: 0.0,
        windows: Vec::new(),
        learning: false,
        // Bucket span plus one hour of allowed lateness.
        available_secs: bucket_start_secs + 4 * HOUR,
    }
}

fn keys(alerts: &[Alerted]) -> Vec<(i64, String, i64)> {
    alerts
        .iter()
        .map(|a| (a.rule_run_secs, a.record.over_value.clone(), a.record.bucket_start_secs))
        .collect()
}

#[test]
fn a_record_alerts_at_the_first_run_after_it_is_available() {
    let mut rule = RuleReplay::new(RuleConfig::default());
    // Available at 4 h 10 min: the next 15-minute run is at 4 h 15 min.
    let mut r = record(0, "RU", 90.0);
    r.available_secs = 4 * HOUR + 600;
    assert!(rule.offer(&r).is_empty());
    let alerts = rule.run_until(5 * HOUR);
    assert_eq!(keys(&alerts), vec![(4 * HOUR + 900, "RU".into(), 0)]);
    assert_eq!(rule.last_run_secs, Some(5 * HOUR));
}

#[test]
fn records_below_the_threshold_never_alert() {
    let mut rule = RuleReplay::new(RuleConfig::default());
    assert!(rule.offer(&record(0, "DE", 74.9)).is_empty());
    assert!(rule.drain().is_empty());
    let mut rule = RuleReplay::new(RuleConfig::default());
    assert!(rule.offer(&record(0, "DE", 75.0)).is_empty());
    assert_eq!(keys(&rule.drain()), vec![(4 * HOUR, "DE".into(), 0)]);
}

#[test]
fn each_record_alerts_once_even_when_offered_again() {
    let mut rule = RuleReplay::new(RuleConfig::default());
    let r = record(0, "CN", 99.0);
    rule.offer(&r);
    assert_eq!(rule.run_until(5 * HOUR).len(), 1);
    assert!(rule.offer(&r).is_empty());
    assert!(rule.drain().is_empty());
}

#[test]
fn the_cap_defers_the_rest_to_later_runs_inside_the_look_back() {
    let config = RuleConfig { max_alerts_per_run: 2, ..RuleConfig::default() };
    let mut rule = RuleReplay::new(config);
    let mut alerts = Vec::new();
    for (value, score) in [("AA", 80.0), ("BB", 95.0), ("CC", 85.0), ("DD", 76.0), ("EE", 99.0)] {
        alerts.extend(rule.offer(&record(0, value, score)));
    }
    alerts.extend(rule.drain());
    assert_eq!(
        keys(&alerts),
        vec![
            (4 * HOUR, "EE".into(), 0),
            (4 * HOUR, "BB".into(), 0),
            (4 * HOUR + 900, "CC".into(), 0),
            (4 * HOUR + 900, "AA".into(), 0),
            (4 * HOUR + 1800, "DD".into(), 0),
        ]
    );
}

#[test]
fn records_that_leave_the_look_back_before_a_run_reaches_them_are_lost() {
    // One alert per run and a look-back that only covers two runs after availability.
    let config = RuleConfig {
        max_alerts_per_run: 1,
        lookback_secs: 4 * HOUR + 900,
        ..RuleConfig::default()
    };
    let mut rule = RuleReplay::new(config);
    let mut alerts = Vec::new();
    for value in ["AA", "BB", "CC"] {
        alerts.extend(rule.offer(&record(0, value, 90.0)));
    }
    alerts.extend(rule.drain());
    assert_eq!(keys(&alerts), vec![(4 * HOUR, "AA".into(), 0), (4 * HOUR + 900, "BB".into(), 0)]);
}

#[test]
fn runs_follow_the_fifteen_minute_cadence_across_buckets() {
    let mut rule = RuleReplay::new(RuleConfig::default());
    let mut alerts = Vec::new();
    alerts.extend(rule.offer(&record(0, "RU", 80.0)));
    alerts.extend(rule.offer(&record(3 * HOUR, "CN", 80.0)));
    let mut late = record(6 * HOUR, "KP", 80.0);
    late.available_secs = 10 * HOUR + 60;
    alerts.extend(rule.offer(&late));
    alerts.extend(rule.drain());
    assert_eq!(
        keys(&alerts),
        vec![
            (4 * HOUR, "RU".into(), 0),
            (7 * HOUR, "CN".into(), 3 * HOUR),
            (10 * HOUR + 900, "KP".into(), 6 * HOUR)
        ]
    );
    for a in &alerts {
        assert_eq!(a.rule_run_secs % 900, 0);
    }
}

fn sized(bucket_start_secs: i64, over_value: &str, actual_bytes: u64) -> AnomalyRecord {
    AnomalyRecord { actual_bytes, ..record(bucket_start_secs, over_value, 90.0) }
}

fn replay(records: &[AnomalyRecord]) -> (Vec<Alerted>, u64) {
    let mut rule = RuleReplay::new(RuleConfig::default());
    let mut alerts = Vec::new();
    for r in records {
        alerts.extend(rule.offer(r));
    }
    alerts.extend(rule.drain());
    (alerts, rule.joined_episode)
}

#[test]
fn an_episode_alerts_once_and_a_day_of_quiet_ends_it() {
    let (alerts, joined) = replay(&[
        sized(0, "RU", 50_000_000),
        sized(3 * HOUR, "RU", 60_000_000),
        sized(12 * HOUR, "RU", 40_000_000),
        // 24 hours after the last anomalous bucket: a new episode.
        sized(36 * HOUR, "RU", 50_000_000),
    ]);
    let starts: Vec<(i64, i64, bool)> = alerts
        .iter()
        .map(|a| (a.record.bucket_start_secs, a.episode_start_secs, a.escalation))
        .collect();
    assert_eq!(starts, vec![(0, 0, false), (36 * HOUR, 36 * HOUR, false)]);
    assert_eq!(joined, 2);
}

#[test]
fn a_tenfold_larger_bucket_alerts_again_as_an_escalation() {
    let (alerts, joined) = replay(&[
        sized(0, "RU", 2_000_000),
        sized(3 * HOUR, "RU", 19_999_999),
        sized(6 * HOUR, "RU", 20_000_000),
        sized(9 * HOUR, "RU", 100_000_000),
    ]);
    let starts: Vec<(i64, i64, bool)> = alerts
        .iter()
        .map(|a| (a.record.bucket_start_secs, a.episode_start_secs, a.escalation))
        .collect();
    assert_eq!(starts, vec![(0, 0, false), (6 * HOUR, 0, true)]);
    assert_eq!(joined, 2);
}

#[test]
fn a_backlog_of_one_values_buckets_alerts_once() {
    let config = RuleConfig { lookback_secs: 12 * HOUR, ..RuleConfig::default() };
    let mut rule = RuleReplay::new(config);
    let mut first = record(0, "KP", 80.0);
    let mut second = record(3 * HOUR, "KP", 95.0);
    first.available_secs = 7 * HOUR;
    second.available_secs = 7 * HOUR;
    let mut alerts = rule.offer(&first);
    alerts.extend(rule.offer(&second));
    alerts.extend(rule.drain());
    assert_eq!(keys(&alerts), vec![(7 * HOUR, "KP".into(), 0)]);
    assert_eq!(rule.joined_episode, 1);
}

#[test]
fn other_values_and_other_jobs_have_their_own_episodes() {
    let mut other_job = sized(3 * HOUR, "RU", 1);
    other_job.job_id = "other".into();
    let (alerts, joined) =
        replay(&[sized(0, "RU", 1), sized(0, "CN", 1), other_job, sized(3 * HOUR, "RU", 1)]);
    assert_eq!(alerts.len(), 3);
    assert_eq!(joined, 1);
}

#[test]
fn a_look_back_shorter_than_the_bucket_delay_is_rejected() {
    let config = RuleConfig { lookback_secs: 4 * HOUR, ..RuleConfig::default() };
    assert!(config.validate(4 * HOUR).is_err());
    assert!(RuleConfig::default().validate(4 * HOUR).is_ok());
}
