//! Scoring detectors on the Numenta Anomaly Benchmark (NAB).
//!
//! The corpus is a set of univariate *files* (rows of `timestamp,value`). Some rows lie in
//! labelled *windows*: stretches around a known anomaly. A *detector* reads a file one row at a
//! time and gives every row an *anomaly score* in 0..=1; at a *threshold*, a row whose score is
//! at least the threshold is a *detection*.
//!
//! The score of a detector, for one *profile* (weights `tp`, `fp`, `fn`), follows NAB's method:
//! - The first rows of each file, `min(floor(15% of its rows), 750)`, are the *probation*
//!   period, in which a detector is still learning: detections there count for nothing, and a
//!   window lying wholly inside it is not scored.
//! - A window earns, through its earliest detection only, `tp * S(x) / S(-1)`, where
//!   `S(x) = 2 / (1 + e^(5x)) - 1` is the *scaled sigmoid* (and -1 from `x = 3` on) and `x` the
//!   relative position of the detection: -1 at the window's first row, approaching 0 at its
//!   last. A detection at the window's start therefore earns exactly `tp`, a late one less.
//! - A window without any detection costs `fn`.
//! - A detection outside every window costs `fp * S(x)` (a negative amount), where `x` is its
//!   distance past the end of the preceding window in units of that window's width minus one;
//!   a detection before any window is as far as it can be and costs the full `fp`. A detection
//!   just after a window is thus nearly forgiven, one long after it is not.
//! - The threshold is the one, over the whole corpus, that maximises the sum of all files'
//!   scores (the *raw* score); every distinct positive anomaly score is tried. A score of zero
//!   never fires.
//! - The raw score is normalised to `100 * (raw - null) / (perfect - null)`, where the *null*
//!   detector never fires (raw `-fn` per window) and the *perfect* one fires once, at the start
//!   of every window (raw `tp` per window).

use anyhow::{bail, Context};
use chrono::NaiveDateTime;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// Share of each file's rows in which detections are not counted.
pub const PROBATION_SHARE: f64 = 0.15;

/// Probation never extends beyond 15% of 5,000 rows: long files have learned enough by then.
pub const MAX_PROBATION_ROWS: usize = 750;

/// The published NAB v1.1 scoreboard: detector, then standard, low-FP and low-FN scores.
pub const PUBLISHED_SCOREBOARD: [(&str, [f64; 3]); 11] = [
    ("ARTime", [74.9, 65.2, 80.4]),
    ("Numenta HTM", [70.1, 63.1, 74.3]),
    ("CAD OSE", [69.9, 67.0, 73.2]),
    ("earthgecko Skyline", [58.2, 46.2, 63.8]),
    ("KNN CAD", [58.0, 43.4, 64.8]),
    ("Relative Entropy", [54.6, 47.6, 58.8]),
    ("Random Cut Forest", [51.7, 38.4, 59.7]),
    ("Twitter ADVec", [47.1, 33.6, 53.5]),
    ("Windowed Gaussian", [39.6, 20.9, 47.4]),
    ("Bayesian changepoint", [17.7, 3.2, 32.2]),
    ("random", [16.8, 5.8, 25.9]),
];

/// The profiles in the order of the published scoreboard's columns.
pub const PROFILE_ORDER: [&str; 3] = ["standard", "reward_low_FP_rate", "reward_low_FN_rate"];

/// A detector of anomalies in one series, fed one row at a time in time order.
pub trait SeriesDetector {
    /// The anomaly score (0..=1) of the row, judged before the detector learns from it.
    fn score(&mut self, timestamp_secs: i64, value: f64) -> f64;
}

/// One file of the corpus with its windows.
#[derive(Debug, Clone, PartialEq)]
pub struct NabFile {
    /// Path below `data/`, such as `realKnownCause/nyc_taxi.csv`.
    pub name: String,
    pub timestamps: Vec<i64>,
    pub values: Vec<f64>,
    /// First and last row (inclusive) of each window, in time order.
    pub windows: Vec<(usize, usize)>,
}

/// The weights of one scoring profile.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    pub name: String,
    pub tp_weight: f64,
    pub fp_weight: f64,
    pub fn_weight: f64,
}

/// The files and profiles of the benchmark.
#[derive(Debug, Clone, PartialEq)]
pub struct NabCorpus {
    pub files: Vec<NabFile>,
    pub profiles: Vec<Profile>,
}

#[derive(Deserialize)]
struct ProfileFile {
    #[serde(rename = "CostMatrix")]
    cost_matrix: CostMatrix,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CostMatrix {
    tp_weight: f64,
    fp_weight: f64,
    fn_weight: f64,
}

/// Reads a NAB timestamp (`2014-02-14 14:30:00`, optionally with fractional seconds) as
/// seconds since the epoch, taking it as UTC.
fn parse_timestamp(text: &str) -> Option<i64> {
    NaiveDateTime::parse_from_str(text.trim(), "%Y-%m-%d %H:%M:%S%.f")
        .ok()
        .map(|t| t.and_utc().timestamp())
}

impl NabCorpus {
    /// Loads `data/*/*.csv`, `labels/combined_windows.json` and `config/profiles.json` below
    /// `dir`. Only files named in the windows file are loaded, as NAB scores those.
    pub fn load(dir: &Path) -> anyhow::Result<NabCorpus> {
        let windows_path = dir.join("labels").join("combined_windows.json");
        let text = std::fs::read_to_string(&windows_path)
            .with_context(|| format!("cannot read {}", windows_path.display()))?;
        let windows: BTreeMap<String, Vec<[String; 2]>> = serde_json::from_str(&text)
            .with_context(|| format!("cannot parse {}", windows_path.display()))?;
        let mut files = Vec::with_capacity(windows.len());
        for (name, limits) in &windows {
            let (timestamps, values) = read_series(&dir.join("data").join(name))?;
            let mut rows = Vec::with_capacity(limits.len());
            for [start, end] in limits {
                let bad = || format!("bad window [{start}, {end}] of {name} in windows file");
                let start = parse_timestamp(start).with_context(bad)?;
                let end = parse_timestamp(end).with_context(bad)?;
                // NAB's windows start and end on rows; between rows, take the rows inside. A
                // few files step back in time now and then, so search rather than bisect.
                let first = timestamps.iter().position(|&t| t >= start);
                let last = timestamps.iter().rposition(|&t| t <= end);
                match (first, last) {
                    (Some(first), Some(last)) if first <= last => rows.push((first, last)),
                    _ => bail!("{}: window holds no row of {name}", bad()),
                }
            }
            files.push(NabFile { name: name.clone(), timestamps, values, windows: rows });
        }
        let profiles_path = dir.join("config").join("profiles.json");
        let text = std::fs::read_to_string(&profiles_path)
            .with_context(|| format!("cannot read {}", profiles_path.display()))?;
        let parsed: BTreeMap<String, ProfileFile> = serde_json::from_str(&text)
            .with_context(|| format!("cannot parse {}", profiles_path.display()))?;
        let mut profiles: Vec<Profile> = parsed
            .into_iter()
            .map(|(name, p)| Profile {
                name,
                tp_weight: p.cost_matrix.tp_weight,
                fp_weight: p.cost_matrix.fp_weight,
                fn_weight: p.cost_matrix.fn_weight,
            })
            .collect();
        // Published column order first, any other profile after, by name.
        profiles.sort_by_key(|p| {
            (PROFILE_ORDER.iter().position(|&n| n == p.name).unwrap_or(usize::MAX), p.name.clone())
        });
        Ok(NabCorpus { files, profiles })
    }

    /// Number of windows that are scored (not wholly inside probation).
    pub fn scored_windows(&self) -> usize {
        self.files.iter().map(|f| roles(f).1).sum()
    }
}

/// Reads one `timestamp,value` CSV file with a header line.
fn read_series(path: &Path) -> anyhow::Result<(Vec<i64>, Vec<f64>)> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut timestamps = Vec::new();
    let mut values = Vec::new();
    for (index, line) in text.lines().enumerate().skip(1) {
        let line_no = index + 1;
        if line.trim().is_empty() {
            continue;
        }
        let Some((time, value)) = line.split_once(',') else {
            bail!("{} line {line_no}: expected timestamp,value, got {line:?}", path.display());
        };
        let Some(time) = parse_timestamp(time) else {
            bail!("{} line {line_no}: bad timestamp {time:?}", path.display());
        };
        let value: f64 = match value.trim().parse() {
            Ok(v) if f64::is_finite(v) => v,
            _ => bail!("{} line {line_no}: bad value {value:?}", path.display()),
        };
        timestamps.push(time);
        values.push(value);
    }
    Ok((timestamps, values))
}

/// NAB's scaled sigmoid of a relative position: near 1 well before a window's end, 0 at it,
/// near -1 beyond it, and exactly -1 from 3 on.
pub fn scaled_sigmoid(position: f64) -> f64 {
    if position >= 3.0 {
        -1.0
    } else {
        2.0 / (1.0 + (5.0 * position).exp()) - 1.0
    }
}

/// Number of probation rows of a file of `rows` rows.
pub fn probation_rows(rows: usize) -> usize {
    ((PROBATION_SHARE * rows as f64).floor() as usize).min(MAX_PROBATION_ROWS)
}

/// What a detection at a given row is worth, before the profile's weights.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Role {
    /// In probation: ignored.
    Probation,
    /// Inside scored window `window` (numbered within the file): the reward as a share of
    /// `tp`, if it is the window's earliest detection.
    Window { window: usize, reward: f64 },
    /// Outside every window: the cost as a share of `fp` (negative).
    Outside { cost: f64 },
}

/// The role of every row of a file, and the number of its scored windows. Windows are numbered
/// by their index in the file; a window wholly inside probation keeps its number but is not
/// counted.
fn roles(file: &NabFile) -> (Vec<Role>, usize) {
    let rows = file.values.len();
    let probation = probation_rows(rows);
    let full_reward = scaled_sigmoid(-1.0);
    let mut roles = Vec::with_capacity(rows);
    let mut scored = 0;
    let mut windows = file.windows.iter().enumerate().peekable();
    let mut current: Option<(usize, usize, usize)> = None;
    let mut previous: Option<(usize, usize)> = None;
    for row in 0..rows {
        if current.is_none() {
            if let Some(&(index, &(first, last))) = windows.peek() {
                if row >= first {
                    current = Some((index, first, last));
                    windows.next();
                    if last >= probation {
                        scored += 1;
                    }
                }
            }
        }
        let role = match current {
            Some((window, first, last)) => {
                let width = (last - first + 1) as f64;
                let position = -((last + 1 - row) as f64) / width;
                Role::Window { window, reward: scaled_sigmoid(position) / full_reward }
            }
            None => match previous {
                None => Role::Outside { cost: -1.0 },
                Some((first, last)) => {
                    // A one-row window would divide by zero; treat its width as two rows.
                    let span = ((last - first) as f64).max(1.0);
                    Role::Outside { cost: scaled_sigmoid((row - last) as f64 / span) }
                }
            },
        };
        roles.push(if row < probation { Role::Probation } else { role });
        if let Some((_, first, last)) = current {
            if row == last {
                previous = Some((first, last));
                current = None;
            }
        }
    }
    (roles, scored)
}

/// The score of one profile.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileScore {
    pub profile: String,
    /// The chosen threshold; infinite when the best is never to fire.
    pub threshold: f64,
    pub raw: f64,
    pub null: f64,
    pub perfect: f64,
    /// `100 * (raw - null) / (perfect - null)`.
    pub normalised: f64,
    /// Windows with a detection at the chosen threshold.
    pub detected_windows: usize,
    /// Detections outside windows (after probation) at the chosen threshold.
    pub false_positives: usize,
}

/// The result of scoring one detector on the corpus.
#[derive(Debug, Clone, PartialEq)]
pub struct NabReport {
    pub files: usize,
    pub rows: usize,
    pub windows: usize,
    pub profiles: Vec<ProfileScore>,
}

/// Running totals of a sweep at one threshold.
#[derive(Debug, Default, Clone, Copy)]
struct Totals {
    /// Sum over detected windows of their earliest detection's reward share.
    reward: f64,
    detected: usize,
    /// Sum of the cost shares of detections outside windows.
    cost: f64,
    false_positives: usize,
}

impl Totals {
    fn raw(&self, profile: &Profile, windows: usize) -> f64 {
        profile.tp_weight * self.reward - profile.fn_weight * (windows - self.detected) as f64
            + profile.fp_weight * self.cost
    }
}

/// Runs a fresh detector from `make` over every file and scores the anomaly scores.
pub fn evaluate(corpus: &NabCorpus, make: impl Fn() -> Box<dyn SeriesDetector>) -> NabReport {
    let scores: Vec<Vec<f64>> = corpus
        .files
        .iter()
        .map(|file| {
            let mut detector = make();
            file.timestamps.iter().zip(&file.values).map(|(&t, &v)| detector.score(t, v)).collect()
        })
        .collect();
    evaluate_scores(corpus, &scores)
}

/// Scores given anomaly scores (one vector per file, one score per row), choosing for each
/// profile the threshold that maximises the raw score over the corpus.
pub fn evaluate_scores(corpus: &NabCorpus, scores: &[Vec<f64>]) -> NabReport {
    assert_eq!(scores.len(), corpus.files.len(), "one score vector per file");
    let mut windows = 0;
    // Every scored row of the corpus: (anomaly score, file, role).
    let mut points: Vec<(f64, usize, Role)> = Vec::new();
    for (index, (file, file_scores)) in corpus.files.iter().zip(scores).enumerate() {
        assert_eq!(file_scores.len(), file.values.len(), "one score per row of {}", file.name);
        let (file_roles, scored) = roles(file);
        windows += scored;
        for (&score, role) in file_scores.iter().zip(file_roles) {
            if role != Role::Probation {
                // A score of zero (or NaN) says nothing is anomalous and never fires, so the null
                // detector is the one scoring zero everywhere.
                let fires = score > 0.0;
                points.push((if fires { score } else { f64::NEG_INFINITY }, index, role));
            }
        }
    }
    points.sort_by(|a, b| b.0.total_cmp(&a.0));

    // Sweep thresholds from above every score down, one distinct score at a time.
    let mut best_reward: BTreeMap<(usize, usize), f64> = BTreeMap::new();
    let mut totals = Totals::default();
    let mut best: Vec<(f64, Totals)> = vec![(f64::INFINITY, totals); corpus.profiles.len()];
    let mut i = 0;
    while i < points.len() {
        let threshold = points[i].0;
        if threshold == f64::NEG_INFINITY {
            break;
        }
        while i < points.len() && points[i].0 == threshold {
            match points[i].2 {
                Role::Window { window, reward } => {
                    let entry = best_reward.entry((points[i].1, window)).or_insert_with(|| {
                        totals.detected += 1;
                        0.0
                    });
                    if reward > *entry {
                        totals.reward += reward - *entry;
                        *entry = reward;
                    }
                }
                Role::Outside { cost } => {
                    totals.cost += cost;
                    totals.false_positives += 1;
                }
                Role::Probation => {}
            }
            i += 1;
        }
        for (profile, chosen) in corpus.profiles.iter().zip(best.iter_mut()) {
            if totals.raw(profile, windows) > chosen.1.raw(profile, windows) {
                *chosen = (threshold, totals);
            }
        }
    }

    let profiles = corpus
        .profiles
        .iter()
        .zip(best)
        .map(|(profile, (threshold, totals))| {
            let raw = totals.raw(profile, windows);
            let null = -profile.fn_weight * windows as f64;
            let perfect = profile.tp_weight * windows as f64;
            let normalised =
                if perfect > null { 100.0 * (raw - null) / (perfect - null) } else { 0.0 };
            ProfileScore {
                profile: profile.name.clone(),
                threshold,
                raw,
                null,
                perfect,
                normalised,
                detected_windows: totals.detected,
                false_positives: totals.false_positives,
            }
        })
        .collect();
    NabReport {
        files: corpus.files.len(),
        rows: corpus.files.iter().map(|f| f.values.len()).sum(),
        windows,
        profiles,
    }
}

impl NabReport {
    /// The normalised score of a profile, if it was scored.
    pub fn normalised(&self, profile: &str) -> Option<f64> {
        self.profiles.iter().find(|p| p.profile == profile).map(|p| p.normalised)
    }

    /// A Markdown table of our scores beside the published scoreboard, then the thresholds.
    pub fn to_markdown(&self, detector: &str) -> String {
        let mut out = String::new();
        let cell = |profile: &str| match self.normalised(profile) {
            Some(score) => format!("{score:.1}"),
            None => "-".to_string(),
        };
        out.push_str("| detector | standard | low FP | low FN |\n|---|---|---|---|\n");
        let ours: Vec<String> = PROFILE_ORDER.iter().map(|p| cell(p)).collect();
        let _ = writeln!(out, "| **{detector}** | {} |", ours.join(" | "));
        for (name, scores) in PUBLISHED_SCOREBOARD {
            let _ = writeln!(
                out,
                "| {name} (published) | {:.1} | {:.1} | {:.1} |",
                scores[0], scores[1], scores[2]
            );
        }
        let _ = writeln!(
            out,
            "\n{} files, {} rows, {} scored windows.\n",
            self.files, self.rows, self.windows
        );
        out.push_str("| profile | threshold | raw | detected windows | false positives |\n");
        out.push_str("|---|---|---|---|---|\n");
        for p in &self.profiles {
            let _ = writeln!(
                out,
                "| {} | {:.6} | {:.2} | {} | {} |",
                p.profile, p.threshold, p.raw, p.detected_windows, p.false_positives
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sigmoid(x: f64) -> f64 {
        1.0 / (1.0 + (-x).exp())
    }

    fn profiles() -> Vec<Profile> {
        let make = |name: &str, fp: f64, fn_: f64| Profile {
            name: name.to_string(),
            tp_weight: 1.0,
            fp_weight: fp,
            fn_weight: fn_,
        };
        vec![
            make("standard", 0.11, 1.0),
            make("reward_low_FP_rate", 0.22, 1.0),
            make("reward_low_FN_rate", 0.11, 2.0),
        ]
    }

    /// 20 rows (probation: 3), one window on rows 10..=14.
    fn one_window() -> NabCorpus {
        let file = NabFile {
            name: "test/one.csv".to_string(),
            timestamps: (0..20).map(|i| i * 300).collect(),
            values: vec![0.0; 20],
            windows: vec![(10, 14)],
        };
        NabCorpus { files: vec![file], profiles: profiles() }
    }

    /// Scores that fire (1.0) exactly at `rows`, 0 elsewhere.
    fn firing_at(rows: &[usize], len: usize) -> Vec<f64> {
        (0..len).map(|i| if rows.contains(&i) { 1.0 } else { 0.0 }).collect()
    }

    fn standard(report: &NabReport) -> &ProfileScore {
        &report.profiles[0]
    }

    #[test]
    fn scaled_sigmoid_matches_the_documented_values() {
        assert!((scaled_sigmoid(-1.0) - (2.0 * sigmoid(5.0) - 1.0)).abs() < 1e-15);
        assert!((scaled_sigmoid(-1.0) - 0.986_614_298_151_430_3).abs() < 1e-12);
        assert_eq!(scaled_sigmoid(0.0), 0.0);
        assert!((scaled_sigmoid(1.0) + 0.986_614_298_151_430_3).abs() < 1e-12);
        assert_eq!(scaled_sigmoid(3.0), -1.0);
    }

    #[test]
    fn probation_is_fifteen_percent_capped_at_750_rows() {
        assert_eq!(probation_rows(20), 3);
        assert_eq!(probation_rows(4032), 604);
        assert_eq!(probation_rows(22695), 750);
    }

    #[test]
    fn perfect_detector_scores_100_and_null_detector_0_on_every_profile() {
        let corpus = one_window();
        let perfect = evaluate_scores(&corpus, &[firing_at(&[10], 20)]);
        let null = evaluate_scores(&corpus, &[vec![0.0; 20]]);
        for (p, n) in perfect.profiles.iter().zip(&null.profiles) {
            assert!((p.normalised - 100.0).abs() < 1e-12, "{p:?}");
            assert_eq!(n.normalised, 0.0, "{n:?}");
        }
    }

    #[test]
    fn detection_at_window_start_earns_tp_and_later_ones_less() {
        let corpus = one_window();
        let at_start = evaluate_scores(&corpus, &[firing_at(&[10], 20)]);
        assert!((standard(&at_start).raw - 1.0).abs() < 1e-12);
        // Row 12 of the window 10..=14 sits at relative position -(14 - 12 + 1) / 5 = -0.6.
        let middle = evaluate_scores(&corpus, &[firing_at(&[12], 20)]);
        let expected = (2.0 * sigmoid(3.0) - 1.0) / (2.0 * sigmoid(5.0) - 1.0);
        assert!((standard(&middle).raw - expected).abs() < 1e-12);
        // Only the earliest detection counts, and further ones inside the window cost nothing.
        let both = evaluate_scores(&corpus, &[firing_at(&[12, 10, 13], 20)]);
        assert!((standard(&both).raw - 1.0).abs() < 1e-12);
    }

    #[test]
    fn false_positives_just_after_a_window_cost_less_than_far_after() {
        let corpus = one_window();
        // With scores 1 at the window start and 0.5 at the false positive, the sweep can choose
        // to keep or drop the false positive; test the raw score of keeping it directly.
        let (roles, _) = roles(&corpus.files[0]);
        let cost = |row: usize| match roles[row] {
            Role::Outside { cost } => cost,
            other => panic!("row {row} is {other:?}"),
        };
        // Row 15 is one row past the window's last row: position 1 / (5 - 1).
        assert!((cost(15) - (2.0 * sigmoid(-1.25) - 1.0)).abs() < 1e-12);
        // Row 19 is 5 rows past: position 1.25.
        assert!((cost(19) - (2.0 * sigmoid(-6.25) - 1.0)).abs() < 1e-12);
        assert!(cost(15) > cost(19));
        // Before any window, a false positive costs the full weight.
        assert_eq!(cost(5), -1.0);
        // The sweep at threshold 0.5 counts it: reward 1, plus 0.11 times the cost.
        let report = evaluate_scores(&corpus, &[firing_at(&[10, 15], 20)]);
        let expected = 1.0 + 0.11 * (2.0 * sigmoid(-1.25) - 1.0);
        assert!((standard(&report).raw - expected).abs() < 1e-12);
        assert_eq!(standard(&report).false_positives, 1);
    }

    #[test]
    fn detections_in_probation_are_ignored() {
        let corpus = one_window();
        let report = evaluate_scores(&corpus, &[firing_at(&[0, 1, 2], 20)]);
        for p in &report.profiles {
            assert_eq!(p.raw, -p.profile_fn_weight(&corpus));
            assert_eq!(p.false_positives, 0);
        }
    }

    #[test]
    fn the_sweep_chooses_the_threshold_that_maximises_the_corpus_score() {
        let corpus = one_window();
        // Firing at 0.9 catches the window start; at 0.8 it also fires before the window.
        let mut scores = vec![0.0; 20];
        scores[10] = 0.9;
        scores[5] = 0.8;
        let report = evaluate_scores(&corpus, &[scores]);
        assert_eq!(standard(&report).threshold, 0.9);
        assert!((standard(&report).normalised - 100.0).abs() < 1e-12);
        // A window whose only detection comes after a costly false positive: under the
        // low-FN profile the window is worth more than the false positive costs.
        let mut scores = vec![0.0; 20];
        scores[5] = 0.9;
        scores[12] = 0.8;
        let report = evaluate_scores(&corpus, &[scores]);
        assert_eq!(report.profiles[2].threshold, 0.8);
        let expected = (2.0 * sigmoid(3.0) - 1.0) / (2.0 * sigmoid(5.0) - 1.0) - 0.11;
        assert!((report.profiles[2].raw - expected).abs() < 1e-12);
    }

    #[test]
    fn loads_the_fixture_corpus() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/nab");
        let corpus = NabCorpus::load(&dir).unwrap();
        assert_eq!(corpus.files.len(), 1);
        let file = &corpus.files[0];
        assert_eq!(file.name, "handmade/step.csv");
        assert_eq!(file.values.len(), 40);
        assert_eq!(file.windows, vec![(26, 33)]);
        let names: Vec<&str> = corpus.profiles.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, PROFILE_ORDER);
        assert_eq!(corpus.profiles[1].fp_weight, 0.22);
        let mut perfect = vec![0.0; 40];
        perfect[26] = 1.0;
        let report = evaluate_scores(&corpus, &[perfect]);
        assert!(report.to_markdown("test").contains("| **test** | 100.0 | 100.0 | 100.0 |"));
    }

    #[test]
    fn bad_csv_names_the_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.csv");
        std::fs::write(&path, "timestamp,value\n2014-01-01 00:00:00,1\n2014-01-01 00:05:00,x\n")
            .unwrap();
        let error = read_series(&path).unwrap_err().to_string();
        assert!(error.contains("bad.csv line 3: bad value \"x\""), "{error}");
    }

    impl ProfileScore {
        fn profile_fn_weight(&self, corpus: &NabCorpus) -> f64 {
            corpus.profiles.iter().find(|p| p.name == self.profile).unwrap().fn_weight
        }
    }
}
