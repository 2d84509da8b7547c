//! Backgrounds: traffic without exfiltration, laid out on a timeline of weeks.
//!
//! A *background* yields the outbound flows of each day of its timeline, in time order, and
//! names its hosts. The *real timeline* is built from real captures: each capture is cut into
//! *host-days* (one internal source during one day of the capture), and every day of the
//! timeline superimposes one host-day per *virtual host*, moved to that day with its time of day
//! kept and its source rewritten to the virtual host's address. Virtual hosts keep their address
//! all along, so they have a history; the host-day each one plays on a given day is drawn from
//! the pool by a seeded shuffle, so every real host-day appears several times, on different
//! days and under different hosts.

use crate::enrich::{Enricher, GeoDb};
use crate::filter::{FlowFilter, NetworkSet};
use crate::flow::{Flow, MICROS_PER_SEC};
use crate::read::{expand_inputs, InputReader, LineOutcome};
use anyhow::Context;
use std::net::IpAddr;
use std::path::Path;

pub const DAY_SECS: i64 = 86_400;

/// Monday 2026-01-05 00:00 UTC: timelines start on a Monday so that weekdays are weekdays.
pub const TIMELINE_START_SECS: i64 = 1_767_571_200;

/// Something that can be replayed as a background.
pub trait Background {
    /// A short description for the report.
    fn describe(&self) -> String;
    fn days(&self) -> u32;
    /// First second of the timeline.
    fn start_secs(&self) -> i64;
    /// The outbound flows of one day, in order of their end times.
    fn day_flows(&self, day: u32) -> Vec<Flow>;
    /// The internal addresses of the hosts.
    fn hosts(&self) -> Vec<IpAddr>;
}

/// One internal source during one day of a real capture.
#[derive(Debug, Clone)]
pub struct HostDay {
    /// Capture file and original source address, for the report.
    pub origin: String,
    /// The flows, with times as offsets from the start of their day.
    pub flows: Vec<Flow>,
}

/// Host-days shorter than this many counted flows are too thin to stand for a day of a host.
pub const MIN_FLOWS_PER_HOST_DAY: usize = 50;

/// Reads real captures and cuts their outbound flows into host-days.
pub fn load_host_days(paths: &[&Path]) -> anyhow::Result<Vec<HostDay>> {
    let filter = FlowFilter::new(NetworkSet::default_internal(), true);
    let mut pool = Vec::new();
    for path in paths {
        let mut passed = crate::read::Passed::default();
        let specs = expand_inputs(&[path.display().to_string()], &mut passed)?;
        if let Some(error) = passed.unreadable.into_iter().next() {
            return Err(error.into());
        }
        for spec in specs {
            let mut reader = InputReader::open(&spec, None)
                .with_context(|| format!("reading {}", spec.display_name()))?;
            let name = spec.display_name();
            let mut by_host_day: std::collections::BTreeMap<(IpAddr, i64), Vec<Flow>> =
                std::collections::BTreeMap::new();
            while let Some(item) = reader.next_item() {
                let Ok(LineOutcome::Flow(flow)) = item.result else { continue };
                if filter.check(&flow).is_err() {
                    continue;
                }
                let day = flow.event_micros().div_euclid(MICROS_PER_SEC * DAY_SECS);
                by_host_day.entry((flow.source_ip, day)).or_default().push(flow);
            }
            for ((source, day), mut flows) in by_host_day {
                if flows.len() < MIN_FLOWS_PER_HOST_DAY {
                    continue;
                }
                let day_start = day * DAY_SECS * MICROS_PER_SEC;
                for flow in &mut flows {
                    shift(flow, -day_start);
                }
                let file = Path::new(&name).file_name().map(|f| f.to_string_lossy().into_owned());
                let origin = format!("{} {source} day {day}", file.unwrap_or(name.clone()));
                pool.push(HostDay { origin, flows });
            }
        }
    }
    Ok(pool)
}

fn shift(flow: &mut Flow, micros: i64) {
    flow.start_micros += micros;
    flow.end_micros = flow.end_micros.map(|end| end + micros);
}

/// A small deterministic generator (SplitMix64): the evaluation's layout must not change with a
/// library's version, and this is all the randomness a shuffle needs.
#[derive(Debug, Clone)]
pub struct SplitMix(pub u64);

impl SplitMix {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.unit() * n as f64) as usize % n.max(1)
    }
}

/// Real host-days superimposed on a timeline.
pub struct RealTimeline {
    pool: Vec<HostDay>,
    hosts: usize,
    days: u32,
    /// `assignment[day][host]`: the pool index each virtual host plays that day.
    assignment: Vec<Vec<usize>>,
}

impl RealTimeline {
    pub fn new(pool: Vec<HostDay>, hosts: usize, days: u32, seed: u64) -> RealTimeline {
        assert!(!pool.is_empty(), "a real timeline needs at least one host-day");
        let mut rng = SplitMix(seed);
        let mut assignment = Vec::with_capacity(days as usize);
        // A fresh shuffled deck of the pool, dealt in order, so every host-day is used about
        // equally often.
        let mut deck: Vec<usize> = Vec::new();
        for _ in 0..days {
            let mut today = Vec::with_capacity(hosts);
            for _ in 0..hosts {
                if deck.is_empty() {
                    deck = (0..pool.len()).collect();
                    for i in (1..deck.len()).rev() {
                        deck.swap(i, rng.below(i + 1));
                    }
                }
                today.push(deck.pop().expect("refilled above"));
            }
            assignment.push(today);
        }
        RealTimeline { pool, hosts, days, assignment }
    }

    pub fn host_address(host: usize) -> IpAddr {
        IpAddr::from([10, 50, (host / 250) as u8, (host % 250 + 1) as u8])
    }

    pub fn pool(&self) -> &[HostDay] {
        &self.pool
    }
}

impl Background for RealTimeline {
    fn describe(&self) -> String {
        format!(
            "real timeline: {} virtual hosts x {} days from {} real host-days",
            self.hosts,
            self.days,
            self.pool.len()
        )
    }

    fn days(&self) -> u32 {
        self.days
    }

    fn start_secs(&self) -> i64 {
        TIMELINE_START_SECS
    }

    fn day_flows(&self, day: u32) -> Vec<Flow> {
        let day_start = (TIMELINE_START_SECS + i64::from(day) * DAY_SECS) * MICROS_PER_SEC;
        let mut flows = Vec::new();
        for (host, &index) in self.assignment[day as usize].iter().enumerate() {
            let address = RealTimeline::host_address(host);
            for flow in &self.pool[index].flows {
                let mut moved = flow.clone();
                shift(&mut moved, day_start);
                moved.source_ip = address;
                flows.push(moved);
            }
        }
        flows.sort_by_key(|f| f.event_micros());
        flows
    }

    fn hosts(&self) -> Vec<IpAddr> {
        (0..self.hosts).map(RealTimeline::host_address).collect()
    }
}

/// The country of each flow's destination, as the detector would see it.
pub fn locator() -> anyhow::Result<Enricher> {
    Ok(Enricher::new(GeoDb::embedded()?))
}
