//! Helpers shared by the integration tests: options as the CLI builds them by default, the
//! shipped samples, and Zeek lines for injected flows.

#![allow(dead_code)]

use flate2::read::MultiGzDecoder;
use geoexfil::filter::NetworkSet;
use geoexfil::job::JobConfig;
use geoexfil::model::ModelConfig;
use geoexfil::rule::RuleConfig;
use geoexfil::run::DetectOptions;
use std::io::Read;
use std::path::{Path, PathBuf};

pub fn fixture(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(relative)
}

/// The options `geoexfil detect INPUT...` runs with when given no flags.
pub fn default_options(inputs: &[&Path]) -> DetectOptions {
    DetectOptions {
        inputs: inputs.iter().map(|p| p.display().to_string()).collect(),
        format: None,
        job: JobConfig::country(),
        model: ModelConfig::default(),
        rule: RuleConfig::default(),
        geoip: None,
        use_event_geo: true,
        internal: NetworkSet::default_internal(),
        trust_sensor_direction: true,
        state: None,
        flush: true,
        alerts: None,
        records: None,
        // More than one, so that every test also runs the parallel pipeline.
        threads: 2,
    }
}

/// The same options with no learning period, for tests whose data is shorter than it.
pub fn alerting_from_start(mut options: DetectOptions) -> DetectOptions {
    options.model.learning_period_secs = 0;
    options
}

/// The lines of a gzip-compressed fixture.
pub fn gz_lines(path: &Path) -> Vec<String> {
    let mut text = String::new();
    MultiGzDecoder::new(std::fs::File::open(path).unwrap()).read_to_string(&mut text).unwrap();
    text.lines().map(str::to_string).collect()
}

/// A conn.log line in the 23-column layout of the shipped samples.
pub fn zeek_line(ts: f64, source: &str, destination: &str, port: u16, bytes_sent: u64) -> String {
    format!(
        "{ts:.6}\tCinjected{bytes_sent}\t{source}\t{}\t{destination}\t{port}\ttcp\tssl\t\
         {:.6}\t{bytes_sent}\t{}\tSF\t-\t-\t0\tShADadFf\t{}\t{}\t{}\t{}\t-\tInjected\t(empty)",
        49_152 + (bytes_sent % 10_000) as u16,
        (bytes_sent as f64 / 2_000_000.0).min(86_400.0),
        bytes_sent / 50,
        bytes_sent / 1448,
        bytes_sent.saturating_add(bytes_sent / 1448 * 52),
        bytes_sent / 2896,
        bytes_sent / 2896 * 52,
    )
}

/// Inserts each extra line before the first data line with a later timestamp, keeping the
/// real lines in their original order.
pub fn insert_by_time(lines: &[String], extra: &[String]) -> Vec<String> {
    let ts = |line: &str| line.split('\t').next().and_then(|t| t.parse::<f64>().ok());
    let mut out: Vec<String> = Vec::with_capacity(lines.len() + extra.len());
    let mut pending: Vec<&String> = extra.iter().collect();
    for line in lines {
        if let Some(line_ts) = ts(line).filter(|_| !line.starts_with('#')) {
            while let Some(first) = pending.first() {
                if ts(first).unwrap() <= line_ts {
                    out.push(pending.remove(0).clone());
                } else {
                    break;
                }
            }
        }
        out.push(line.clone());
    }
    out.extend(pending.into_iter().cloned());
    out
}
