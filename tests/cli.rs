//! The binary on real files: the quick-start run, bad input, and argument errors.

mod common;

use common::{fixture, gz_lines};
use flate2::write::GzEncoder;
use std::io::Write;
use std::process::{Command, Output};

fn geoexfil(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_geoexfil")).args(args).output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn the_quick_start_run_is_in_its_learning_period_and_says_so() {
    let sample = fixture("sample/ctu-sme-11-ubuntu.conn.log.gz");
    let output = geoexfil(&["detect", sample.to_str().unwrap()]);
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert_eq!(stdout, "");
    assert!(stderr.contains("learning period: records until 2023-02-23 00:00 UTC"), "{stderr}");
    assert!(
        stderr.contains(
            "no alerts: no record scored 75 or more outside the learning period (highest: 82.1 \
             for Netherlands (NL) at 2023-02-20 09:00)"
        ),
        "{stderr}"
    );
}

#[test]
fn without_a_learning_period_the_sample_alerts_with_exact_totals() {
    let sample = fixture("sample/ctu-sme-11-ubuntu.conn.log.gz");
    let output = geoexfil(&["detect", "--learning-period", "0s", sample.to_str().unwrap()]);
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("7,132 lines  7,124 flows  0 bad lines"), "{stderr}");
    assert!(
        stderr.contains(
            "flows: 7,124 read, 6,682 counted (153 MB sent), 442 records skipped; 25 values"
        ),
        "{stderr}"
    );
    for (reason, count) in [
        ("source_not_internal", "9"),
        ("destination_not_public", "282"),
        ("zero_bytes_sent", "79"),
        ("bytes_unknown", "72"),
    ] {
        let row = stderr.lines().find(|l| l.trim_start().starts_with(reason)).unwrap();
        assert_eq!(row.split_whitespace().nth(1), Some(count), "{row}");
    }
    assert!(stderr.contains("6 buckets closed, 0 left open"), "{stderr}");
    let alerts: Vec<serde_json::Value> =
        stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0]["over_field_value"], "NL");
    assert_eq!(alerts[0]["geoexfil"]["bucket_start"], "2023-02-20T09:00:00Z");
    assert_eq!(alerts[0]["actual"][0], 3_624_036.0);
    assert!(stderr.contains("Netherlands (NL)"), "{stderr}");
}

/// The sample's header and first records, with four lines broken in four ways.
fn broken_log() -> (String, usize) {
    let lines = gz_lines(&fixture("sample/ctu-sme-11-ubuntu.conn.log.gz"));
    let mut kept: Vec<String> = lines[..40].to_vec();
    kept[11] = kept[11].replacen("192.168.1.109", "192.168.1.x", 1);
    let mut columns: Vec<&str> = kept[14].split('\t').collect();
    columns[9] = "lots";
    kept[14] = columns.join("\t");
    kept[19] = kept[19].replacen(kept[19].split('\t').next().unwrap(), "yesterday", 1);
    kept[21] = kept[21].split('\t').take(5).collect::<Vec<_>>().join("\t");
    let records = kept.iter().filter(|l| !l.starts_with('#')).count();
    (kept.join("\n") + "\n", records)
}

#[test]
fn bad_lines_are_named_counted_and_the_rest_is_processed() {
    let dir = tempfile::tempdir().unwrap();
    let (log, records) = broken_log();
    let path = dir.path().join("broken.log");
    std::fs::write(&path, log).unwrap();
    let output = geoexfil(&["detect", path.to_str().unwrap()]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    let name = path.display().to_string();
    assert!(stderr.contains(&format!("{name}:12: field `id.orig_h`")), "{stderr}");
    assert!(stderr.contains(&format!("{name}:15: field `orig_bytes`")), "{stderr}");
    assert!(stderr.contains(&format!("{name}:20: field `ts`")), "{stderr}");
    assert!(stderr.contains(&format!("{name}:22: ")), "{stderr}");
    assert!(stderr.contains(&format!("{} flows  4 bad lines", records - 4)), "{stderr}");
    for reason in ["bad_address", "bad_value", "bad_timestamp", "malformed_line"] {
        let row = stderr.lines().find(|l| l.trim_start().starts_with(reason)).unwrap();
        assert_eq!(row.split_whitespace().nth(1), Some("1"), "{row}");
    }
}

#[test]
fn a_truncated_gzip_file_keeps_what_was_read_and_other_inputs_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let lines = gz_lines(&fixture("sample/ctu-sme-11-ubuntu.conn.log.gz"));
    let mut encoder = GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all((lines.join("\n") + "\n").as_bytes()).unwrap();
    let compressed = encoder.finish().unwrap();
    let truncated = dir.path().join("cut.log.gz");
    std::fs::write(&truncated, &compressed[..compressed.len() / 2]).unwrap();
    let garbage = dir.path().join("notes.txt");
    std::fs::write(&garbage, "this is not a log\n").unwrap();
    let output = geoexfil(&["detect", truncated.to_str().unwrap(), garbage.to_str().unwrap()]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("truncated or incomplete gzip"), "{stderr}");
    assert!(stderr.contains("truncated_input"), "{stderr}");
    assert!(stderr.contains("notes.txt  not read:"), "{stderr}");
    assert!(stderr.contains("--format"), "{stderr}");
}

#[test]
fn a_bad_internal_network_is_refused_with_the_value_named() {
    let sample = fixture("sample/ctu-sme-11-ubuntu.conn.log.gz");
    let output = geoexfil(&["detect", "--internal", "10.0.0.0/33", sample.to_str().unwrap()]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("10.0.0.0/33"), "{stderr}");
}

#[test]
fn version_credits_the_embedded_geoip_database() {
    let output = geoexfil(&["--version"]);
    assert!(text(&output.stdout).contains("IP Geolocation by DB-IP"));
}

/// The sample's header and first records, plus extra lines.
fn sample_with(extra: &[String]) -> String {
    let mut lines = gz_lines(&fixture("sample/ctu-sme-11-ubuntu.conn.log.gz"))[..40].to_vec();
    lines.extend_from_slice(extra);
    lines.join("\n") + "\n"
}

/// Runs detect on the first lines of the sample with a flow at `ts` placed before its first
/// flow, as line 9; returns the exit code and standard error.
fn detect_with_first_flow_at(ts: f64) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let odd = common::zeek_line(ts, "192.168.1.109", "8.8.8.8", 443, 1000);
    let path = dir.path().join("odd.log");
    let sample = sample_with(&[]);
    let (header, data) = sample.split_at(sample.find("\n1676").unwrap() + 1);
    std::fs::write(&path, format!("{header}{odd}\n{data}")).unwrap();
    let output = geoexfil(&["detect", path.to_str().unwrap()]);
    (output.status.code(), text(&output.stderr))
}

#[test]
fn a_flow_from_the_future_is_a_bad_timestamp_and_does_not_stop_the_clock() {
    // The future line comes first: were it accepted, every real flow after it would be late.
    let (code, stderr) = detect_with_first_flow_at(4_102_444_800.0);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains(":9: flow time 2100-01-01T00:00:00Z lies in the future"), "{stderr}");
    assert!(!stderr.contains("too_late"), "{stderr}");
}

#[test]
fn a_flow_before_1970_is_a_bad_timestamp_and_does_not_set_the_first_bucket() {
    let (code, stderr) = detect_with_first_flow_at(-1_676_851_329.5);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains(":9: flow time 1916-11-11T23:57:50Z lies before 1970"), "{stderr}");
    // The job starts with the real flows: its learning period and clock are theirs.
    assert!(stderr.contains("records until 2023-02-23 00:00 UTC"), "{stderr}");
    assert!(stderr.contains("time covered: 2023-02-20 00:03 .. 2023-02-20 00:43 UTC"));
    assert!(stderr.contains("22 counted") && !stderr.contains("too_late"), "{stderr}");
}

#[test]
fn an_impossible_byte_count_is_rejected_not_wrapped() {
    let dir = tempfile::tempdir().unwrap();
    let glitch = common::zeek_line(1_676_851_500.0, "192.168.1.109", "8.8.8.8", 443, u64::MAX);
    let path = dir.path().join("glitch.log");
    std::fs::write(&path, sample_with(&[glitch])).unwrap();
    let output = geoexfil(&["detect", path.to_str().unwrap()]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("glitch.log:41: bytes sent 18446744073709551615 is more"), "{stderr}");
}

#[test]
fn a_missing_input_is_reported_and_the_others_are_read() {
    let sample = fixture("sample/ctu-sme-11-ubuntu.conn.log.gz");
    let output = geoexfil(&["detect", "/no/such/conn.log", sample.to_str().unwrap()]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("/no/such/conn.log  not read:"), "{stderr}");
    assert!(stderr.contains("7,124 read, 6,682 counted"), "{stderr}");
}

#[test]
fn the_region_job_is_refused_on_a_country_database() {
    let sample = fixture("sample/ctu-sme-11-ubuntu.conn.log.gz");
    let output = geoexfil(&["detect", "--job", "region", sample.to_str().unwrap()]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("has no regions; give a City database with --geoip"), "{stderr}");
}

#[test]
fn usage_errors_exit_1_so_that_2_keeps_its_meaning() {
    let output = geoexfil(&["detect", "--job", "nope", "x.log"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stderr).contains("unknown job \"nope\""));
}

#[test]
fn alerts_that_cannot_be_written_are_not_recorded_as_done() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("state.sqlite");
    let sample = fixture("sample/ctu-sme-11-ubuntu.conn.log.gz");
    let (db, sample) = (db.to_str().unwrap(), sample.to_str().unwrap());
    let args = ["detect", "--learning-period", "0s", "--flush", "--state", db];
    let failed = geoexfil(&[&args[..], &["--alerts", "/dev/full", sample]].concat());
    assert_eq!(failed.status.code(), Some(1));
    let retry = geoexfil(&[&args[..], &[sample]].concat());
    let stdout = text(&retry.stdout);
    assert_eq!(retry.status.code(), Some(0), "{}", text(&retry.stderr));
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(stdout.contains("\"over_field_value\":\"NL\""));
}

#[test]
fn reaching_the_over_value_limit_is_reported() {
    let sample = fixture("sample/ctu-sme-11-ubuntu.conn.log.gz");
    let output = geoexfil(&["detect", "--max-over-values", "5", sample.to_str().unwrap()]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("limit reached: 35 records of over values beyond --max-over-values 5"),
        "{stderr}"
    );
}

#[test]
fn a_file_given_twice_is_read_once() {
    let sample = fixture("sample/ctu-sme-11-ubuntu.conn.log.gz");
    let path = sample.to_str().unwrap();
    let output = geoexfil(&["detect", path, path]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("input given more than once; read once"), "{stderr}");
    assert!(stderr.contains("flows: 7,124 read, 6,682 counted"), "{stderr}");
}

#[test]
fn a_run_with_no_alerts_allowed_per_run_is_refused() {
    let sample = fixture("sample/ctu-sme-11-ubuntu.conn.log.gz");
    let output = geoexfil(&["detect", "--max-alerts-per-run", "0", sample.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stderr).contains("give 1 or more"), "{}", text(&output.stderr));
}

#[test]
fn a_generated_log_is_detected_with_no_bad_lines_and_the_data_alone_on_stdout() {
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("generated.conn.log.gz");
    let common = ["--flows", "4000", "--hosts", "60", "--days", "4", "--destinations", "500"];
    let mut args = vec!["generate", "--format", "zeek-tsv", "--seed", "3"];
    args.extend(common);
    let to_stdout = geoexfil(&args);
    assert_eq!(to_stdout.status.code(), Some(0), "{}", text(&to_stdout.stderr));
    let stdout = text(&to_stdout.stdout);
    assert!(stdout.starts_with("#separator \\x09\n"), "{}", &stdout[..40]);
    assert_eq!(stdout.lines().filter(|l| !l.starts_with('#')).count(), 4_000);
    let summary = text(&to_stdout.stderr);
    assert!(summary.starts_with("generated 4000 flows"), "{summary}");
    args.extend(["--output", path.to_str().unwrap()]);
    let to_file = geoexfil(&args);
    assert_eq!(to_file.status.code(), Some(0), "{}", text(&to_file.stderr));
    assert_eq!(text(&to_file.stdout), "");
    assert_eq!(text(&to_file.stderr), summary);
    assert_eq!(gz_lines(&path).join("\n") + "\n", stdout);
    let detected = geoexfil(&["detect", path.to_str().unwrap()]);
    let stderr = text(&detected.stderr);
    assert_eq!(detected.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("4,000 flows  0 bad lines"), "{stderr}");
    assert!(stderr.contains("flows: 4,000 read, 4,000 counted"), "{stderr}");
}

#[test]
fn generate_refuses_bad_sizes_and_formats_naming_the_value() {
    let output = geoexfil(&["generate", "--format", "zeek-tsv", "--bytes", "10 parsecs"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stderr).contains("\"parsecs\""), "{}", text(&output.stderr));
    let output = geoexfil(&["generate", "--format", "pcap"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stderr).contains("\"pcap\""), "{}", text(&output.stderr));
    let both = geoexfil(&["generate", "--format", "ecs", "--flows", "5", "--bytes", "1MB"]);
    assert_eq!(both.status.code(), Some(1));
}

#[test]
fn an_output_that_is_also_an_input_or_another_output_is_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("conn.log");
    std::fs::copy(fixture("read/zeek-json-conn.log"), &log).unwrap();
    let before = std::fs::read(&log).unwrap();
    let output = geoexfil(&["detect", "--alerts", log.to_str().unwrap(), log.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("--alerts") && stderr.contains("is also an input"), "{stderr}");
    assert_eq!(std::fs::read(&log).unwrap(), before);
    let same = dir.path().join("out.ndjson");
    let relative_same = dir.path().join(".").join("out.ndjson");
    let output = geoexfil(&[
        "detect",
        "--alerts",
        same.to_str().unwrap(),
        "--records",
        relative_same.to_str().unwrap(),
        log.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("--alerts and --records name the same file"), "{stderr}");
    assert!(!same.exists());
    // Both to /dev/null is fine.
    let output = geoexfil(&[
        "detect",
        "--alerts",
        "/dev/null",
        "--records",
        "/dev/null",
        log.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
}

#[test]
fn a_closed_standard_error_does_not_crash_the_run() {
    use std::process::Stdio;
    let sample = fixture("sample/ctu-sme-11-ubuntu.conn.log.gz");
    let mut child = Command::new(env!("CARGO_BIN_EXE_geoexfil"))
        .args(["detect", "--alerts", "/dev/null", sample.to_str().unwrap()])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The reader goes away before the summary is written, as `2>&1 | head -1` does.
    drop(child.stderr.take());
    assert_eq!(child.wait().unwrap().code(), Some(0));
}

#[test]
fn meaningless_thread_counts_and_evaluation_lengths_are_refused() {
    let output = geoexfil(&["detect", "--threads", "0", "-"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stderr).contains("give at least 1 thread"), "{}", text(&output.stderr));
    let output = geoexfil(&["eval", "--days", "3", "--out", "/dev/null"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("--days 3 is too short") && stderr.contains("12 days"), "{stderr}");
    let output = geoexfil(&["detect", "--pair-retention", "500ms", "-"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stderr).contains("500ms is not a whole number of seconds"));
    let output = geoexfil(&["eval", "--repeats", "0", "--out", "/dev/null"]);
    assert!(text(&output.stderr).contains("--repeats must be at least 1"));
}

#[test]
fn an_error_says_each_cause_once() {
    let sample = fixture("read/zeek-json-conn.log");
    let output =
        geoexfil(&["detect", "--state", "/nonexistent/dir/s.sqlite", sample.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(stderr.starts_with("error: state database /nonexistent/dir/s.sqlite: "), "{stderr}");
    assert_eq!(stderr.matches("unable to open database file").count(), 1, "{stderr}");
}

#[test]
fn outputs_on_a_hard_link_to_an_input_or_on_the_geoip_database_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("conn.log");
    std::fs::copy(fixture("read/zeek-json-conn.log"), &log).unwrap();
    let link = dir.path().join("link.log");
    std::fs::hard_link(&log, &link).unwrap();
    let before = std::fs::read(&log).unwrap();
    let output = geoexfil(&["detect", "--alerts", link.to_str().unwrap(), log.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stderr).contains("is also an input"), "{}", text(&output.stderr));
    assert_eq!(std::fs::read(&log).unwrap(), before);
    let geoip = dir.path().join("country.mmdb");
    std::fs::copy(fixture("geoip/GeoLite2-Country-Test.mmdb"), &geoip).unwrap();
    let size = std::fs::metadata(&geoip).unwrap().len();
    let output = geoexfil(&[
        "detect",
        "--geoip",
        geoip.to_str().unwrap(),
        "--records",
        geoip.to_str().unwrap(),
        log.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("--geoip and --records name the same file"), "{stderr}");
    assert_eq!(std::fs::metadata(&geoip).unwrap().len(), size);
}

#[test]
fn a_flow_two_hours_ahead_of_the_wall_clock_is_a_bad_timestamp() {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    let (code, stderr) = detect_with_first_flow_at(now.as_secs_f64() + 2.0 * 3600.0);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains(":9: flow time ") && stderr.contains("lies in the future"), "{stderr}");
}
