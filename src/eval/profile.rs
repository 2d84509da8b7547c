//! Traffic profile: the statistics of real outbound traffic that a synthetic organisation copies.
//!
//! A *profile* is measured from real flow logs and holds no record of them, only shares and
//! quantiles. Its unit of measure is the *host-day*: one internal source address during one UTC
//! day. A capture whose clock is relative (it starts near the Unix epoch, so the calendar is
//! unknown) is cut into 24-hour *slices* counted from its first outbound flow instead, and its
//! hosts are kept apart from hosts of other captures, since the same private address in two
//! unrelated captures is two machines.
//!
//! Only *outbound* flows count: those that pass the project's own [`FlowFilter`] with the default
//! internal networks and the sensor's direction trusted. Their destination country comes from the
//! embedded GeoIP database (or from event geo, when a flow carries it). A destination the database
//! does not know counts under [`OTHER_COUNTRIES`], as do the countries beyond the top
//! [`TOP_COUNTRIES`].
//!
//! The profile holds:
//! - per country, its share of outbound bytes and of outbound flows;
//! - quantiles of bytes sent per flow, overall and for countries with enough flows;
//! - quantiles of flows per host-day and of distinct countries per host-day;
//! - the share of flows per UTC hour of day, from captures with absolute clocks only;
//! - the *new-country rate*: among the host-days of a host that has earlier days, how many
//!   reach a country that host had not reached on any earlier day.

use crate::enrich::{Enricher, GeoDb, UNKNOWN_COUNTRY_CODE};
use crate::filter::{FlowFilter, NetworkSet};
use crate::flow::{Flow, MICROS_PER_SEC};
use crate::read::{expand_inputs, InputReader, LineOutcome};
use anyhow::Context;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// Countries listed by name. Forty covers every country that carries a noticeable share in the
/// captures while keeping the long tail, which holds a handful of flows each, together.
pub const TOP_COUNTRIES: usize = 40;

/// The name under which the countries beyond the top list, and unknown destinations, count.
pub const OTHER_COUNTRIES: &str = "other";

/// A country gets its own bytes-per-flow quantiles when it has at least this many flows; fewer
/// make the upper quantiles, which carry most of the bytes, little more than single flows.
pub const MIN_FLOWS_FOR_COUNTRY_QUANTILES: u64 = 200;

/// The probabilities at which distributions are recorded. The dense upper end matters most:
/// a few large flows carry most outbound bytes (in the captures the largest single flow holds
/// over half of them), so the tail is kept in detail; without the levels above 0.999 a draw
/// between the 99.9th percentile and the maximum would overstate the bytes several times.
pub const QUANTILE_LEVELS: [f64; 15] =
    [0.0, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999, 0.9995, 0.9999, 1.0];

/// Times before 2000-01-01 UTC are taken as a relative clock: no sensor recorded the captures
/// this project reads before then, while relative captures start at zero.
pub const RELATIVE_CLOCK_LIMIT_SECS: i64 = 946_684_800;

const SECS_PER_DAY: i64 = 86_400;
const SECS_PER_HOUR: i64 = 3_600;

/// Where the real captures live on the development machine; see `fixtures/eval/README.md`.
pub const SHARED_DATA_DIR: &str = "/work/shared/data";

/// The captures `fixtures/eval/profile.json` is computed from, relative to [`SHARED_DATA_DIR`].
/// Globs are expanded by the project's own input expansion.
pub const PROFILE_CAPTURES: [&str; 5] = [
    "ctu-normal-zeek/*.labeled",
    "ctu-sme-11/2023-02-20-ubuntu-*.conn.log.labeled",
    "ctu-malware-zeek/ctu-botnet-4.conn.log.labeled",
    "slips-samples/argus-2019-04-04-24h.binetflow",
    "slips-samples/zeek-json-conn.log",
];

/// One point of a distribution: the value below which a share `p` of observations lies.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct QuantilePoint {
    pub p: f64,
    pub value: f64,
}

/// A distribution summarised by its quantiles at [`QUANTILE_LEVELS`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Quantiles {
    pub count: u64,
    pub mean: f64,
    /// Increasing in `p`, from 0 (the minimum) to 1 (the maximum); empty when `count` is 0.
    pub points: Vec<QuantilePoint>,
}

impl Quantiles {
    /// The quantiles of a set of observations, interpolating linearly between order statistics
    /// (the value at `p` lies at rank `p * (n - 1)`), so that the median of an even count is the
    /// mean of the middle two.
    pub fn of(values: &[f64]) -> Quantiles {
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let count = sorted.len() as u64;
        if sorted.is_empty() {
            return Quantiles { count, mean: 0.0, points: Vec::new() };
        }
        let mean = sorted.iter().sum::<f64>() / sorted.len() as f64;
        let last = (sorted.len() - 1) as f64;
        let points = QUANTILE_LEVELS
            .iter()
            .map(|&p| {
                let rank = p * last;
                let below = rank.floor() as usize;
                let above = rank.ceil() as usize;
                let value = sorted[below] + (rank - below as f64) * (sorted[above] - sorted[below]);
                QuantilePoint { p, value }
            })
            .collect();
        Quantiles { count, mean, points }
    }

    /// The value at probability `p` (clamped to [0, 1]), interpolated between the recorded
    /// points. Between two positive points the interpolation is linear in the logarithm, which
    /// follows a heavy tail far better than a straight line: between the 99th percentile and the
    /// maximum most draws stay near the former. `None` for an empty distribution.
    pub fn value_at(&self, p: f64) -> Option<f64> {
        let p = p.clamp(0.0, 1.0);
        let first = self.points.first()?;
        if p <= first.p {
            return Some(first.value);
        }
        for pair in self.points.windows(2) {
            let (low, high) = (pair[0], pair[1]);
            if p == high.p {
                return Some(high.value);
            }
            if p < high.p {
                let width = high.p - low.p;
                let t = if width > 0.0 { (p - low.p) / width } else { 1.0 };
                let value = if low.value > 0.0 && high.value > 0.0 {
                    (low.value.ln() + t * (high.value.ln() - low.value.ln())).exp()
                } else {
                    low.value + t * (high.value - low.value)
                };
                return Some(value);
            }
        }
        self.points.last().map(|point| point.value)
    }

    /// The same shape with every value multiplied by `factor`.
    pub fn scaled(&self, factor: f64) -> Quantiles {
        let points =
            self.points.iter().map(|p| QuantilePoint { p: p.p, value: p.value * factor }).collect();
        Quantiles { count: self.count, mean: self.mean * factor, points }
    }

    /// The recorded value at exactly probability `p`, if it is one of the levels.
    pub fn at_level(&self, p: f64) -> Option<f64> {
        self.points.iter().find(|point| point.p == p).map(|point| point.value)
    }
}

/// One destination country's part of the outbound traffic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CountryStats {
    /// ISO 3166-1 alpha-2 code, or [`OTHER_COUNTRIES`].
    pub country: String,
    pub byte_share: f64,
    pub flow_share: f64,
    /// Bytes sent per flow to this country, when it has [`MIN_FLOWS_FOR_COUNTRY_QUANTILES`].
    pub bytes_per_flow: Option<Quantiles>,
}

impl CountryStats {
    /// Bytes per flow to this country: its own quantiles when it has them, else the shape of
    /// flows to rare countries ([`TrafficProfile::bytes_per_flow_rare`]) scaled to this
    /// country's mean flow size. The overall shape would not do: its tail comes from the few
    /// countries that take large uploads, and lent to a country whose flows are all small it
    /// would invent uploads of megabytes the captures never sent there.
    pub fn sizes(&self, profile: &TrafficProfile) -> Quantiles {
        let rare = &profile.bytes_per_flow_rare;
        match &self.bytes_per_flow {
            Some(own) => own.clone(),
            None if self.flow_share > 0.0 && rare.mean > 0.0 => {
                // The ratio of the shares is the country's mean relative to the overall mean.
                let mean = self.byte_share / self.flow_share * profile.bytes_per_flow.mean;
                rare.scaled(mean / rare.mean)
            }
            None => rare.clone(),
        }
    }
}

/// How often hosts reach countries they had not reached before.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewCountryStats {
    /// Host-days of hosts that had at least one earlier host-day.
    pub later_host_days: u64,
    /// Of those, the host-days that reached at least one country new to the host.
    pub host_days_with_new_country: u64,
    /// `host_days_with_new_country / later_host_days`, 0 when there are none.
    pub rate_per_host_day: f64,
    /// New countries per later host-day, on average.
    pub new_countries_per_host_day: f64,
}

/// Statistics of real outbound traffic; see the module documentation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrafficProfile {
    /// The capture files measured (file names only).
    pub sources: Vec<String>,
    pub outbound_flows: u64,
    pub outbound_bytes: u64,
    pub hosts: u64,
    pub host_days: u64,
    /// The top countries by byte share, largest first, then [`OTHER_COUNTRIES`] last when any
    /// traffic fell outside them.
    pub countries: Vec<CountryStats>,
    pub bytes_per_flow: Quantiles,
    /// Bytes per flow to the *rare* countries: those with fewer than
    /// [`MIN_FLOWS_FOR_COUNTRY_QUANTILES`] flows each, unknown destinations included.
    pub bytes_per_flow_rare: Quantiles,
    pub flows_per_host_day: Quantiles,
    pub countries_per_host_day: Quantiles,
    /// Share of flows starting in each UTC hour, from captures with absolute clocks; `None`
    /// when there were none.
    pub hour_of_day_flow_shares: Option<Vec<f64>>,
    pub new_countries: NewCountryStats,
}

impl TrafficProfile {
    /// Measures the given flow logs (files, directories or globs), each one a capture.
    pub fn from_files(paths: &[PathBuf]) -> anyhow::Result<TrafficProfile> {
        let args: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        let mut passed = crate::read::Passed::default();
        let specs = expand_inputs(&args, &mut passed).context("finding the captures")?;
        if let Some(error) = passed.unreadable.into_iter().next() {
            return Err(error).context("finding the captures");
        }
        let db = GeoDb::embedded().context("opening the embedded GeoIP database")?;
        let mut builder = ProfileBuilder::new(Enricher::new(db));
        for spec in &specs {
            let reader = InputReader::open(spec, None)
                .with_context(|| format!("opening {}", spec.display_name()))?;
            let name = spec.display_name();
            let short = Path::new(&name)
                .file_name()
                .map_or(name.clone(), |n| n.to_string_lossy().into_owned());
            // Lines the parser rejects are dropped: the profile is about the traffic that the
            // detector would count, and it counts no unreadable line either.
            let flows = reader.filter_map(|item| match item.result {
                Ok(LineOutcome::Flow(flow)) => Some(flow),
                _ => None,
            });
            builder.add_capture(short, flows);
        }
        Ok(builder.finish())
    }

    /// Measures captures given as flows, one iterator per capture.
    pub fn from_captures<C, F>(captures: C) -> anyhow::Result<TrafficProfile>
    where
        C: IntoIterator<Item = (String, F)>,
        F: IntoIterator<Item = Flow>,
    {
        let db = GeoDb::embedded().context("opening the embedded GeoIP database")?;
        let mut builder = ProfileBuilder::new(Enricher::new(db));
        for (name, flows) in captures {
            builder.add_capture(name, flows);
        }
        Ok(builder.finish())
    }

    /// Measures the captures of [`PROFILE_CAPTURES`] under `data_dir`. This is how
    /// `fixtures/eval/profile.json` is made.
    pub fn from_shared_data(data_dir: &Path) -> anyhow::Result<TrafficProfile> {
        anyhow::ensure!(
            data_dir.is_dir(),
            "{} is absent: the real captures are needed to recompute the profile; the committed \
             fixtures/eval/profile.json stays valid without them",
            data_dir.display()
        );
        let paths: Vec<PathBuf> = PROFILE_CAPTURES.iter().map(|p| data_dir.join(p)).collect();
        TrafficProfile::from_files(&paths)
    }

    /// The profile shipped in `fixtures/eval/profile.json`.
    pub fn fixture() -> anyhow::Result<TrafficProfile> {
        let text = include_str!("../../fixtures/eval/profile.json");
        serde_json::from_str(text).context("parsing fixtures/eval/profile.json")
    }

    /// The named countries, without [`OTHER_COUNTRIES`].
    pub fn named_countries(&self) -> impl Iterator<Item = &CountryStats> + '_ {
        self.countries.iter().filter(|c| c.country != OTHER_COUNTRIES)
    }

    /// The share of traffic (by flows) outside the named countries.
    pub fn other_flow_share(&self) -> f64 {
        self.countries.iter().filter(|c| c.country == OTHER_COUNTRIES).map(|c| c.flow_share).sum()
    }
}

/// Who a host is: its address, and the capture when that capture's clock is relative.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct HostKey {
    relative_capture: Option<usize>,
    ip: IpAddr,
}

#[derive(Debug, Default)]
struct HostDayTally {
    flows: u64,
    countries: BTreeSet<String>,
}

#[derive(Debug, Default)]
struct CountryTally {
    bytes: u64,
    sizes: Vec<f64>,
}

/// Accumulates outbound flows capture by capture, then summarises them.
struct ProfileBuilder {
    filter: FlowFilter,
    enricher: Enricher,
    sources: Vec<String>,
    countries: HashMap<String, CountryTally>,
    host_days: BTreeMap<(HostKey, i64), HostDayTally>,
    hour_flows: [u64; 24],
}

impl ProfileBuilder {
    fn new(enricher: Enricher) -> ProfileBuilder {
        ProfileBuilder {
            filter: FlowFilter::new(NetworkSet::default_internal(), true),
            enricher,
            sources: Vec::new(),
            countries: HashMap::new(),
            host_days: BTreeMap::new(),
            hour_flows: [0; 24],
        }
    }

    fn add_capture(&mut self, name: String, flows: impl IntoIterator<Item = Flow>) {
        let capture = self.sources.len();
        self.sources.push(name);
        let mut relative_origin_secs = None;
        for flow in flows {
            if self.filter.check(&flow).is_err() {
                continue;
            }
            let bytes = flow.bytes_sent.unwrap_or(0);
            let start_secs = flow.start_micros.div_euclid(MICROS_PER_SEC);
            let located = self.enricher.locate(&flow);
            let code = &located.location.country_iso_code;
            let country = if code == UNKNOWN_COUNTRY_CODE {
                OTHER_COUNTRIES.to_string()
            } else {
                code.clone()
            };
            let (host, day) = if start_secs < RELATIVE_CLOCK_LIMIT_SECS {
                let origin = *relative_origin_secs.get_or_insert(start_secs);
                let key = HostKey { relative_capture: Some(capture), ip: flow.source_ip };
                (key, (start_secs - origin).div_euclid(SECS_PER_DAY))
            } else {
                let hour = start_secs.rem_euclid(SECS_PER_DAY) / SECS_PER_HOUR;
                self.hour_flows[hour as usize] += 1;
                let key = HostKey { relative_capture: None, ip: flow.source_ip };
                (key, start_secs.div_euclid(SECS_PER_DAY))
            };
            let tally = self.countries.entry(country.clone()).or_default();
            tally.bytes = tally.bytes.saturating_add(bytes);
            tally.sizes.push(bytes as f64);
            let host_day = self.host_days.entry((host, day)).or_default();
            host_day.flows += 1;
            host_day.countries.insert(country);
        }
    }

    fn finish(self) -> TrafficProfile {
        let outbound_flows: u64 = self.countries.values().map(|c| c.sizes.len() as u64).sum();
        let outbound_bytes: u64 = self.countries.values().map(|c| c.bytes).sum();
        let share =
            |part: u64, whole: u64| if whole == 0 { 0.0 } else { part as f64 / whole as f64 };

        let mut ranked: Vec<(&String, &CountryTally)> =
            self.countries.iter().filter(|(code, _)| code.as_str() != OTHER_COUNTRIES).collect();
        ranked.sort_by(|a, b| b.1.bytes.cmp(&a.1.bytes).then_with(|| a.0.cmp(b.0)));
        let stats = |code: &str, bytes: u64, sizes: &[f64]| CountryStats {
            country: code.to_string(),
            byte_share: share(bytes, outbound_bytes),
            flow_share: share(sizes.len() as u64, outbound_flows),
            bytes_per_flow: (sizes.len() as u64 >= MIN_FLOWS_FOR_COUNTRY_QUANTILES)
                .then(|| Quantiles::of(sizes)),
        };
        let mut countries: Vec<CountryStats> = ranked
            .iter()
            .take(TOP_COUNTRIES)
            .map(|(code, tally)| stats(code, tally.bytes, &tally.sizes))
            .collect();
        let mut other = CountryTally::default();
        let tail = ranked.iter().skip(TOP_COUNTRIES).map(|(_, t)| *t);
        for tally in tail.chain(self.countries.get(OTHER_COUNTRIES)) {
            other.bytes = other.bytes.saturating_add(tally.bytes);
            other.sizes.extend_from_slice(&tally.sizes);
        }
        if !other.sizes.is_empty() {
            countries.push(stats(OTHER_COUNTRIES, other.bytes, &other.sizes));
        }

        let all_sizes: Vec<f64> =
            self.countries.values().flat_map(|c| c.sizes.iter().copied()).collect();
        let rare_sizes: Vec<f64> = self
            .countries
            .values()
            .filter(|c| (c.sizes.len() as u64) < MIN_FLOWS_FOR_COUNTRY_QUANTILES)
            .flat_map(|c| c.sizes.iter().copied())
            .collect();
        let flows_per_day: Vec<f64> = self.host_days.values().map(|d| d.flows as f64).collect();
        let countries_per_day: Vec<f64> =
            self.host_days.values().map(|d| d.countries.len() as f64).collect();
        let hour_total: u64 = self.hour_flows.iter().sum();
        let hour_of_day_flow_shares = (hour_total > 0)
            .then(|| self.hour_flows.iter().map(|&n| share(n, hour_total)).collect());

        // The map is ordered by host, then day, so each host's days come together and in order.
        let mut later_host_days = 0u64;
        let mut with_new = 0u64;
        let mut new_total = 0u64;
        let mut current: Option<(&HostKey, BTreeSet<&String>)> = None;
        for ((host, _day), tally) in &self.host_days {
            match &mut current {
                Some((seen_host, seen)) if *seen_host == host => {
                    later_host_days += 1;
                    let new = tally.countries.iter().filter(|c| !seen.contains(c)).count() as u64;
                    new_total += new;
                    with_new += u64::from(new > 0);
                    seen.extend(tally.countries.iter());
                }
                _ => current = Some((host, tally.countries.iter().collect())),
            }
        }
        let hosts: BTreeSet<&HostKey> = self.host_days.keys().map(|(host, _)| host).collect();

        TrafficProfile {
            sources: self.sources,
            outbound_flows,
            outbound_bytes,
            hosts: hosts.len() as u64,
            host_days: self.host_days.len() as u64,
            countries,
            bytes_per_flow: Quantiles::of(&all_sizes),
            bytes_per_flow_rare: Quantiles::of(&rare_sizes),
            flows_per_host_day: Quantiles::of(&flows_per_day),
            countries_per_host_day: Quantiles::of(&countries_per_day),
            hour_of_day_flow_shares,
            new_countries: NewCountryStats {
                later_host_days,
                host_days_with_new_country: with_new,
                rate_per_host_day: share(with_new, later_host_days),
                new_countries_per_host_day: if later_host_days == 0 {
                    0.0
                } else {
                    new_total as f64 / later_host_days as f64
                },
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::GeoFields;

    /// 2024-01-01 00:00 UTC, a Monday.
    const DAY0_SECS: i64 = 1_704_067_200;

    fn flow(source: &str, start_secs: i64, country: &str, bytes: u64) -> Flow {
        let mut flow = Flow::new(
            start_secs * MICROS_PER_SEC,
            source.parse().unwrap(),
            "8.8.8.8".parse().unwrap(),
            Some(bytes),
        );
        flow.destination_geo =
            Some(GeoFields { country_iso_code: Some(country.to_string()), ..GeoFields::default() });
        flow
    }

    fn tiny_profile() -> TrafficProfile {
        let day = SECS_PER_DAY;
        let absolute = vec![
            // Host .1, day 0: US twice, DE once, at 09:00, 09:30 and 14:00.
            flow("10.0.0.1", DAY0_SECS + 9 * 3600, "US", 100),
            flow("10.0.0.1", DAY0_SECS + 9 * 3600 + 1800, "US", 300),
            flow("10.0.0.1", DAY0_SECS + 14 * 3600, "DE", 600),
            // Host .1, day 1: US again and FR, new to it.
            flow("10.0.0.1", DAY0_SECS + day + 9 * 3600, "US", 1000),
            flow("10.0.0.1", DAY0_SECS + day + 14 * 3600, "FR", 2000),
            // Not outbound: an inbound flow from the Internet, and an internal destination.
            flow("8.8.4.4", DAY0_SECS + 3600, "US", 5000),
        ];
        let mut internal = flow("10.0.0.1", DAY0_SECS + 3600, "US", 7000);
        internal.destination_ip = "10.0.0.2".parse().unwrap();
        let mut absolute = absolute;
        absolute.push(internal);
        // A relative capture: the same address is another machine; its hours do not count.
        let relative = vec![flow("10.0.0.1", 50, "US", 4000), flow("10.0.0.1", 60, "??", 0)];
        TrafficProfile::from_captures([
            ("absolute".to_string(), absolute),
            ("relative".to_string(), relative),
        ])
        .unwrap()
    }

    #[test]
    fn tiny_profile_has_exact_shares_and_quantiles() {
        let profile = tiny_profile();
        assert_eq!(profile.sources, ["absolute", "relative"]);
        // Zero-byte flows are not outbound traffic: 6 flows, 8,000 bytes.
        assert_eq!((profile.outbound_flows, profile.outbound_bytes), (6, 8000));
        assert_eq!((profile.hosts, profile.host_days), (2, 3));
        let shares: Vec<(&str, f64, f64)> = profile
            .countries
            .iter()
            .map(|c| (c.country.as_str(), c.byte_share, c.flow_share))
            .collect();
        assert_eq!(
            shares,
            [
                ("US", 5400.0 / 8000.0, 4.0 / 6.0),
                ("FR", 2000.0 / 8000.0, 1.0 / 6.0),
                ("DE", 600.0 / 8000.0, 1.0 / 6.0)
            ]
        );
        assert!(profile.countries.iter().all(|c| c.bytes_per_flow.is_none()));
        // Sizes 100, 300, 600, 1000, 2000, 4000: the median lies between 600 and 1000.
        let sizes = &profile.bytes_per_flow;
        assert_eq!(sizes.count, 6);
        assert_eq!(sizes.mean, 8000.0 / 6.0);
        assert_eq!(sizes.at_level(0.0), Some(100.0));
        assert_eq!(sizes.at_level(0.5), Some(800.0));
        assert_eq!(sizes.at_level(0.25), Some(375.0));
        assert_eq!(sizes.at_level(1.0), Some(4000.0));
        // Every country is rare here: the rare shape is the overall one.
        assert_eq!(&profile.bytes_per_flow_rare, sizes);
        // FR has one 2,000-byte flow: the rare shape scaled to a mean of 2,000.
        let fr = profile.countries.iter().find(|c| c.country == "FR").unwrap().sizes(&profile);
        assert!((fr.mean - 2000.0).abs() < 1e-9);
        assert!((fr.at_level(0.5).unwrap() - 800.0 * 1.5).abs() < 1e-9);
        // Host-days: 3 flows (US, DE), 2 flows (US, FR) and the relative capture's 1 flow.
        assert_eq!(profile.flows_per_host_day.at_level(0.5), Some(2.0));
        assert_eq!(profile.flows_per_host_day.mean, 2.0);
        assert_eq!(profile.countries_per_host_day.at_level(0.0), Some(1.0));
        assert_eq!(profile.countries_per_host_day.at_level(1.0), Some(2.0));
        let hours = profile.hour_of_day_flow_shares.unwrap();
        assert_eq!(hours.len(), 24);
        assert_eq!((hours[9], hours[14], hours[1]), (0.6, 0.4, 0.0));
        let new = &profile.new_countries;
        assert_eq!((new.later_host_days, new.host_days_with_new_country), (1, 1));
        assert_eq!((new.rate_per_host_day, new.new_countries_per_host_day), (1.0, 1.0));
    }

    #[test]
    fn quantile_interpolation_is_logarithmic_between_positive_points() {
        let q = Quantiles::of(&[1.0, 100.0]);
        // Levels 0 and 0.01 hold 1 and 1.99: halfway between them in p is their geometric mean.
        let low = q.at_level(0.01).unwrap();
        assert!((q.value_at(0.005).unwrap() - low.sqrt()).abs() < 1e-9);
        assert_eq!(q.value_at(1.0), Some(100.0));
        assert_eq!(q.value_at(-1.0), Some(1.0));
        assert_eq!(Quantiles::of(&[]).value_at(0.5), None);
    }

    #[test]
    fn fixture_profile_parses() {
        let profile = TrafficProfile::fixture().unwrap();
        assert!(profile.outbound_flows > 0);
        assert!(profile.countries.len() > 1);
        let flow_shares: f64 = profile.countries.iter().map(|c| c.flow_share).sum();
        assert!((flow_shares - 1.0).abs() < 1e-9);
        assert_eq!(profile.hour_of_day_flow_shares.as_ref().map(Vec::len), Some(24));
    }

    /// Recomputes `fixtures/eval/profile.json` from the real captures:
    /// `cargo test --lib recompute_profile_fixture -- --ignored`.
    #[test]
    #[ignore = "needs the real captures in /work/shared/data"]
    fn recompute_profile_fixture() {
        let profile = TrafficProfile::from_shared_data(Path::new(SHARED_DATA_DIR)).unwrap();
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/eval/profile.json");
        let text = serde_json::to_string_pretty(&profile).unwrap() + "\n";
        std::fs::write(path, text).unwrap();
    }
}
