//! Replaying backgrounds with and without injections, and measuring what was found.

use super::background::{Background, DAY_SECS};
use super::comparators::{fixed_threshold, log_z_score, tune_threshold, BucketTotals};
use super::inject::{inject, CountryClass, Injection, Scenario, Sender, Shape};
use crate::detect::{Detector, DetectorState};
use crate::enrich::{Enricher, GeoDb};
use crate::filter::{FlowFilter, NetworkSet};
use crate::flow::{Flow, MICROS_PER_SEC};
use crate::job::{FlowField, JobConfig};
use crate::model::ModelConfig;
use crate::rule::{Alerted, RuleConfig};
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

/// Days at the start of a timeline that the job spends in its learning period (in which it
/// cannot alert); false alerts are counted from the day after.
pub const WARM_UP_DAYS: u32 = (crate::model::DEFAULT_LEARNING_PERIOD_SECS / DAY_SECS) as u32;

/// What one replay produced.
pub struct Replay {
    pub alerts: Vec<Alerted>,
    pub buckets: Vec<BucketTotals>,
    /// Every country each source sent to.
    pub host_countries: BTreeMap<IpAddr, BTreeSet<String>>,
    /// `(bucket start, score)` of every record outside the learning period with a score
    /// above zero, for calibration.
    pub record_scores: Vec<(i64, f64)>,
}

fn absorb(closed: Vec<crate::bucket::BucketAggregate>, replay: &mut Replay) {
    for bucket in closed {
        for (country, partition) in &bucket.partitions {
            for (source, _) in partition.influencer_ranking(FlowField::SourceIp) {
                if let crate::bucket::FieldValue::Address(ip) = source {
                    replay.host_countries.entry(*ip).or_default().insert(country.to_string());
                }
            }
        }
        replay.buckets.push(BucketTotals::from_aggregate(&bucket));
    }
}

/// The detector and everything measured so far, at the start of a day of a clean replay.
/// Injected replays start from it instead of replaying the weeks before the injection again.
#[derive(Clone)]
pub struct Snapshot {
    pub day: u32,
    state: DetectorState,
    alerts: Vec<Alerted>,
    buckets: Vec<BucketTotals>,
    host_countries: BTreeMap<IpAddr, BTreeSet<String>>,
    record_scores: Vec<(i64, f64)>,
}

fn detector(state: DetectorState) -> anyhow::Result<Detector> {
    let filter = FlowFilter::new(NetworkSet::default_internal(), true);
    let enricher = Enricher::new(GeoDb::embedded()?);
    Ok(Detector::new(state, filter, enricher).keep_closed_buckets())
}

fn fresh_state() -> DetectorState {
    DetectorState::new(JobConfig::country(), ModelConfig::default(), RuleConfig::default())
}

fn empty_replay() -> Replay {
    Replay {
        alerts: Vec::new(),
        buckets: Vec::new(),
        host_countries: BTreeMap::new(),
        record_scores: Vec::new(),
    }
}

/// Replays a background, with an injection merged in when given.
pub fn replay(
    background: &dyn Background,
    injection: Option<&Injection>,
) -> anyhow::Result<Replay> {
    let mut run = empty_replay();
    let mut detector = detector(fresh_state())?;
    replay_days(&mut detector, background, 0..background.days(), injection, &mut run);
    finish(&mut detector, &mut run);
    Ok(run)
}

/// Replays a clean background and keeps a snapshot taken at the start of `snapshot_day`.
pub fn replay_with_snapshot(
    background: &dyn Background,
    snapshot_day: u32,
) -> anyhow::Result<(Replay, Snapshot)> {
    let mut run = empty_replay();
    let mut detector = detector(fresh_state())?;
    replay_days(&mut detector, background, 0..snapshot_day, None, &mut run);
    let snapshot = Snapshot {
        day: snapshot_day,
        state: detector.state.clone(),
        alerts: run.alerts.clone(),
        buckets: run.buckets.clone(),
        host_countries: run.host_countries.clone(),
        record_scores: run.record_scores.clone(),
    };
    replay_days(&mut detector, background, snapshot_day..background.days(), None, &mut run);
    finish(&mut detector, &mut run);
    Ok((run, snapshot))
}

/// Replays from a snapshot to the end of the background, with an injection.
pub fn replay_from(
    background: &dyn Background,
    snapshot: &Snapshot,
    injection: Option<&Injection>,
) -> anyhow::Result<Replay> {
    let mut run = Replay {
        alerts: snapshot.alerts.clone(),
        buckets: snapshot.buckets.clone(),
        host_countries: snapshot.host_countries.clone(),
        record_scores: snapshot.record_scores.clone(),
    };
    let mut detector = detector(snapshot.state.clone())?;
    replay_days(&mut detector, background, snapshot.day..background.days(), injection, &mut run);
    finish(&mut detector, &mut run);
    Ok(run)
}

fn finish(detector: &mut Detector, run: &mut Replay) {
    detector.finish(true);
    run.alerts.extend(detector.take_alerts());
    keep_scores(detector.take_records(), run);
    absorb(detector.take_closed_buckets(), run);
}

fn replay_days(
    detector: &mut Detector,
    background: &dyn Background,
    days: std::ops::Range<u32>,
    injection: Option<&Injection>,
    run: &mut Replay,
) {
    let injected: &[Flow] = injection.map_or(&[], |i| i.flows.as_slice());
    let first_micros =
        (background.start_secs() + i64::from(days.start) * DAY_SECS) * MICROS_PER_SEC;
    let mut next_injected = injected.partition_point(|f| f.event_micros() < first_micros);
    for day in days {
        let day_end_micros =
            (background.start_secs() + i64::from(day + 1) * DAY_SECS) * MICROS_PER_SEC;
        let mut flows = background.day_flows(day);
        while next_injected < injected.len()
            && injected[next_injected].event_micros() < day_end_micros
        {
            flows.push(injected[next_injected].clone());
            next_injected += 1;
        }
        flows.sort_by_key(|f| f.event_micros());
        for flow in flows {
            let _ = detector.process(flow);
        }
        run.alerts.extend(detector.take_alerts());
        keep_scores(detector.take_records(), run);
        absorb(detector.take_closed_buckets(), run);
    }
}

fn keep_scores(records: Vec<crate::score::record::AnomalyRecord>, run: &mut Replay) {
    run.record_scores.extend(
        records
            .iter()
            .filter(|r| !r.learning && r.record_score > 0.0)
            .map(|r| (r.bucket_start_secs, r.record_score)),
    );
}

/// Who sent where in the clean background, for choosing countries and hosts.
pub struct BackgroundFacts {
    /// Countries by bytes received, most first.
    pub countries_by_bytes: Vec<(String, u64)>,
    /// Buckets in which each country received anything.
    pub active_buckets: BTreeMap<String, usize>,
    pub bucket_count: usize,
    /// Countries each host sent to anywhere in the clean background.
    pub host_countries: BTreeMap<IpAddr, BTreeSet<String>>,
    pub hosts: Vec<IpAddr>,
}

impl BackgroundFacts {
    pub fn from_replay(clean: &Replay, background: &dyn Background) -> BackgroundFacts {
        let mut bytes: BTreeMap<String, u64> = BTreeMap::new();
        let mut active_buckets: BTreeMap<String, usize> = BTreeMap::new();
        for bucket in &clean.buckets {
            for (country, (total, _)) in &bucket.countries {
                *bytes.entry(country.clone()).or_default() += total;
                *active_buckets.entry(country.clone()).or_default() += 1;
            }
        }
        let host_countries = clean.host_countries.clone();
        let mut countries_by_bytes: Vec<(String, u64)> = bytes.into_iter().collect();
        countries_by_bytes.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        BackgroundFacts {
            countries_by_bytes,
            active_buckets,
            bucket_count: clean.buckets.len(),
            host_countries,
            hosts: background.hosts(),
        }
    }

    fn sends_to(&self, host: IpAddr, country: &str) -> bool {
        self.host_countries.get(&host).is_some_and(|c| c.contains(country))
    }
}

/// Countries no real capture here reaches, tried in order for "never seen".
const NEVER_SEEN_CANDIDATES: [&str; 8] = ["KP", "TD", "BT", "ER", "TM", "SO", "CF", "LS"];

/// A country counts as rarely seen when it received traffic in at most this share of buckets;
/// when none is that rare, the three least active countries are taken instead.
pub const RARE_BUCKET_SHARE: f64 = 0.02;

/// The sender of "a host that never sent there" when every host of the background sends to the
/// country: a host new to the network (a freshly compromised server, a visitor's laptop).
pub const NEW_HOST: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 99, 0, 1));

/// Picks the country and host for a scenario, or says why it cannot be made on this background.
pub fn choose(
    scenario: &Scenario,
    facts: &BackgroundFacts,
    seed: u64,
) -> Result<(String, IpAddr), String> {
    let mut rng = super::background::SplitMix(seed);
    let country = match scenario.country {
        CountryClass::NeverSeen => NEVER_SEEN_CANDIDATES
            .iter()
            .find(|c| !facts.active_buckets.contains_key(**c))
            .map(|c| c.to_string())
            .ok_or("every candidate country appears in the background")?,
        CountryClass::MostCommon => {
            facts.countries_by_bytes.first().map(|(c, _)| c.clone()).ok_or("empty background")?
        }
        CountryClass::Rare => {
            let limit = (facts.bucket_count as f64 * RARE_BUCKET_SHARE).max(1.0) as usize;
            let mut seen: Vec<(&String, usize)> = facts
                .active_buckets
                .iter()
                .filter(|(c, _)| c.as_str() != crate::enrich::UNKNOWN_COUNTRY_CODE)
                .map(|(c, &n)| (c, n))
                .collect();
            seen.sort_by_key(|&(c, n)| (n, c.clone()));
            let rare: Vec<&String> =
                seen.iter().filter(|(_, n)| *n <= limit).map(|(c, _)| *c).collect();
            let rare =
                if rare.is_empty() { seen.iter().take(3).map(|(c, _)| *c).collect() } else { rare };
            if rare.is_empty() {
                return Err("the background reaches no country".into());
            }
            rare[rng.below(rare.len())].clone()
        }
    };
    let candidates: Vec<IpAddr> = facts
        .hosts
        .iter()
        .copied()
        .filter(|&h| match scenario.sender {
            Sender::Familiar => facts.sends_to(h, &country),
            Sender::Stranger => !facts.sends_to(h, &country),
        })
        .collect();
    if candidates.is_empty() {
        return match scenario.sender {
            Sender::Stranger => Ok((country, NEW_HOST)),
            Sender::Familiar => Err(format!("no host that {} {country}", scenario.sender)),
        };
    }
    Ok((country, candidates[rng.below(candidates.len())]))
}

/// Day of the timeline on which injections start: three quarters in, so the model has weeks of
/// history and a week-long drip still ends inside the timeline.
pub fn injection_day(days: u32, shape: Shape) -> u32 {
    let span_days = (shape.duration_secs() / DAY_SECS) as u32;
    (days * 3 / 4).min(days.saturating_sub(span_days + 1)).max(WARM_UP_DAYS + 1)
}

/// The outcome of one injection for each detector.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub scenario: Scenario,
    pub country: String,
    pub host: IpAddr,
    pub model_detected: bool,
    /// Seconds from the injection's start to the rule run that first alerted on it.
    pub model_delay_secs: Option<i64>,
    pub threshold_detected: bool,
    pub z_score_detected: bool,
}

fn overlaps(bucket_start: i64, bucket_secs: i64, injection: &Injection) -> bool {
    bucket_start < injection.end_secs && bucket_start + bucket_secs > injection.start_secs
}

/// Judges one injected replay.
pub fn judge(run: &Replay, injection: &Injection, threshold_bytes: u64) -> Outcome {
    let host = injection.host.to_string();
    let bucket_secs = JobConfig::country().bucket_secs;
    let hits: Vec<&Alerted> = run
        .alerts
        .iter()
        .filter(|a| {
            let r = &a.record;
            r.over_value == injection.country
                && overlaps(r.bucket_start_secs, r.bucket_secs, injection)
                && r.influencers_of(FlowField::SourceIp).any(|i| i.value == host)
        })
        .collect();
    let comparator_hit = |alerts: Vec<super::comparators::ComparatorAlert>| {
        alerts.iter().any(|a| {
            a.country == injection.country
                && overlaps(a.bucket_start_secs, bucket_secs, injection)
                && a.top_sources.contains(&host)
        })
    };
    Outcome {
        scenario: injection.scenario,
        country: injection.country.clone(),
        host: injection.host,
        model_detected: !hits.is_empty(),
        model_delay_secs: hits.iter().map(|a| a.rule_run_secs - injection.start_secs).min(),
        threshold_detected: comparator_hit(fixed_threshold(&run.buckets, threshold_bytes)),
        z_score_detected: comparator_hit(log_z_score(&run.buckets)),
    }
}

/// False alerts of each detector on a clean background, after the warm-up.
#[derive(Debug, Clone, PartialEq)]
pub struct Quiet {
    pub days: u32,
    pub host_days: u64,
    pub model_alerts: usize,
    pub threshold_alerts: usize,
    pub z_score_alerts: usize,
    pub threshold_bytes: u64,
    /// For each score of [`CALIBRATION_SCORES`], the records at or above it (before episodes
    /// group them into alerts).
    pub records_at_or_above: Vec<(f64, usize)>,
}

/// Scores at which the clean background's records are counted, for calibration.
pub const CALIBRATION_SCORES: [f64; 4] = [50.0, 75.0, 90.0, 95.0];

/// Counts the clean background's alerts and tunes the threshold comparator on it.
pub fn quiet(clean: &Replay, background: &dyn Background) -> Quiet {
    let counted_from = background.start_secs() + i64::from(WARM_UP_DAYS) * DAY_SECS;
    let days = background.days().saturating_sub(WARM_UP_DAYS);
    let after_warm_up: Vec<BucketTotals> =
        clean.buckets.iter().filter(|b| b.bucket_start_secs >= counted_from).cloned().collect();
    let threshold_bytes = tune_threshold(&after_warm_up, (days / 7) as usize);
    Quiet {
        days,
        host_days: u64::from(days) * background.hosts().len() as u64,
        model_alerts: clean
            .alerts
            .iter()
            .filter(|a| a.record.bucket_start_secs >= counted_from)
            .count(),
        threshold_alerts: fixed_threshold(&after_warm_up, threshold_bytes).len(),
        z_score_alerts: log_z_score(&clean.buckets)
            .iter()
            .filter(|a| a.bucket_start_secs >= counted_from)
            .count(),
        threshold_bytes,
        records_at_or_above: CALIBRATION_SCORES
            .iter()
            .map(|&score| {
                let count = clean
                    .record_scores
                    .iter()
                    .filter(|&&(start, s)| start >= counted_from && s >= score)
                    .count();
                (score, count)
            })
            .collect(),
    }
}

/// Everything an evaluation of one background measured.
pub struct Evaluation {
    pub quiet: Quiet,
    pub outcomes: Vec<Outcome>,
    /// Scenarios this background cannot host, with the reason.
    pub skipped: Vec<(Scenario, String)>,
}

/// Runs every scenario on a background: the clean replay first, then one replay per scenario.
pub fn evaluate(
    background: &dyn Background,
    scenarios: &[Scenario],
    seed: u64,
) -> anyhow::Result<Evaluation> {
    let snapshot_day = [Shape::HourBurst, Shape::DaySpread, Shape::WeekDrip]
        .into_iter()
        .map(|shape| injection_day(background.days(), shape))
        .min()
        .unwrap_or(0);
    let (clean, snapshot) = replay_with_snapshot(background, snapshot_day)?;
    let quiet = quiet(&clean, background);
    let facts = BackgroundFacts::from_replay(&clean, background);
    let mut outcomes = Vec::new();
    let mut skipped = Vec::new();
    for (index, scenario) in scenarios.iter().enumerate() {
        let scenario_seed = seed.wrapping_mul(1_000_003).wrapping_add(index as u64);
        let (country, host) = match choose(scenario, &facts, scenario_seed) {
            Ok(choice) => choice,
            Err(why) => {
                skipped.push((*scenario, why));
                continue;
            }
        };
        let day = injection_day(background.days(), scenario.shape);
        let mut rng = super::background::SplitMix(scenario_seed);
        // Working hours, 08:00 to 17:00, so a burst competes with the busiest traffic.
        let hour = 8 + rng.below(10) as i64;
        let start = background.start_secs() + i64::from(day) * DAY_SECS + hour * 3600;
        let injection = inject(*scenario, &country, host, start, scenario_seed);
        tracing::info!(
            scenario = index + 1,
            of = scenarios.len(),
            country = %injection.country,
            "replaying an injection"
        );
        let run = replay_from(background, &snapshot, Some(&injection))?;
        outcomes.push(judge(&run, &injection, quiet.threshold_bytes));
    }
    Ok(Evaluation { quiet, outcomes, skipped })
}
