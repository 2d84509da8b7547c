//! The run summary printed on the terminal.

use super::alert::over_value_label;
use super::units::{human_bytes, short_time};
use crate::detect::RunCounts;
use crate::enrich::{EnrichStats, GeoDbInfo};
use crate::job::FlowField;
use crate::rule::Alerted;
use crate::score::record::AnomalyRecord;
use std::fmt::Write;

/// Alerts listed in the summary table; the NDJSON output has them all.
pub const SUMMARY_ALERT_ROWS: usize = 10;

/// What one input contributed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InputReport {
    pub name: String,
    pub format: String,
    pub lines: u64,
    pub flows: u64,
    pub bad_lines: u64,
    /// Flows of this input that arrived after their bucket had closed.
    pub too_late: u64,
    /// Lines skipped because an earlier run already processed them.
    pub resumed_after_line: u64,
    /// Set when the input could not be opened or read at all.
    pub failure: Option<String>,
}

/// Everything the summary shows.
pub struct RunReport<'a> {
    pub job_id: &'a str,
    pub over_field: FlowField,
    pub bucket_secs: i64,
    pub geoip: &'a GeoDbInfo,
    pub inputs: &'a [InputReport],
    pub counts: &'a RunCounts,
    pub enrich: EnrichStats,
    pub over_values: usize,
    /// Over values seen after the modelling limit was reached.
    pub untracked_over_values: u64,
    pub max_over_values: usize,
    /// (host, over value) pairs forgotten after `pair_retention_secs` without traffic.
    pub forgotten_pairs: u64,
    pub pair_retention_secs: i64,
    /// The first over values turned away by a limit.
    pub untracked_sample: &'a [String],
    /// Set when the model memory limit was reached: the limit and the footprint at the end.
    pub memory_limit: Option<(u64, usize)>,
    pub open_buckets: usize,
    /// Records with a score above zero written during the run.
    pub records_written: usize,
    pub best_record: Option<&'a AnomalyRecord>,
    pub alert_count: usize,
    /// The organisation's daily and weekly rhythm, when one is established.
    pub seasonality: Option<String>,
    /// Records over the threshold that joined an episode already alerted instead of alerting.
    pub joined_episode: u64,
    /// The highest-scoring alerts, highest first, at most [`SUMMARY_ALERT_ROWS`].
    pub top_alerts: &'a [Alerted],
    pub score_threshold: f64,
    /// End of the job's learning period, when records of this run fell inside it.
    pub learning_until_secs: Option<i64>,
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Width of the over-value column of the alert table.
const LABEL_COLUMNS: usize = 28;

/// Shortens a label such as `Korea (Democratic People's Republic of) (KP)` to `columns`
/// characters, cutting the name rather than the value at its end.
fn fit_label(label: &str, over_value: &str, columns: usize) -> String {
    if label.chars().count() <= columns {
        return label.to_string();
    }
    let tail = format!("… ({over_value})");
    if !label.ends_with(&format!("({over_value})")) || tail.chars().count() >= columns {
        return label.chars().take(columns).collect();
    }
    let head: String = label.chars().take(columns - tail.chars().count()).collect();
    format!("{}{tail}", head.trim_end())
}

fn top_hosts(record: &AnomalyRecord) -> String {
    let mut hosts: Vec<&str> =
        record.influencers_of(FlowField::HostName).map(|i| i.value.as_str()).collect();
    if hosts.is_empty() {
        hosts = record.influencers_of(FlowField::SourceIp).map(|i| i.value.as_str()).collect();
    }
    let shown: Vec<&str> = hosts.iter().take(3).copied().collect();
    let mut text = shown.join(", ");
    if hosts.len() > 3 {
        let _ = write!(text, " +{}", hosts.len() - 3);
    }
    text
}

/// Renders the summary as text.
pub fn render(report: &RunReport) -> String {
    let mut out = String::new();
    let counts = report.counts;
    let _ = writeln!(
        out,
        "geoexfil {}: job {}, {} h buckets, GeoIP {} (built {})",
        env!("CARGO_PKG_VERSION"),
        report.job_id,
        report.bucket_secs as f64 / 3600.0,
        report.geoip.source,
        report.geoip.build_date
    );
    let lines: u64 = report.inputs.iter().map(|i| i.lines).sum();
    let _ = writeln!(out, "inputs: {}, {} lines", report.inputs.len(), thousands(lines));
    for input in report.inputs {
        match &input.failure {
            Some(failure) => {
                let _ = writeln!(out, "  {}  not read: {failure}", input.name);
            }
            None => {
                let _ = write!(
                    out,
                    "  {}  {}  {} lines  {} flows  {} bad lines",
                    input.name,
                    input.format,
                    thousands(input.lines),
                    thousands(input.flows),
                    thousands(input.bad_lines)
                );
                if input.too_late > 0 {
                    let _ = write!(out, "  {} too late", thousands(input.too_late));
                }
                if input.resumed_after_line > 0 {
                    let _ = write!(out, "  (resumed after line {})", input.resumed_after_line);
                }
                out.push('\n');
            }
        }
    }
    let _ = writeln!(
        out,
        "flows: {} read, {} counted ({} sent), {} records skipped; {} values of {} modelled",
        thousands(counts.flows_read),
        thousands(counts.flows_counted),
        human_bytes(counts.bytes_counted as f64),
        thousands(counts.skipped.total()),
        thousands(report.over_values as u64),
        report.over_field.ecs_name(),
    );
    if counts.skipped.total() > 0 {
        out.push_str("skipped by reason:\n");
        for (reason, n) in counts.skipped.iter() {
            let _ = writeln!(out, "  {:<24} {:>12}", reason.as_str(), thousands(n));
        }
    }
    let enrich = report.enrich;
    let _ = writeln!(
        out,
        "geoip: {} lookups, {} cache hits, {} from event fields, {} unknown (country ZZ)",
        thousands(enrich.lookups),
        thousands(enrich.cache_hits),
        thousands(enrich.from_event),
        thousands(enrich.unknown)
    );
    if enrich.cache_full > 0 {
        let _ = writeln!(
            out,
            "geoip cache full: {} lookups were not cached (raise the cache limit)",
            thousands(enrich.cache_full)
        );
    }
    if let Some((limit, used)) = report.memory_limit {
        let _ = writeln!(
            out,
            "model memory limit reached: {} of --max-model-memory {} in use; new over values \
             and (host, destination) pairs are no longer modelled (raise the limit)",
            human_bytes(used as f64),
            human_bytes(limit as f64)
        );
    }
    if report.untracked_over_values > 0 {
        let _ = writeln!(
            out,
            "limit reached: {} records of over values beyond --max-over-values {} or the model \
             memory limit were judged against the population only, without a baseline of their \
             own (first: {})",
            thousands(report.untracked_over_values),
            report.max_over_values,
            report.untracked_sample.join(", ")
        );
    }
    if report.forgotten_pairs > 0 {
        let _ = writeln!(
            out,
            "{} (host, destination) pairs were forgotten after {} without traffic \
             (--pair-retention); a pair seen again starts over as first-time",
            thousands(report.forgotten_pairs),
            whole_duration(report.pair_retention_secs)
        );
    }
    if let (Some(first), Some(last)) = (counts.first_event_secs, counts.last_event_secs) {
        let _ = writeln!(
            out,
            "time covered: {} .. {} UTC; {} buckets closed, {} left open",
            short_time(first),
            short_time(last),
            counts.buckets_closed,
            report.open_buckets
        );
    }
    let _ = writeln!(
        out,
        "records scored: {}, with a score above 0: {}",
        thousands(counts.records_scored),
        report.records_written
    );
    if let Some(until) = report.learning_until_secs {
        let _ = writeln!(
            out,
            "learning period: records until {} UTC are scored and written but do not alert \
             (--learning-period sets it)",
            short_time(until)
        );
    }
    if let Some(rhythm) = &report.seasonality {
        let _ = writeln!(out, "seasonality: {rhythm}; totals in quiet slots are judged net of it");
    }
    if report.seasonality.is_none() {
        out.push_str("seasonality: no daily or weekly rhythm established\n");
    }
    if report.joined_episode > 0 {
        let _ = writeln!(
            out,
            "episodes: {} records over the threshold continued an episode already alerted \
             (written with --records)",
            thousands(report.joined_episode)
        );
    }
    if report.alert_count == 0 {
        let best = report.best_record;
        let _ = write!(out, "no alerts: no record scored {} or more", report.score_threshold);
        if report.learning_until_secs.is_some() {
            out.push_str(" outside the learning period");
        }
        if let Some(best) = best {
            let _ = write!(
                out,
                " (highest: {:.1} for {} at {})",
                best.record_score,
                over_value_label(best),
                short_time(best.bucket_start_secs)
            );
        }
        out.push('\n');
        return out;
    }
    let _ = writeln!(
        out,
        "alerts: {} (threshold {}); top {}:",
        report.alert_count,
        report.score_threshold,
        report.top_alerts.len()
    );
    let _ = writeln!(
        out,
        "  {:>5}  {:<28} {:<16} {:>9} {:>9}  top hosts",
        "score", "over value", "bucket (UTC)", "actual", "typical"
    );
    for alerted in report.top_alerts {
        let r = &alerted.record;
        let label = fit_label(&over_value_label(r), &r.over_value, LABEL_COLUMNS);
        let _ = writeln!(
            out,
            "  {:>5.1}  {:<28} {:<16} {:>9} {:>9}  {}",
            r.record_score,
            label,
            short_time(r.bucket_start_secs),
            human_bytes(r.actual_bytes as f64),
            human_bytes(r.typical_bytes),
            top_hosts(r)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_country_names_are_cut_before_their_code() {
        let label = "Korea (Democratic People's Republic of) (KP)";
        assert_eq!(fit_label(label, "KP", 28), "Korea (Democratic Peop… (KP)");
        assert_eq!(fit_label("Netherlands (NL)", "NL", 28), "Netherlands (NL)");
        assert_eq!(fit_label("address 2001:db8::1234:5678:9abc:def0", "x", 10), "address 20");
    }
}

/// A duration in the largest of days, hours, minutes and seconds that divides it.
fn whole_duration(secs: i64) -> String {
    let unit = [(86_400, "days"), (3_600, "h"), (60, "min")]
        .into_iter()
        .find(|&(size, _)| secs >= size && secs % size == 0);
    match unit {
        Some((size, name)) => format!("{} {name}", secs / size),
        None => format!("{secs} s"),
    }
}

#[cfg(test)]
mod duration_tests {
    #[test]
    fn durations_are_shown_in_their_largest_whole_unit() {
        assert_eq!(super::whole_duration(42 * 86_400), "42 days");
        assert_eq!(super::whole_duration(3 * 3_600), "3 h");
        assert_eq!(super::whole_duration(90), "90 s");
        assert_eq!(super::whole_duration(120), "2 min");
    }
}
