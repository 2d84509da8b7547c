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
    /// Hosts of the synthetic organisation.
    pub synthetic_hosts: usize,
    pub days: u32,
    /// Seeded repetitions of every scenario.
    pub repeats: u32,
}

/// The shortest timeline the evaluation runs on: the learning period, a day, a week-long drip
/// and a day after it to see it alerted.
pub const MIN_DAYS: u32 = harness::WARM_UP_DAYS + 9;

impl EvalOptions {
    /// Refuses settings that would give an empty or meaningless report.
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.days >= MIN_DAYS,
            "--days {} is too short: the evaluation needs at least {MIN_DAYS} days (the {}-day \
             learning period, then a week-long drip with a day on either side)",
            self.days,
            harness::WARM_UP_DAYS
        );
        for (name, value) in [
            ("--hosts", self.real_hosts as u64),
            ("--synthetic-hosts", self.synthetic_hosts as u64),
            ("--repeats", u64::from(self.repeats)),
        ] {
            anyhow::ensure!(value > 0, "{name} must be at least 1");
        }
        Ok(())
    }
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

fn scenarios(repeats: u32) -> Vec<inject::Scenario> {
    (0..repeats).flat_map(|_| report::scenario_grid()).collect()
}

/// The real timeline of the evaluation.
pub fn real_timeline(options: &EvalOptions) -> anyhow::Result<background::RealTimeline> {
    let paths: Vec<PathBuf> = REAL_CAPTURES.iter().map(|p| options.data_dir.join(p)).collect();
    if let Some(missing) = paths.iter().find(|p| !p.exists()) {
        anyhow::bail!(
            "{} is absent: the evaluation needs the real captures of the shared data folder; \
             give its location with --data",
            missing.display()
        );
    }
    let refs: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
    let pool = background::load_host_days(&refs).context("loading the real captures")?;
    Ok(background::RealTimeline::new(pool, options.real_hosts, options.days, options.seed))
}

/// The synthetic organisation of the evaluation, from the committed traffic profile.
pub fn synthetic_org(options: &EvalOptions) -> anyhow::Result<synthetic::SyntheticOrg> {
    let profile = profile::TrafficProfile::fixture()?;
    let config = synthetic::OrgConfig {
        hosts: options.synthetic_hosts,
        days: options.days,
        ..synthetic::OrgConfig::default()
    };
    Ok(synthetic::SyntheticOrg::new(&profile, config, options.seed))
}

/// Evaluates one background and renders its section of the report.
pub fn evaluate_background(
    background: &dyn background::Background,
    options: &EvalOptions,
) -> anyhow::Result<String> {
    let evaluation = harness::evaluate(background, &scenarios(options.repeats), options.seed)?;
    Ok(report::render(&background.describe(), &evaluation))
}

/// Runs the whole evaluation and returns EVALUATION.md's text.
pub fn evaluate_all(options: &EvalOptions, command: &str) -> anyhow::Result<String> {
    options.validate()?;
    let mut text = String::from("# Evaluation\n\n");
    text.push_str(&format!(
        "Produced by `{command}` (geoexfil {}). Reference job and rule at their defaults; \
         recall counts an injection as found when an alert names its country, in a bucket that \
         overlaps it, with the sending host among the `source.ip` influencers.\n\n",
        env!("CARGO_PKG_VERSION")
    ));
    let real = real_timeline(options)?;
    text.push_str(&evaluate_background(&real, options)?);
    text.push('\n');
    let org = synthetic_org(options)?;
    text.push_str(&evaluate_background(&org, options)?);
    text.push('\n');
    let corpus = nab::NabCorpus::load(&options.data_dir.join("nab"))?;
    let report = nab::evaluate(&corpus, || Box::new(crate::model::series::SeriesModel::new()));
    text.push_str("### Numenta Anomaly Benchmark\n\n");
    text.push_str(&report.to_markdown("geoexfil series model"));
    Ok(text)
}
