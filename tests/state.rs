//! The state database: a later run continues an earlier one exactly, input already processed
//! adds nothing, and a run that fails leaves the state as it was.

mod common;

use common::{alerting_from_start, default_options, fixture, gz_lines};
use geoexfil::job::JobConfig;
use geoexfil::run::run_detect;
use geoexfil::state::StateStore;
use std::path::{Path, PathBuf};

/// Writes the sample as two files: the header with the first half of the records, and the
/// header with the second half, as a log rotated mid-day would be.
fn split_sample(dir: &Path) -> (PathBuf, PathBuf) {
    let lines = gz_lines(&fixture("sample/ctu-sme-11-ubuntu.conn.log.gz"));
    let (header, data): (Vec<&String>, Vec<&String>) =
        lines.iter().partition(|l| l.starts_with('#'));
    let half = data.len() / 2;
    let write = |name: &str, part: &[&String]| {
        let path = dir.join(name);
        let text: Vec<&str> = header.iter().chain(part).map(|s| s.as_str()).collect();
        std::fs::write(&path, text.join("\n") + "\n").unwrap();
        path
    };
    (write("first.log", &data[..half]), write("second.log", &data[half..]))
}

#[test]
fn two_runs_with_state_give_what_one_run_gives() {
    let dir = tempfile::tempdir().unwrap();
    let (first, second) = split_sample(dir.path());

    let whole_db = dir.path().join("whole.sqlite");
    let mut whole = alerting_from_start(default_options(&[&first, &second]));
    whole.state = Some(whole_db.clone());
    let whole_outcome = run_detect(&whole).unwrap();

    let split_db = dir.path().join("split.sqlite");
    let mut run1 = alerting_from_start(default_options(&[&first]));
    run1.state = Some(split_db.clone());
    run1.flush = false;
    let outcome1 = run_detect(&run1).unwrap();
    let mut run2 = alerting_from_start(default_options(&[&second]));
    run2.state = Some(split_db.clone());
    let outcome2 = run_detect(&run2).unwrap();

    let job_id = JobConfig::country().job_id;
    let whole_store = StateStore::open(&whole_db).unwrap();
    let split_store = StateStore::open(&split_db).unwrap();
    let whole_alerts = whole_store.alerts(&job_id).unwrap();
    assert!(!whole_alerts.is_empty());
    assert_eq!(split_store.alerts(&job_id).unwrap(), whole_alerts);
    assert_eq!(split_store.records(&job_id).unwrap(), whole_store.records(&job_id).unwrap());
    assert_eq!(outcome1.alerts.len() + outcome2.alerts.len(), whole_outcome.alerts.len());
}

#[test]
fn input_already_processed_adds_no_alerts_and_no_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("state.sqlite");
    let sample = fixture("sample/ctu-sme-11-ubuntu.conn.log.gz");
    let mut options = alerting_from_start(default_options(&[&sample]));
    options.state = Some(db.clone());
    let first = run_detect(&options).unwrap();
    assert_eq!(first.alerts.len(), 1);

    let again = run_detect(&options).unwrap();
    assert!(again.alerts.is_empty());
    assert!(again.summary.contains("(resumed after line 7132)"), "{}", again.summary);
    assert!(again.summary.contains("0 counted"), "{}", again.summary);
    let store = StateStore::open(&db).unwrap();
    assert_eq!(store.alerts(&JobConfig::country().job_id).unwrap().len(), 1);

    // The same flows from standard input or a renamed copy are caught by the data's clock.
    let copy = dir.path().join("renamed.log");
    let lines = gz_lines(&sample);
    // Dropping the "#open" line changes the fingerprint, as a different file would.
    let changed: Vec<&str> =
        lines.iter().filter(|l| !l.starts_with("#open")).map(|s| s.as_str()).collect();
    std::fs::write(&copy, changed.join("\n") + "\n").unwrap();
    let mut copied = alerting_from_start(default_options(&[&copy]));
    copied.state = Some(db.clone());
    let outcome = run_detect(&copied).unwrap();
    assert!(outcome.alerts.is_empty());
    assert!(outcome.summary.contains("already_processed"), "{}", outcome.summary);
    assert_eq!(store.alerts(&JobConfig::country().job_id).unwrap().len(), 1);
}

#[test]
fn a_run_that_fails_leaves_the_state_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("state.sqlite");
    let sample = fixture("sample/ctu-sme-11-ubuntu.conn.log.gz");
    let mut options = alerting_from_start(default_options(&[&sample]));
    options.state = Some(db.clone());
    run_detect(&options).unwrap();
    let before = std::fs::read(&db).unwrap();

    // Same job id, different bucket span: refused before anything is written.
    let mut other = options.clone();
    other.job.bucket_secs = 3600;
    let error = run_detect(&other).err().expect("mismatched settings are refused");
    let expected = "other settings (job setting bucket_secs: saved 10800, given 3600)";
    assert!(error.to_string().contains(expected), "{error}");
    let store = StateStore::open(&db).unwrap();
    assert_eq!(store.alerts(&JobConfig::country().job_id).unwrap().len(), 1);
    drop(store);
    assert_eq!(std::fs::read(&db).unwrap().len(), before.len());
}

#[test]
fn a_log_compressed_on_rotation_is_still_known() {
    let dir = tempfile::tempdir().unwrap();
    let (first, second) = split_sample(dir.path());
    let db = dir.path().join("state.sqlite");
    let mut run1 = alerting_from_start(default_options(&[&first]));
    run1.state = Some(db.clone());
    run1.flush = false;
    run_detect(&run1).unwrap();

    // The rotated log is the same content, compressed and renamed.
    let rotated = dir.path().join("first.log.1.gz");
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut encoder, &std::fs::read(&first).unwrap()).unwrap();
    std::fs::write(&rotated, encoder.finish().unwrap()).unwrap();
    let mut run2 = alerting_from_start(default_options(&[&rotated, &second]));
    run2.state = Some(db.clone());
    let outcome = run_detect(&run2).unwrap();
    assert!(outcome.summary.contains("(resumed after line 3570)"), "{}", outcome.summary);

    let whole_db = dir.path().join("whole.sqlite");
    let mut whole = alerting_from_start(default_options(&[&first, &second]));
    whole.state = Some(whole_db.clone());
    run_detect(&whole).unwrap();
    let job_id = JobConfig::country().job_id;
    let alerts = StateStore::open(&db).unwrap().alerts(&job_id).unwrap();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts, StateStore::open(&whole_db).unwrap().alerts(&job_id).unwrap());
}

/// Runs the binary with `stdin_bytes` piped in; returns its standard error.
fn detect_from_stdin(args: &[&str], stdin_bytes: &[u8]) -> String {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_geoexfil"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin_bytes).unwrap();
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0));
    String::from_utf8(output.stderr).unwrap()
}

#[test]
fn the_same_data_piped_in_again_is_read_past_not_counted_twice_in_open_buckets() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("state.sqlite");
    let sample = std::fs::read(fixture("sample/ctu-sme-11-ubuntu.conn.log.gz")).unwrap();
    // Without --flush the last buckets stay open in the state, where a second copy of their
    // flows would add to them.
    let args = ["detect", "--state", db.to_str().unwrap(), "-"];
    let first = detect_from_stdin(&args, &sample);
    assert!(first.contains("6,682 counted") && first.contains("1 left open"), "{first}");
    let again = detect_from_stdin(&args, &sample);
    assert!(again.contains("(resumed after line 7132)"), "{again}");
    assert!(again.contains("0 counted"), "{again}");
}

#[test]
fn another_programs_database_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inventory.sqlite");
    let other = rusqlite::Connection::open(&db).unwrap();
    other.execute_batch("CREATE TABLE hosts (name TEXT); INSERT INTO hosts VALUES ('a');").unwrap();
    drop(other);
    let before = std::fs::read(&db).unwrap();
    let mut options = default_options(&[&fixture("sample/ctu-sme-11-ubuntu.conn.log.gz")]);
    options.state = Some(db.clone());
    let error = run_detect(&options).err().expect("a foreign database is refused").to_string();
    assert!(error.contains("is a SQLite database of something else (tables hosts)"), "{error}");
    assert_eq!(std::fs::read(&db).unwrap(), before);
    // A table called meta is not enough to pass for a state database.
    let settings = dir.path().join("settings.sqlite");
    let other = rusqlite::Connection::open(&settings).unwrap();
    other.execute_batch("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);").unwrap();
    drop(other);
    let before = std::fs::read(&settings).unwrap();
    options.state = Some(settings.clone());
    let error = run_detect(&options).err().expect("refused").to_string();
    assert!(error.contains("something else (tables meta)"), "{error}");
    assert_eq!(std::fs::read(&settings).unwrap(), before);
}

#[test]
fn the_state_file_inside_an_input_directory_is_not_read_and_an_output_on_it_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    std::fs::copy(fixture("sample/ctu-sme-11-ubuntu.conn.log.gz"), logs.join("conn.log.gz"))
        .unwrap();
    let db = logs.join("state.sqlite");
    let mut options = alerting_from_start(default_options(&[&logs]));
    options.state = Some(db.clone());
    let first = run_detect(&options).unwrap();
    assert_eq!(first.exit_code, 0, "{}", first.summary);
    // The second run finds the database (and its side files) in the directory and skips it.
    let again = run_detect(&options).unwrap();
    assert_eq!(again.exit_code, 0, "{}", again.summary);
    assert!(again.summary.contains("inputs: 1,"), "{}", again.summary);
    // Alerts written onto the state would erase it.
    options.alerts = Some(geoexfil::run::Sink::File(db.clone()));
    let error = run_detect(&options).err().expect("refused").to_string();
    assert!(error.contains("--state and --alerts name the same file"), "{error}");
    assert!(StateStore::open(&db).is_ok());
}

#[test]
fn a_log_shorter_than_its_fingerprint_that_grows_resumes_after_its_last_line() {
    let dir = tempfile::tempdir().unwrap();
    let lines = gz_lines(&fixture("sample/ctu-sme-11-ubuntu.conn.log.gz"));
    let log = dir.path().join("conn.log");
    // Just after rotation: the header and a few flows, under 4 KiB.
    let short = lines[..12].join("\n") + "\n";
    assert!(short.len() < 4096);
    std::fs::write(&log, &short).unwrap();
    let db = dir.path().join("state.sqlite");
    let mut options = default_options(&[&log]);
    options.state = Some(db.clone());
    options.flush = false;
    run_detect(&options).unwrap();
    std::fs::write(&log, lines[..200].join("\n") + "\n").unwrap();
    let grown = run_detect(&options).unwrap();
    assert!(grown.summary.contains("(resumed after line 12)"), "{}", grown.summary);
}

#[test]
fn a_second_copy_in_the_same_run_is_read_past() {
    let dir = tempfile::tempdir().unwrap();
    let sample = fixture("sample/ctu-sme-11-ubuntu.conn.log.gz");
    let copy = dir.path().join("copy.log");
    std::fs::write(&copy, gz_lines(&sample).join("\n") + "\n").unwrap();
    let once = run_detect(&default_options(&[&sample])).unwrap();
    let twice = run_detect(&default_options(&[&sample, &copy])).unwrap();
    assert!(once.summary.contains("6,682 counted"), "{}", once.summary);
    assert!(twice.summary.contains("6,682 counted"), "{}", twice.summary);
    assert!(twice.summary.contains("(resumed after line 7132)"), "{}", twice.summary);
}
