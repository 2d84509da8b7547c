//! The evaluation's tables, as Markdown.

use super::harness::{Evaluation, Outcome};
use super::inject::{CountryClass, Scenario, Sender, Shape};
use crate::output::units::human_bytes;
use std::collections::BTreeMap;
use std::fmt::Write;

/// The scenario grid: every country class, size, shape, sender and address count.
pub fn scenario_grid() -> Vec<Scenario> {
    let mut grid = Vec::new();
    for country in [CountryClass::NeverSeen, CountryClass::Rare, CountryClass::MostCommon] {
        for total_bytes in [20_000_000, 200_000_000, 2_000_000_000] {
            for shape in [Shape::HourBurst, Shape::DaySpread, Shape::WeekDrip] {
                for sender in [Sender::Familiar, Sender::Stranger] {
                    // Nobody already sends to a country the background never reaches.
                    if country == CountryClass::NeverSeen && sender == Sender::Familiar {
                        continue;
                    }
                    for addresses in [1, 4] {
                        grid.push(Scenario { country, total_bytes, shape, sender, addresses });
                    }
                }
            }
        }
    }
    grid
}

fn ratio(hits: usize, n: usize) -> String {
    if n == 0 {
        "-".into()
    } else {
        format!("{:.2}", hits as f64 / n as f64)
    }
}

fn hours(secs: i64) -> String {
    format!("{:.1} h", secs as f64 / 3600.0)
}

/// Recall per scenario class (addresses and repeats pooled), and false alerts.
pub fn render(title: &str, evaluation: &Evaluation) -> String {
    let (quiet, outcomes) = (&evaluation.quiet, &evaluation.outcomes);
    let skipped = evaluation.skipped.len();
    let mut out = String::new();
    let _ = writeln!(out, "### {title}\n");
    let per_day = |n: usize| n as f64 / f64::from(quiet.days.max(1));
    let per_k = |n: usize| 1000.0 * n as f64 / quiet.host_days.max(1) as f64;
    let _ = writeln!(
        out,
        "False alerts on the clean background ({} days after a {}-day warm-up, {} host-days):\n",
        quiet.days,
        super::harness::WARM_UP_DAYS,
        quiet.host_days
    );
    let _ = writeln!(out, "| detector | alerts | per day | per 1,000 host-days |");
    let _ = writeln!(out, "|---|---:|---:|---:|");
    for (name, n) in [
        ("geoexfil model".to_string(), quiet.model_alerts),
        (
            format!("fixed threshold ({})", human_bytes(quiet.threshold_bytes as f64)),
            quiet.threshold_alerts,
        ),
        ("log z-score".to_string(), quiet.z_score_alerts),
    ] {
        let _ = writeln!(out, "| {name} | {n} | {:.2} | {:.1} |", per_day(n), per_k(n));
    }
    let _ = writeln!(
        out,
        "\nCalibration: records of the clean background at or above each score, before \
         episodes group them into alerts (score = 100 (1 - 2^-log10(0.05/p))):\n"
    );
    let _ = writeln!(out, "| score | probability at most | records | per day |");
    let _ = writeln!(out, "|---:|---:|---:|---:|");
    for &(score, count) in &quiet.records_at_or_above {
        let _ = writeln!(
            out,
            "| {score} | {:.1e} | {count} | {:.2} |",
            crate::score::probability_for_score(score),
            per_day(count)
        );
    }
    let mut groups: BTreeMap<(CountryClass, u64, Shape, Sender), Vec<&Outcome>> = BTreeMap::new();
    for outcome in outcomes {
        let s = outcome.scenario;
        groups.entry((s.country, s.total_bytes, s.shape, s.sender)).or_default().push(outcome);
    }
    let _ = writeln!(out, "\nRecall at the default threshold (75) per scenario class:\n");
    let _ = writeln!(
        out,
        "| country | total | shape | sender | n | model | threshold | z-score | \
         model delay (median) |"
    );
    let _ = writeln!(out, "|---|---:|---|---|---:|---:|---:|---:|---:|");
    for ((country, bytes, shape, sender), group) in &groups {
        let n = group.len();
        let model = group.iter().filter(|o| o.model_detected).count();
        let threshold = group.iter().filter(|o| o.threshold_detected).count();
        let z = group.iter().filter(|o| o.z_score_detected).count();
        let mut delays: Vec<i64> = group.iter().filter_map(|o| o.model_delay_secs).collect();
        delays.sort_unstable();
        let delay = delays.get(delays.len() / 2).map_or("-".to_string(), |&d| hours(d));
        let _ = writeln!(
            out,
            "| {country} | {} | {shape} | {sender} | {n} | {} | {} | {} | {delay} |",
            human_bytes(*bytes as f64),
            ratio(model, n),
            ratio(threshold, n),
            ratio(z, n),
        );
    }
    let mut model_behind = Vec::new();
    for ((country, bytes, shape, sender), group) in &groups {
        let model = group.iter().filter(|o| o.model_detected).count();
        let threshold = group.iter().filter(|o| o.threshold_detected).count();
        let z = group.iter().filter(|o| o.z_score_detected).count();
        if threshold > model || z > model {
            model_behind
                .push(format!("{country} / {} / {shape} / {sender}", human_bytes(*bytes as f64)));
        }
    }
    let _ = writeln!(
        out,
        "\nClasses where a comparator found more than the model: {}.",
        if model_behind.is_empty() { "none".to_string() } else { model_behind.join("; ") }
    );
    if skipped > 0 {
        let _ = writeln!(
            out,
            "\n{skipped} scenarios could not be made on this background (see the note)."
        );
    }
    out
}
