//! Evaluation: evidence that geoexfil finds exfiltration and stays quiet otherwise.
//!
//! An *evaluation* replays a *background* (real traffic arranged on a timeline of weeks, or a
//! synthetic organisation) with and without *injected* exfiltration whose ground truth is known,
//! and measures *recall* (injections alerted for the right country, in a bucket overlapping
//! them, with the sending host among the influencers), *time to detection* and *false alerts*
//! per day and per 1,000 host-days, for the model and for simple comparators. [`nab`] scores the
//! model on the Numenta Anomaly Benchmark.

pub mod background;
pub mod comparators;
pub mod harness;
pub mod inject;
pub mod nab;
pub mod profile;
pub mod report;
pub mod synthetic;

use anyhow::Context;
use std::path::{Path, PathBuf};

/// Settings of `geoexfil eval`.
#[derive(Debug, Clone)]
pub struct EvalOptions {
    /// The folder of real data (`../shared/data` in the development tree).
    pub data_dir: PathBuf,
    pub seed: u64,
    /// Virtual hosts of the real timeline.
    pub real_hosts: usize,
    pub days: u32,
    /// Seeded repetitions of every scenario.
    pub repeats: u32,
}

/// The real captures the real timeline is built from, relative to the data folder.
pub const REAL_CAPTURES: [&str; 11] = [
    "ctu-normal-zeek/ctu-normal-40-day1.conn.log.labeled",
    "ctu-normal-zeek/ctu-normal-42-day2.conn.log.labeled",
    "ctu-normal-zeek/ctu-normal-43-day1.conn.log.labeled",
    "ctu-normal-zeek/ctu-normal-44-day2.conn.log.labeled",
    "ctu-sme-11/2023-02-20-ubuntu-192.168.1.109.conn.log.labeled",
    "ctu-malware-zeek/ctu-botnet-4.conn.log.labeled",
    "ctu-malware-zeek/android-mischief-rat01-androidtester.conn.log",
    "slips-samples/argus-2019-04-04-24h.binetflow",
    "slips-samples/zeek-json-conn.log",
    "slips-samples/suricata-eve-2021-06-06.json",
    "slips-samples/ctu-botnet-207-1.binetflow",
];

/// Runs the evaluation on the real timeline and returns its Markdown report.
pub fn evaluate_real(options: &EvalOptions) -> anyhow::Result<String> {
    let paths: Vec<PathBuf> = REAL_CAPTURES.iter().map(|p| options.data_dir.join(p)).collect();
    for path in &paths {
        if !path.exists() {
            anyhow::bail!(
                "{} is absent: the evaluation needs the real captures of the shared data folder; \
                 give it with --data",
                path.display()
            );
        }
    }
    let refs: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
    let pool = background::load_host_days(&refs).context("loading the real captures")?;
    let timeline =
        background::RealTimeline::new(pool, options.real_hosts, options.days, options.seed);
    let mut scenarios = Vec::new();
    for _ in 0..options.repeats {
        scenarios.extend(report::scenario_grid());
    }
    let evaluation = harness::evaluate(&timeline, &scenarios, options.seed)?;
    let title = background::Background::describe(&timeline);
    Ok(report::render(&title, &evaluation))
}
