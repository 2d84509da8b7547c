//! The parallel pipeline gives the same results at any thread count.
//!
//! Inputs are cut into batches independently of the number of threads, and prepared batches
//! are folded in input order, so alerts, records and the summary's counts must not depend on
//! `--threads`. The inputs span many batches and include what depends on order: duplicates
//! of one connection in different batches, flows that arrive too late for their bucket,
//! broken lines and a header in the middle of the file.

mod common;

use common::{alerting_from_start, default_options, fixture, gz_lines, zeek_line};
use geoexfil::read::source::BATCH_LINES;
use geoexfil::run::{run_detect, Sink};
use std::path::Path;

/// The alert and record documents of one run, and its summary without the timing line.
fn run_with_threads(inputs: &[&Path], threads: usize, out: &Path) -> (String, String, String) {
    let alerts = out.join(format!("alerts-{threads}.ndjson"));
    let records = out.join(format!("records-{threads}.ndjson"));
    let mut options = alerting_from_start(default_options(inputs));
    options.threads = threads;
    options.alerts = Some(Sink::File(alerts.clone()));
    options.records = Some(Sink::File(records.clone()));
    let outcome = run_detect(&options).expect("the run completes");
    (
        std::fs::read_to_string(alerts).unwrap(),
        std::fs::read_to_string(records).unwrap(),
        outcome.summary,
    )
}

/// A Zeek file of several batches: the shipped sample, then its data lines again 16 days
/// later with the same connection identifiers, broken lines every thousand lines, a repeated
/// header, and every 500th flow also written an hour and a half late.
fn order_sensitive_input(dir: &Path) -> std::path::PathBuf {
    let lines = gz_lines(&fixture("sample/ctu-botnet-4.conn.log.gz"));
    let (header, data): (Vec<&String>, Vec<&String>) =
        lines.iter().partition(|line| line.starts_with('#'));
    let mut out: Vec<String> = header.iter().map(|l| l.to_string()).collect();
    let shift = 16.0 * 86_400.0;
    for (copy, offset) in [(0, 0.0), (1, shift)] {
        if copy == 1 {
            out.extend(header.iter().map(|l| l.to_string()));
        }
        for (index, line) in data.iter().enumerate() {
            let mut fields: Vec<String> = line.split('\t').map(str::to_string).collect();
            let ts: f64 = fields[0].parse().unwrap();
            fields[0] = format!("{:.6}", ts + offset);
            out.push(fields.join("\t"));
            if index % 1000 == 7 {
                out.push(format!("{:.6}\tbroken line", ts + offset));
            }
            if index % 500 == 3 {
                out.push(zeek_line(ts + offset - 5400.0, "147.32.84.165", "8.8.8.8", 443, 9_000));
            }
        }
    }
    assert!(out.len() > 4 * BATCH_LINES, "the input spans several batches");
    let path = dir.join("order-sensitive.conn.log");
    std::fs::write(&path, out.join("\n") + "\n").unwrap();
    path
}

#[test]
fn one_and_two_threads_give_identical_alerts_records_and_counts() {
    let dir = tempfile::tempdir().unwrap();
    let generated = order_sensitive_input(dir.path());
    let sample = fixture("sample/ctu-sme-11-ubuntu.conn.log.gz");
    let inputs = [generated.as_path(), sample.as_path()];
    let one = run_with_threads(&inputs, 1, dir.path());
    let two = run_with_threads(&inputs, 2, dir.path());
    let three = run_with_threads(&inputs, 3, dir.path());
    assert!(one.0.lines().count() > 0, "the input raises alerts:\n{}", one.2);
    assert!(one.1.lines().count() > one.0.lines().count());
    assert!(one.2.contains("bad lines"), "broken lines are reported:\n{}", one.2);
    assert_eq!(one.0, two.0, "alerts differ between 1 and 2 threads");
    assert_eq!(one.1, two.1, "records differ between 1 and 2 threads");
    assert_eq!(one.2, two.2, "summaries differ between 1 and 2 threads");
    assert_eq!(one, three);
}
