//! A known exfiltration injected into real background traffic is found, at the right bucket
//! and country, naming the right host; the same background alone stays quiet.

mod common;

use common::{default_options, fixture, gz_lines, insert_by_time, zeek_line};
use geoexfil::run::run_detect;
use serde_json::Value;
use std::path::Path;

const DAY: f64 = 86_400.0;
const HOUR: f64 = 3_600.0;
/// The injected transfer: 200 MB in 40 flows of 5 MB from 10:00 to 10:59 on day 8.
const INJECTION_START: f64 = 8.0 * DAY + 10.0 * HOUR;
const HOST: &str = "10.0.2.19";
/// North Korea, which the background never contacts.
const COUNTRY: &str = "KP";

fn injected_flows() -> Vec<String> {
    (0..40)
        .map(|i| {
            let ts = INJECTION_START + f64::from(i) * 90.0;
            let destination = format!("175.45.176.{}", 10 + i % 3);
            zeek_line(ts, HOST, &destination, 443, 5_000_000)
        })
        .collect()
}

fn run_on(lines: &[String]) -> Vec<Value> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("conn.log");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let outcome = run_detect(&default_options(&[Path::new(&path)])).unwrap();
    assert_eq!(outcome.exit_code, 0, "{}", outcome.summary);
    outcome.alerts
}

fn background() -> Vec<String> {
    gz_lines(&fixture("sample/ctu-botnet-4.conn.log.gz"))
}

#[test]
fn a_200_mb_upload_to_a_new_country_alerts_in_its_bucket_naming_the_host() {
    let alerts = run_on(&insert_by_time(&background(), &injected_flows()));
    let bucket_ms = ((INJECTION_START / (3.0 * HOUR)).floor() * 3.0 * HOUR * 1000.0) as i64;
    let found: Vec<&Value> = alerts.iter().filter(|a| a["over_field_value"] == COUNTRY).collect();
    assert_eq!(found.len(), 1, "alerts: {alerts:#?}");
    let alert = found[0];
    assert_eq!(alert["timestamp"], bucket_ms);
    assert_eq!(alert["actual"][0], 200_000_000.0);
    assert_eq!(alert["typical"][0], 0.0);
    let score = alert["record_score"].as_f64().unwrap();
    assert!(score >= 75.0, "score {score}");
    assert_eq!(alert["source"]["ip"][0], HOST);
    assert_eq!(alert["destination"]["geo"]["country_iso_code"][0], COUNTRY);
    assert_eq!(alert["geoexfil"]["flow_count"], 40);
    assert_eq!(alert["geoexfil"]["baseline"]["first_seen"], true);
    let explanation = alert["geoexfil"]["explanation"].as_str().unwrap();
    assert!(explanation.starts_with("10.0.2.19 sent 200 MB to "), "{explanation}");
    // Nothing alerts for the host in any bucket that ended before the transfer started.
    let before: Vec<&Value> = alerts
        .iter()
        .filter(|a| {
            let end_ms =
                a["timestamp"].as_i64().unwrap() + a["bucket_span"].as_i64().unwrap() * 1000;
            end_ms <= (INJECTION_START * 1000.0) as i64
        })
        .filter(|a| a["source"]["ip"].as_array().unwrap().iter().any(|ip| ip == HOST))
        .collect();
    assert!(before.is_empty(), "alerts before the transfer: {before:#?}");
}

#[test]
fn the_same_background_without_the_injection_raises_no_alert_for_that_country() {
    let alerts = run_on(&background());
    assert!(alerts.iter().all(|a| a["over_field_value"] != COUNTRY));
    // The real background is quiet altogether at the default threshold.
    assert_eq!(alerts.len(), 0, "{alerts:#?}");
}

#[test]
fn a_small_transfer_to_a_new_country_stays_quiet() {
    let small: Vec<String> = (0..4)
        .map(|i| zeek_line(INJECTION_START + f64::from(i) * 60.0, HOST, "175.45.176.10", 443, 900))
        .collect();
    let alerts = run_on(&insert_by_time(&background(), &small));
    assert!(alerts.iter().all(|a| a["over_field_value"] != COUNTRY), "{alerts:#?}");
}

/// A drip: `bytes` every three hours from 10.0.2.19 to North Korea, for `buckets` buckets
/// starting on day 8.
fn drip(bytes: u64, buckets: u32) -> Vec<String> {
    (0..buckets)
        .map(|i| {
            let ts = INJECTION_START + f64::from(i) * 3.0 * HOUR;
            zeek_line(ts, HOST, "175.45.176.10", 443, bytes)
        })
        .collect()
}

#[test]
fn a_drip_too_thin_for_any_bucket_alerts_once_on_its_day_window() {
    // 800 kB every three hours: no bucket reaches the 1 MB floor; a day holds 6.4 MB.
    let alerts = run_on(&insert_by_time(&background(), &drip(800_000, 16)));
    let found: Vec<&Value> = alerts.iter().filter(|a| a["over_field_value"] == COUNTRY).collect();
    assert_eq!(found.len(), 1, "one alert for the episode: {found:#?}");
    let alert = found[0];
    assert_eq!(alert["actual"][0], 800_000.0);
    assert_eq!(alert["geoexfil"]["bucket_probability"], 1.0);
    let day = &alert["geoexfil"]["windows"][0];
    assert_eq!(day["span_secs"], 86_400);
    // The day window reaches the floor at the second bucket (1.6 MB) and alerts when unusual.
    let total = day["total_bytes"].as_u64().unwrap();
    assert!(total >= 1_600_000 && total % 800_000 == 0, "{day}");
    assert_eq!(alert["source"]["ip"][0], HOST);
    let reason = alert["kibana.alert.reason"].as_str().unwrap();
    assert!(reason.contains("over the last day"), "{reason}");
    assert_eq!(alert["geoexfil"]["episode"]["escalation"], false);
}

#[test]
fn a_transfer_lasting_many_buckets_alerts_once() {
    // 50 MB every three hours for a day and a half: one episode, one alert.
    let alerts = run_on(&insert_by_time(&background(), &drip(50_000_000, 12)));
    let found: Vec<&Value> = alerts.iter().filter(|a| a["over_field_value"] == COUNTRY).collect();
    assert_eq!(found.len(), 1, "{found:#?}");
    let bucket_ms = ((INJECTION_START / (3.0 * HOUR)).floor() * 3.0 * HOUR * 1000.0) as i64;
    assert_eq!(found[0]["timestamp"], bucket_ms);
    assert_eq!(found[0]["geoexfil"]["episode"]["start"], found[0]["kibana.alert.original_time"]);
}
