//! The `detect` job end to end: inputs in, alerts out, state saved.
//!
//! This is the one place where the pipeline meets files, the terminal and the state database.
//! It opens each input, feeds its flows to the [`Detector`], reports bad lines (a bounded sample
//! with file, line and field; all of them counted), writes alerts and records as NDJSON, saves
//! the state and returns the summary.

mod own_files;

use crate::detect::pipeline::run_input;
use crate::detect::{Detector, DetectorState};
use crate::enrich::{Enricher, GeoDb};
use crate::filter::{FlowFilter, NetworkSet};
use crate::job::{FlowField, JobConfig};
use crate::model::ModelConfig;
use crate::output::alert::{alert_document, alert_id, record_document, Provenance};
use crate::output::summary::{render, InputReport, RunReport, SUMMARY_ALERT_ROWS};
use crate::read::{expand_inputs, InputError, InputFormat, InputReader, InputSpec, Passed};
use crate::rule::{Alerted, RuleConfig};
use crate::score::record::AnomalyRecord;
use crate::skip::SkipReason;
use crate::state::{InputProgress, StateError, StateStore};
use anyhow::{bail, Context};
use serde_json::Value;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use tracing::{info, warn};

/// Bad lines reported in full per input; the rest are counted only, so that a corrupt file
/// cannot flood the terminal.
pub const ERROR_SAMPLES_PER_INPUT: u64 = 5;

/// Exit code when the run completed but some input was unreadable or skipped as malformed.
pub const EXIT_SOME_INPUT_SKIPPED: i32 = 2;

/// Flows dated more than this after the wall clock are rejected as bad timestamps: sensors'
/// clocks drift by seconds, not hours, and a flow from the future would stop the data's
/// clock. An hour is above any drift, and catches a sensor that writes its local time as UTC
/// two or more hours east of Greenwich as soon as it is read.
pub const MAX_FUTURE_SECS: i64 = 3600;

/// Where an NDJSON stream goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sink {
    Stdout,
    File(PathBuf),
}

/// Everything `geoexfil detect` can be told.
#[derive(Debug, Clone)]
pub struct DetectOptions {
    pub inputs: Vec<String>,
    pub format: Option<InputFormat>,
    pub job: JobConfig,
    pub model: ModelConfig,
    pub rule: RuleConfig,
    pub geoip: Option<PathBuf>,
    pub use_event_geo: bool,
    pub internal: NetworkSet,
    pub trust_sensor_direction: bool,
    pub state: Option<PathBuf>,
    /// Close and score every open bucket at the end of input.
    pub flush: bool,
    pub alerts: Option<Sink>,
    pub records: Option<Sink>,
    /// Threads preparing batches of input; 1 does everything on the calling thread. Results
    /// are the same at any number.
    pub threads: usize,
}

/// What a run produced, for the caller and for tests.
pub struct DetectOutcome {
    pub summary: String,
    /// The alert documents, when [`DetectOptions::alerts`] is `None` (library use); with a
    /// sink they are written there as they are produced and not kept.
    pub alerts: Vec<Value>,
    /// 0, or [`EXIT_SOME_INPUT_SKIPPED`].
    pub exit_code: i32,
}

fn open_sink(sink: &Sink) -> anyhow::Result<Box<dyn Write>> {
    Ok(match sink {
        Sink::Stdout => Box::new(BufWriter::new(std::io::stdout())),
        Sink::File(path) => Box::new(BufWriter::new(
            File::create(path).with_context(|| format!("creating {}", path.display()))?,
        )),
    })
}

/// Where the records and alerts of a run go as they are produced, so that none of them is held
/// in memory longer than it takes to write it.
struct Emitter<'a> {
    job_id: String,
    provenance: Provenance,
    alerts_out: Option<Box<dyn Write>>,
    records_out: Option<Box<dyn Write>>,
    store: Option<&'a mut StateStore>,
    /// Alert documents kept for the caller when no alert sink was given.
    collected_alerts: Option<Vec<Value>>,
    alert_count: usize,
    /// The highest-scoring alerts, for the summary table.
    top_alerts: Vec<Alerted>,
    record_count: usize,
    best_record: Option<AnomalyRecord>,
}

impl Emitter<'_> {
    fn emit(&mut self, detector: &mut Detector) -> anyhow::Result<()> {
        let keep_records = self.records_out.is_some() || self.store.is_some();
        for record in detector.take_records() {
            // A document is built only when something keeps it: with neither a records file
            // nor a state database, records only feed the summary.
            if keep_records {
                let document = record_document(&record, &self.provenance);
                if let Some(out) = self.records_out.as_mut() {
                    writeln!(out, "{document}").context("writing records")?;
                }
                if let Some(store) = self.store.as_deref_mut() {
                    let (bucket, value) = (record.bucket_start_secs, record.over_value.as_str());
                    store.add_record(
                        &self.job_id,
                        bucket,
                        value,
                        record.record_score,
                        &document,
                    )?;
                }
            }
            self.record_count += 1;
            if self.best_record.as_ref().is_none_or(|b| record.record_score > b.record_score) {
                self.best_record = Some(record);
            }
        }
        for alerted in detector.take_alerts() {
            let document = alert_document(&alerted, &self.provenance);
            if let Some(out) = self.alerts_out.as_mut() {
                writeln!(out, "{document}").context("writing alerts")?;
            }
            if let Some(store) = self.store.as_deref_mut() {
                let r = &alerted.record;
                let key = (r.bucket_start_secs, r.over_value.as_str());
                store.add_alert(
                    &self.job_id,
                    &alert_id(r),
                    key,
                    alerted.rule_run_secs,
                    &document,
                )?;
            }
            if let Some(collected) = self.collected_alerts.as_mut() {
                collected.push(document);
            }
            self.alert_count += 1;
            self.top_alerts.push(alerted);
            self.top_alerts.sort_by(|a, b| b.record.record_score.total_cmp(&a.record.record_score));
            self.top_alerts.truncate(SUMMARY_ALERT_ROWS);
        }
        Ok(())
    }

    fn flush(&mut self) -> anyhow::Result<()> {
        for out in [self.alerts_out.as_mut(), self.records_out.as_mut()].into_iter().flatten() {
            out.flush().context("writing output")?;
        }
        Ok(())
    }
}

/// Runs the detect job.
pub fn run_detect(options: &DetectOptions) -> anyhow::Result<DetectOutcome> {
    let delay = options.job.bucket_secs + options.job.allowed_lateness_secs;
    if let Err(problem) = options.rule.validate(delay) {
        bail!("{problem}");
    }
    // Each argument is expanded on its own, so that one missing path is reported and the
    // others are still read.
    let mut specs = Vec::new();
    let mut reports = Vec::new();
    let own_files = own_files::OwnFiles::of(options);
    own_files.check_outputs()?;
    let mut seen_files = std::collections::BTreeSet::new();
    let mut seen_ids = std::collections::HashSet::new();
    for argument in &options.inputs {
        let mut passed = Passed::default();
        let expanded = expand_inputs(std::slice::from_ref(argument), &mut passed);
        if let Some(first) = passed.hidden.first() {
            warn!(
                "{argument}: {} hidden files and directories not read (such as {}); name them \
                 to read them",
                passed.hidden.len(),
                first.display()
            );
        }
        for error in passed.unreadable {
            warn!("{error}");
            let name = match &error {
                InputError::Io { path, .. } => path.clone(),
                _ => argument.clone(),
            };
            let failure = Some(error.to_string());
            reports.push(InputReport { name, failure, ..Default::default() });
        }
        match expanded {
            Ok(expanded) => {
                for spec in expanded {
                    if let InputSpec::File(path) = &spec {
                        if let Some(own) = own_files.find(path) {
                            if own.written {
                                bail!(
                                    "{} {} is also an input (from `{argument}`); writing it \
                                     would erase it: write outputs outside the inputs",
                                    own.option,
                                    own.path.display()
                                );
                            }
                            warn!(
                                "{}: this run's {} file; not read as input",
                                path.display(),
                                own.option
                            );
                            continue;
                        }
                        // The same file named twice (two arguments, a file inside a directory
                        // also given, a link to it) would count its flows twice.
                        let key = std::fs::canonicalize(path).unwrap_or_else(|_| path.clone());
                        let id = own_files::FileId::of(path);
                        let repeated =
                            !seen_files.insert(key) || id.is_some_and(|id| !seen_ids.insert(id));
                        if repeated {
                            warn!(input = %path.display(), "input given more than once; read once");
                            continue;
                        }
                    }
                    specs.push(spec);
                }
            }
            Err(error) => {
                warn!("{error}");
                let failure = Some(error.to_string());
                reports.push(InputReport { name: argument.clone(), failure, ..Default::default() });
            }
        }
    }
    let db = match &options.geoip {
        Some(path) => GeoDb::open(path)?,
        None => GeoDb::embedded()?,
    };
    let geoip_info = db.info().clone();
    check_database_fits_job(&options.job, &geoip_info)?;
    let enricher = Enricher::new(db).with_event_geo(options.use_event_geo);
    let filter = FlowFilter::new(options.internal.clone(), options.trust_sensor_direction);
    let mut store = match &options.state {
        Some(path) => Some(StateStore::open(path)?),
        None => None,
    };
    let fresh = DetectorState::new(options.job.clone(), options.model, options.rule);
    let state = match &store {
        Some(store) => match store.load_detector(&options.job.job_id)? {
            Some(saved) => {
                check_same_settings(options, &saved, &fresh)?;
                info!(job = %options.job.job_id, "continuing from the saved state");
                saved
            }
            None => fresh,
        },
        None => fresh,
    };
    let now_secs = chrono::Utc::now().timestamp();
    let mut detector = Detector::new(state, filter, enricher)
        .with_latest_plausible_secs(now_secs + MAX_FUTURE_SECS);
    if let Some(store) = store.as_mut() {
        store.begin_run()?;
    }
    let mut emitter = Emitter {
        job_id: options.job.job_id.clone(),
        provenance: Provenance { geoip: geoip_info.clone(), rule: options.rule },
        alerts_out: options.alerts.as_ref().map(open_sink).transpose()?,
        records_out: options.records.as_ref().map(open_sink).transpose()?,
        store: store.as_mut(),
        collected_alerts: options.alerts.is_none().then(Vec::new),
        alert_count: 0,
        top_alerts: Vec::new(),
        record_count: 0,
        best_record: None,
    };
    let mut progress = Vec::new();
    let mut read_this_run = std::collections::HashMap::new();
    for spec in &specs {
        let inputs = Inputs { progress: &mut progress, read_this_run: &mut read_this_run };
        let report = read_input(spec, options, &mut detector, &mut emitter, inputs)?;
        reports.push(report);
    }
    detector.finish(options.flush);
    emitter.emit(&mut detector)?;
    emitter.flush()?;
    if let Some(store) = emitter.store.as_deref_mut() {
        store.commit_run(&detector.state, &progress)?;
    }
    let report = RunReport {
        job_id: &options.job.job_id,
        over_field: options.job.over_field,
        bucket_secs: options.job.bucket_secs,
        geoip: &geoip_info,
        inputs: &reports,
        counts: &detector.counts,
        enrich: detector.enricher().stats(),
        over_values: detector.state.models.partitions.len(),
        untracked_over_values: detector.state.models.untracked_values,
        max_over_values: detector.state.models.config.max_partitions,
        forgotten_pairs: detector.state.models.hosts.forgotten_pairs,
        pair_retention_secs: detector.state.models.config.pair_retention_secs,
        untracked_sample: &detector.state.models.untracked_sample,
        memory_limit: detector.state.models.memory_limit_reached.then(|| {
            let models = &detector.state.models;
            (models.config.max_model_bytes, models.footprint().total_bytes())
        }),
        open_buckets: detector.state.clock.open_bucket_count(),
        records_written: emitter.record_count,
        best_record: emitter.best_record.as_ref(),
        alert_count: emitter.alert_count,
        joined_episode: detector.state.rule.joined_episode,
        seasonality: detector.state.models.seasonality.describe(),
        top_alerts: &emitter.top_alerts,
        score_threshold: options.rule.score_threshold,
        learning_until_secs: learning_until(&detector),
    };
    let summary = render(&report);
    let some_skipped = detector.counts.skipped.bad_input_total() > 0
        || reports.iter().any(|r| r.failure.is_some());
    let footprint = detector.state.models.footprint();
    info!(
        flows = detector.counts.flows_counted,
        records = emitter.record_count,
        alerts = emitter.alert_count,
        over_values = footprint.over_values,
        pairs = footprint.pairs,
        forgotten_pairs = detector.state.models.hosts.forgotten_pairs,
        model_bytes = footprint.total_bytes(),
        "detect finished"
    );
    Ok(DetectOutcome {
        summary,
        alerts: emitter.collected_alerts.unwrap_or_default(),
        exit_code: if some_skipped { EXIT_SOME_INPUT_SKIPPED } else { 0 },
    })
}

/// End of the learning period, if this run's data reached into it.
fn learning_until(detector: &Detector) -> Option<i64> {
    let models = &detector.state.models;
    let until = models.first_bucket_secs? + models.config.learning_period_secs;
    let first = detector.counts.first_event_secs?;
    (first < until && models.config.learning_period_secs > 0).then_some(until)
}

/// Refuses a region or city job on a database that has no regions or cities, and databases
/// that hold no locations at all (an ASN database), which would otherwise run and find nothing.
fn check_database_fits_job(
    job: &JobConfig,
    geoip: &crate::enrich::GeoDbInfo,
) -> anyhow::Result<()> {
    let kind = geoip.database_type.to_ascii_lowercase();
    if kind.contains("asn") || kind.contains("isp") {
        bail!(
            "GeoIP database {} is of type {:?}, which holds no locations; use a Country or City \
             database",
            geoip.source,
            geoip.database_type
        );
    }
    let needs_regions = matches!(job.over_field, FlowField::RegionName | FlowField::CityName);
    if needs_regions && !kind.contains("city") {
        bail!(
            "job {} splits on {} but the GeoIP database {} ({}) has no regions; give a City \
             database with --geoip",
            job.job_id,
            job.over_field,
            geoip.source,
            geoip.database_type
        );
    }
    Ok(())
}

/// The settings that differ between a saved and a given configuration, each as
/// `model setting min_anomalous_bytes: saved 1000000, given 1`.
fn setting_differences<T: serde::Serialize>(kind: &str, saved: &T, given: &T) -> Vec<String> {
    let (Ok(Value::Object(saved)), Ok(Value::Object(given))) =
        (serde_json::to_value(saved), serde_json::to_value(given))
    else {
        return Vec::new();
    };
    given
        .iter()
        .filter(|(key, value)| saved.get(*key) != Some(value))
        .map(|(key, value)| {
            let before = saved.get(key).map_or("nothing".to_string(), Value::to_string);
            format!("{kind} setting {key}: saved {before}, given {value}")
        })
        .collect()
}

/// Refuses to continue a saved job under different settings, which would mix two models.
fn check_same_settings(
    options: &DetectOptions,
    saved: &DetectorState,
    fresh: &DetectorState,
) -> anyhow::Result<()> {
    let mut differences = setting_differences("job", &saved.job, &fresh.job);
    differences.extend(setting_differences("model", &saved.models.config, &fresh.models.config));
    differences.extend(setting_differences("rule", &saved.rule.config, &fresh.rule.config));
    let difference = (!differences.is_empty()).then(|| differences.join(", "));
    match (difference, &options.state) {
        (Some(difference), Some(path)) => Err(StateError::JobMismatch {
            path: path.clone(),
            job_id: options.job.job_id.clone(),
            difference,
        }
        .into()),
        _ => Ok(()),
    }
}

/// What the run knows of the inputs it has read: their progress to save, and how far it read
/// each content (by fingerprint), so that a second copy in the same run is read past.
struct Inputs<'a> {
    progress: &'a mut Vec<InputProgress>,
    read_this_run: &'a mut std::collections::HashMap<String, (String, u64)>,
}

fn read_input(
    spec: &InputSpec,
    options: &DetectOptions,
    detector: &mut Detector,
    emitter: &mut Emitter,
    inputs: Inputs,
) -> anyhow::Result<InputReport> {
    let name = spec.display_name();
    let mut report = InputReport { name: name.clone(), ..InputReport::default() };
    let mut reader = match InputReader::open(spec, options.format) {
        Ok(reader) => reader,
        // An empty log is what a quiet interval or a fresh rotation leaves: nothing is lost.
        Err(InputError::Empty { .. }) => {
            report.format = "empty".to_string();
            return Ok(report);
        }
        Err(error) => {
            warn!("{error}");
            report.failure = Some(error.to_string());
            return Ok(report);
        }
    };
    report.format = reader.format().to_string();
    // Inputs are known by their content, files and standard input alike, so that the same
    // data given again (renamed, compressed, piped in) is read past instead of counted twice
    // in the buckets an earlier run, or an earlier input of this run, left open.
    let fingerprint = reader.fingerprint();
    let mut lines_done = match emitter.store.as_deref() {
        Some(store) => store.input_progress(&options.job.job_id, reader.head())?,
        None => 0,
    };
    if let Some((earlier, lines)) = inputs.read_this_run.get(&fingerprint) {
        warn!(
            "{name}: begins like {earlier}, read earlier in this run; its first {lines} lines \
               are read past"
        );
        lines_done = lines_done.max(*lines);
    }
    report.resumed_after_line = lines_done;
    // Lines an earlier run processed are read past; headers among them still set the parser
    // up, but their records are not counted again.
    report.lines = reader.skip_lines(lines_done);
    let mut reported = 0u64;
    let mut report_bad_line = |line: u64, message: &dyn std::fmt::Display| {
        if reported < ERROR_SAMPLES_PER_INPUT {
            warn!("{name}:{line}: {message}");
        } else {
            if reported == ERROR_SAMPLES_PER_INPUT {
                warn!(
                    "{name}: more bad lines; only their count is reported (--log-level debug \
                       shows every one)"
                );
            }
            tracing::debug!("{name}:{line}: {message}");
        }
        reported += 1;
    };
    let too_late_before = detector.counts.skipped.get(SkipReason::TooLate);
    run_input(&mut reader, detector, options.threads, |detector, batch| {
        report.lines = batch.last_line;
        report.flows += batch.flows_read;
        for bad in &batch.bad_lines {
            report.bad_lines += 1;
            report_bad_line(bad.line, &bad.message);
        }
        if detector.has_output() {
            emitter.emit(detector)?;
        }
        anyhow::Ok(())
    })?;
    if let Some(forced) = options.format.filter(|_| report.flows == 0 && report.lines > 0) {
        warn!(
            "{name}: --format {forced} read no flow from {} lines; if the input is in another \
             format, leave --format out to have it detected",
            report.lines
        );
    }
    report.too_late = detector.counts.skipped.get(SkipReason::TooLate) - too_late_before;
    if report.too_late > 0 {
        warn!(
            "{name}: {} flows ended more than the allowed lateness ({} s) behind the newest \
             flow already read and were not counted; give inputs in time order or raise \
             --allowed-lateness",
            report.too_late, detector.state.job.allowed_lateness_secs
        );
    }
    let lines_done = report.lines.max(lines_done);
    let known = inputs.read_this_run.entry(fingerprint.clone()).or_insert((name.clone(), 0));
    known.1 = known.1.max(lines_done);
    if emitter.store.is_some() {
        inputs.progress.push(InputProgress { fingerprint, name, lines_done });
    }
    Ok(report)
}
