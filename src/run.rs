//! The `detect` job end to end: inputs in, alerts out, state saved.
//!
//! This is the one place where the pipeline meets files, the terminal and the state database.
//! It opens each input, feeds its flows to the [`Detector`], reports bad lines (a bounded sample
//! with file, line and field; all of them counted), writes alerts and records as NDJSON, saves
//! the state and returns the summary.

use crate::detect::{Detector, DetectorState};
use crate::enrich::{Enricher, GeoDb};
use crate::filter::{FlowFilter, NetworkSet};
use crate::job::JobConfig;
use crate::model::ModelConfig;
use crate::output::alert::{alert_document, alert_id, record_document, Provenance};
use crate::output::summary::{render, InputReport, RunReport};
use crate::read::{expand_inputs, InputFormat, InputReader, InputSpec, LineOutcome};
use crate::rule::{Alerted, RuleConfig};
use crate::score::record::AnomalyRecord;
use crate::state::{file_fingerprint, InputProgress, RunChanges, StateError, StateStore};
use anyhow::{bail, Context};
use serde_json::Value;
use std::io::Write;
use std::path::PathBuf;
use tracing::{info, warn};

/// Bad lines reported in full per input; the rest are counted only, so that a corrupt file
/// cannot flood the terminal.
pub const ERROR_SAMPLES_PER_INPUT: u64 = 5;

/// Exit code when the run completed but some input was unreadable or skipped as malformed.
pub const EXIT_SOME_INPUT_SKIPPED: i32 = 2;

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
}

/// What a run produced, for the caller and for tests.
pub struct DetectOutcome {
    pub summary: String,
    pub alerts: Vec<Value>,
    pub records: Vec<AnomalyRecord>,
    /// 0, or [`EXIT_SOME_INPUT_SKIPPED`].
    pub exit_code: i32,
}

fn write_ndjson(sink: &Sink, documents: &[Value]) -> anyhow::Result<()> {
    let mut text = String::new();
    for document in documents {
        text.push_str(&document.to_string());
        text.push('\n');
    }
    match sink {
        Sink::Stdout => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes()).context("writing to standard output")?;
            out.flush().context("writing to standard output")?;
        }
        Sink::File(path) => {
            std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
        }
    }
    Ok(())
}

/// Runs the detect job.
pub fn run_detect(options: &DetectOptions) -> anyhow::Result<DetectOutcome> {
    let delay = options.job.bucket_secs + options.job.allowed_lateness_secs;
    if let Err(problem) = options.rule.validate(delay) {
        bail!("{problem}");
    }
    let specs = expand_inputs(&options.inputs)?;
    let db = match &options.geoip {
        Some(path) => GeoDb::open(path)?,
        None => GeoDb::embedded()?,
    };
    let geoip_info = db.info().clone();
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
    let mut detector = Detector::new(state, filter, enricher);
    let mut reports = Vec::new();
    let mut progress = Vec::new();
    for spec in &specs {
        let report = read_input(spec, options, store.as_ref(), &mut detector, &mut progress)?;
        reports.push(report);
    }
    detector.finish(options.flush);
    let records = detector.take_records();
    let alerted = detector.take_alerts();
    let provenance = Provenance { geoip: geoip_info.clone(), rule: options.rule };
    let alert_docs: Vec<Value> = alerted.iter().map(|a| alert_document(a, &provenance)).collect();
    if let Some(store) = store.as_mut() {
        save(store, &detector, &progress, &records, &alerted, &alert_docs, &provenance)?;
    }
    if let Some(sink) = &options.alerts {
        write_ndjson(sink, &alert_docs)?;
    }
    if let Some(sink) = &options.records {
        let docs: Vec<Value> = records.iter().map(|r| record_document(r, &provenance)).collect();
        write_ndjson(sink, &docs)?;
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
        open_buckets: detector.state.clock.open_bucket_count(),
        records: &records,
        alerts: &alerted,
        score_threshold: options.rule.score_threshold,
    };
    let summary = render(&report);
    let some_skipped = detector.counts.skipped.bad_input_total() > 0
        || reports.iter().any(|r| r.failure.is_some());
    info!(
        flows = detector.counts.flows_counted,
        records = records.len(),
        alerts = alerted.len(),
        "detect finished"
    );
    Ok(DetectOutcome {
        summary,
        alerts: alert_docs,
        records,
        exit_code: if some_skipped { EXIT_SOME_INPUT_SKIPPED } else { 0 },
    })
}

/// Refuses to continue a saved job under different settings, which would mix two models.
fn check_same_settings(
    options: &DetectOptions,
    saved: &DetectorState,
    fresh: &DetectorState,
) -> anyhow::Result<()> {
    let difference = if saved.job != fresh.job {
        Some("job settings")
    } else if saved.models.config != fresh.models.config {
        Some("model settings")
    } else if saved.rule.config != fresh.rule.config {
        Some("rule settings")
    } else {
        None
    };
    match (difference, &options.state) {
        (Some(difference), Some(path)) => Err(StateError::JobMismatch {
            path: path.clone(),
            job_id: options.job.job_id.clone(),
            difference: difference.to_string(),
        }
        .into()),
        _ => Ok(()),
    }
}

fn read_input(
    spec: &InputSpec,
    options: &DetectOptions,
    store: Option<&StateStore>,
    detector: &mut Detector,
    progress: &mut Vec<InputProgress>,
) -> anyhow::Result<InputReport> {
    let name = spec.display_name();
    let mut report = InputReport { name: name.clone(), ..InputReport::default() };
    let fingerprint = match (spec, store) {
        (InputSpec::File(path), Some(_)) => match file_fingerprint(path) {
            Ok(fingerprint) => Some(fingerprint),
            Err(error) => {
                warn!("{name}: cannot be read: {error}");
                report.failure = Some(error.to_string());
                return Ok(report);
            }
        },
        _ => None,
    };
    let lines_done = match (&fingerprint, store) {
        (Some(fingerprint), Some(store)) => {
            store.input_progress(&detector.state.job.job_id, fingerprint)?
        }
        _ => 0,
    };
    let mut reader = match InputReader::open(spec, options.format) {
        Ok(reader) => reader,
        Err(error) => {
            warn!("{error}");
            report.failure = Some(error.to_string());
            return Ok(report);
        }
    };
    report.format = reader.format().to_string();
    report.resumed_after_line = lines_done;
    let mut reported = 0u64;
    while let Some(item) = reader.next_item() {
        report.lines = item.line;
        // Lines an earlier run processed are still parsed, so that headers set the parser up,
        // but their records are not counted again.
        let already_done = item.line <= lines_done;
        match item.result {
            Ok(LineOutcome::Flow(flow)) => {
                if !already_done {
                    report.flows += 1;
                    detector.process(*flow);
                }
            }
            Ok(LineOutcome::Ignored) => {}
            Ok(LineOutcome::NotAFlow) => {
                if !already_done {
                    detector.skip(crate::skip::SkipReason::NotAFlow);
                }
            }
            Err(error) => {
                if already_done {
                    continue;
                }
                report.bad_lines += 1;
                detector.skip(error.reason);
                if reported < ERROR_SAMPLES_PER_INPUT {
                    warn!("{name}:{}: {error}", item.line);
                } else if reported == ERROR_SAMPLES_PER_INPUT {
                    warn!("{name}: more bad lines; only their count is reported");
                }
                reported += 1;
            }
        }
    }
    if let Some(fingerprint) = fingerprint {
        progress.push(InputProgress {
            fingerprint,
            name,
            lines_done: report.lines.max(lines_done),
        });
    }
    Ok(report)
}

fn save(
    store: &mut StateStore,
    detector: &Detector,
    progress: &[InputProgress],
    records: &[AnomalyRecord],
    alerted: &[Alerted],
    alert_docs: &[Value],
    provenance: &Provenance,
) -> anyhow::Result<()> {
    let record_rows: Vec<(i64, String, f64, Value)> = records
        .iter()
        .map(|r| {
            let doc = record_document(r, provenance);
            (r.bucket_start_secs, r.over_value.clone(), r.record_score, doc)
        })
        .collect();
    let alert_rows: Vec<(String, i64, String, i64, Value)> = alerted
        .iter()
        .zip(alert_docs)
        .map(|(a, doc)| {
            let r = &a.record;
            (alert_id(r), r.bucket_start_secs, r.over_value.clone(), a.rule_run_secs, doc.clone())
        })
        .collect();
    store.save_run(&RunChanges {
        detector: &detector.state,
        inputs: progress,
        records: &record_rows,
        alerts: &alert_rows,
    })?;
    Ok(())
}
