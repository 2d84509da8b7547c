//! A run killed in the middle leaves the state database as the previous run left it, and
//! repeating the run then gives exactly what an uninterrupted run gives.

mod common;

use common::{fixture, gz_lines};
use geoexfil::job::JobConfig;
use geoexfil::state::StateStore;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

/// `geoexfil detect` reading standard input into the state database `db`.
fn detect_stdin(db: &str) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_geoexfil"))
        .args(["detect", "--learning-period", "0s", "--state", db, "--flush"])
        .args(["--alerts", "/dev/null", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn detect_from_stdin(db: &str, input: &str) -> std::process::Output {
    let mut child = detect_stdin(db);
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn a_killed_run_leaves_no_trace_and_can_be_repeated() {
    let dir = tempfile::tempdir().unwrap();
    let lines = gz_lines(&fixture("sample/ctu-sme-11-ubuntu.conn.log.gz"));
    let whole = lines.join("\n") + "\n";
    let job_id = JobConfig::country().job_id;

    let killed_db = dir.path().join("killed.sqlite");
    let killed_db = killed_db.to_str().unwrap();
    let mut child = detect_stdin(killed_db);
    let mut stdin = child.stdin.take().unwrap();
    // Most of the day, so that buckets close and records are written inside the run's
    // transaction; then the process dies before its input ends.
    let most = lines[..lines.len() * 9 / 10].join("\n") + "\n";
    stdin.write_all(most.as_bytes()).unwrap();
    stdin.flush().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    child.kill().unwrap();
    child.wait().unwrap();
    drop(stdin);

    let store = StateStore::open(killed_db.as_ref()).unwrap();
    assert!(store.load_detector(&job_id).unwrap().is_none());
    assert!(store.records(&job_id).unwrap().is_empty());
    assert!(store.alerts(&job_id).unwrap().is_empty());
    drop(store);

    let repeated = detect_from_stdin(killed_db, &whole);
    assert_eq!(repeated.status.code(), Some(0));
    let clean_db = dir.path().join("clean.sqlite");
    let clean = detect_from_stdin(clean_db.to_str().unwrap(), &whole);
    assert_eq!(clean.status.code(), Some(0));

    let repeated_store = StateStore::open(killed_db.as_ref()).unwrap();
    let clean_store = StateStore::open(&clean_db).unwrap();
    assert_eq!(repeated_store.alerts(&job_id).unwrap().len(), 1);
    assert_eq!(repeated_store.alerts(&job_id).unwrap(), clean_store.alerts(&job_id).unwrap());
    assert_eq!(repeated_store.records(&job_id).unwrap(), clean_store.records(&job_id).unwrap());
}

#[test]
fn identical_input_gives_identical_alerts() {
    let sample = fixture("sample/ctu-sme-11-ubuntu.conn.log.gz");
    let run = || {
        let output = Command::new(env!("CARGO_BIN_EXE_geoexfil"))
            .args(["detect", "--threshold", "5", "--learning-period", "0s", "--records", "-"])
            .arg(&sample)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(0));
        output.stdout
    };
    let first = run();
    assert!(first.len() > 10_000, "expected records and alerts on stdout");
    assert_eq!(first, run());
}
