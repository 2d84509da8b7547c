//! A synthetic organisation: background traffic for the evaluation, shaped by a real profile.
//!
//! The organisation has a few hundred internal *hosts*, each with a *role*:
//! - a *workstation* follows the office rhythm of the profile's hour-of-day shares and is much
//!   quieter at weekends;
//! - a *server* works around the clock (a flattened rhythm) and barely notices weekends;
//! - a *backup host* does what a server does and, every night, uploads a large volume to one
//!   cloud country.
//!
//! Every host has a set of *usual countries* drawn from the [`TrafficProfile`]'s flow shares, so
//! the organisation's most common country is usual to nearly every host, and a daily activity
//! level drawn from the profile's flows per *host-day* (one host during one UTC day). Each flow
//! picks one of the host's countries in proportion to its flow share, takes its size from that
//! country's bytes-per-flow quantiles (interpolated, so the heavy tail stays), and reaches one of
//! a few stable public addresses of that country. Over the weeks hosts now and then start to
//! talk to a country new to them, at the profile's new-country rate.
//!
//! Flows are produced day by day in order of their end time, which is the time the detector
//! counts them at, and the same seed always gives the same flows.

use super::profile::{Quantiles, TrafficProfile, OTHER_COUNTRIES};
use crate::enrich::GeoDb;
use crate::filter::is_public;
use crate::flow::{Direction, Flow, GeoFields, MICROS_PER_SEC};
use ipnet::Ipv4Net;
use rand::distr::weighted::WeightedIndex;
use rand::distr::Distribution;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{LogNormal, Poisson};
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::OnceLock;

/// 2024-01-01 00:00 UTC, a Monday: the default first day, so that weekday arithmetic is plain.
pub const DEFAULT_START_SECS: i64 = 1_704_067_200;
/// A few hundred hosts: a small company, and enough hosts for population statistics.
pub const DEFAULT_HOSTS: usize = 300;
/// Four weeks: enough for a model to learn weekly rhythm and still leave weeks to test on.
pub const DEFAULT_DAYS: u32 = 28;
/// Private space (RFC 1918) inside the default internal networks, so the filter counts it.
pub const DEFAULT_INTERNAL_PREFIX: &str = "10.20.0.0/16";

/// Share of hosts that are servers; the rest apart from backup hosts are workstations. Offices
/// of this size keep most services in the cloud, so servers are a small minority.
pub const SERVER_SHARE: f64 = 0.08;
/// Backup hosts per this many hosts, rounded up, and at most [`MAX_BACKUP_HOSTS`]: one for a
/// small organisation, two for a few hundred hosts.
pub const HOSTS_PER_BACKUP_HOST: usize = 200;
pub const MAX_BACKUP_HOSTS: usize = 2;

/// Workstations at weekends do this fraction of a weekday's flows: the odd update or a person
/// working from the office.
pub const WORKSTATION_WEEKEND_FACTOR: f64 = 0.15;
/// Servers keep most of their traffic at weekends; some of it follows users.
pub const SERVER_WEEKEND_FACTOR: f64 = 0.85;
/// A server's hour-of-day weights are this share of the office rhythm, the rest spread evenly.
pub const SERVER_RHYTHM_SHARE: f64 = 0.25;
/// Day-to-day variation of a host's flow count (sigma of a log-normal factor): real hosts' busy
/// days have about half again as many flows as quiet ones.
pub const DAILY_ACTIVITY_SIGMA: f64 = 0.35;
/// A host's activity level and number of usual countries are drawn from the profile between
/// this probability and 1. The lowest host-days of the captures are two-hour fragments at the
/// start of captures that begin at 22:00 UTC, not quiet hosts.
pub const MIN_ACTIVITY_QUANTILE: f64 = 0.25;

/// A backup host's nightly volume is drawn log-uniformly in this range: a few gigabytes of
/// changed files for a small office's file server.
pub const BACKUP_NIGHTLY_BYTES_MIN: f64 = 2e9;
pub const BACKUP_NIGHTLY_BYTES_MAX: f64 = 20e9;
/// Night-to-night variation of the backup volume (sigma of a log-normal factor).
pub const BACKUP_NIGHTLY_SIGMA: f64 = 0.2;
/// Backup uploads are cut into flows of about this size, as object stores take multipart
/// uploads in chunks of tens of megabytes.
pub const BACKUP_CHUNK_BYTES: f64 = 64e6;
/// Backups start at this UTC hour, after the office has gone home.
pub const BACKUP_START_HOUR: i64 = 1;
/// Upload throughput of a backup, bytes per second (about 200 Mbit/s).
pub const BACKUP_BYTES_PER_SEC: f64 = 25e6;

/// Share of flows to the HTTPS and HTTP ports; the rest use [`OTHER_PORTS`]. Web traffic is
/// almost all outbound traffic of an office.
pub const HTTPS_SHARE: f64 = 0.78;
pub const HTTP_SHARE: f64 = 0.12;
/// Other destination ports with their transport: DNS and NTP to public servers, SSH, IMAPS,
/// Google push, an alternative HTTP port and STUN for video calls.
pub const OTHER_PORTS: [(u16, &str); 7] = [
    (53, "udp"),
    (123, "udp"),
    (22, "tcp"),
    (993, "tcp"),
    (5228, "tcp"),
    (8080, "tcp"),
    (3478, "udp"),
];

/// Bytes received per byte sent: log-normal with this median and sigma. Offices download more
/// than they upload (pages, updates), with a wide spread between flows.
pub const RECEIVED_PER_SENT_MEDIAN: f64 = 3.0;
pub const RECEIVED_PER_SENT_SIGMA: f64 = 1.5;
/// A flow lasts a set-up time, the time to move its bytes, and an idle tail (keep-alive).
/// Set-up: 20 to 200 ms, the round trips of TCP and TLS to near and far countries.
pub const SETUP_MICROS_RANGE: (i64, i64) = (20_000, 200_000);
/// Throughput of one flow, bytes per second, drawn log-uniformly: a slow far server to a fast
/// near one.
pub const FLOW_BYTES_PER_SEC_RANGE: (f64, f64) = (2e5, 1e7);
/// Mean idle tail of a flow in seconds: browsers keep connections open a few seconds.
pub const MEAN_IDLE_SECS: f64 = 5.0;

/// Stable destination addresses kept per country; a host spreads its flows over them. Sixteen
/// is a handful of services per country, as an office sees from its CDNs and cloud vendors.
pub const ADDRESSES_PER_COUNTRY: usize = 16;
/// New countries a host may start talking to in one day, at most; the captures' largest daily
/// count came from a host seen for the first time after a two-hour fragment.
pub const MAX_NEW_COUNTRIES_PER_DAY: u64 = 8;

use super::background::DAY_SECS as SECS_PER_DAY;
const SECS_PER_HOUR: i64 = 3_600;
/// The first addresses of the internal prefix are left to routers and infrastructure.
const FIRST_HOST_OFFSET: u32 = 256;
const BLOCK_SIZE: u32 = 256;
const HOSTS_PER_BLOCK: u32 = 250;

/// What a host does; see the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Workstation,
    Server,
    Backup,
}

/// The shape of the organisation.
#[derive(Debug, Clone, PartialEq)]
pub struct OrgConfig {
    pub hosts: usize,
    pub days: u32,
    /// The first day's 00:00 UTC; a Monday keeps weekdays where the evaluation expects them.
    pub start_secs: i64,
    /// The hosts' addresses, from [`FIRST_HOST_OFFSET`] into it.
    pub internal_prefix: Ipv4Net,
}

impl Default for OrgConfig {
    fn default() -> Self {
        OrgConfig {
            hosts: DEFAULT_HOSTS,
            days: DEFAULT_DAYS,
            start_secs: DEFAULT_START_SECS,
            internal_prefix: DEFAULT_INTERNAL_PREFIX.parse().expect("a valid prefix"),
        }
    }
}

/// One host of the organisation.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntheticHost {
    pub name: String,
    pub ip: Ipv4Addr,
    pub role: Role,
    /// Countries the host talks to from the first day, most common first.
    pub usual_countries: Vec<String>,
    /// Countries the host starts talking to later, with the day (0-based) it starts.
    pub new_countries: Vec<(u32, String)>,
    /// The host's mean flows on a weekday.
    pub weekday_flows: f64,
    /// For a backup host: the country its nightly uploads go to, and their mean bytes.
    pub backup: Option<(String, f64)>,
}

impl SyntheticHost {
    /// True when the host talks to `country` on `day` (0-based): it is usual, or became so.
    pub fn talks_to(&self, country: &str, day: u32) -> bool {
        self.usual_countries.iter().any(|c| c == country)
            || self.new_countries.iter().any(|(d, c)| *d <= day && c == country)
            || self.backup.as_ref().is_some_and(|(c, _)| c == country)
    }

    /// True when the host never talks to `country` during the whole period.
    pub fn never_talks_to(&self, country: &str) -> bool {
        !self.talks_to(country, u32::MAX)
    }
}

/// One destination country as the generator uses it.
#[derive(Debug, Clone)]
pub(crate) struct CountryModel {
    pub(crate) code: String,
    /// The country's share of flows, relative to the other countries' weights.
    pub(crate) flow_weight: f64,
    /// Bytes sent per flow.
    pub(crate) sizes: Quantiles,
    addresses: Vec<Ipv4Addr>,
}

/// A host's countries on one day, with their flow weights, for drawing destinations.
pub(crate) struct DayCountries {
    /// Indexes into [`SyntheticOrg::country_models`].
    pub(crate) indexes: Vec<usize>,
    pub(crate) pick: WeightedIndex<f64>,
}

/// A flow planned for one day, compact so that a whole day of a large organisation fits.
#[derive(Debug, Clone, Copy)]
struct Planned {
    end_micros: i64,
    duration_micros: i64,
    host: u32,
    country: u16,
    address: u16,
    source_port: u16,
    port_choice: u16,
    bytes_sent: u64,
    bytes_received: u64,
}

/// Port choices below this are [`OTHER_PORTS`]; these two mean HTTPS and HTTP.
pub(crate) const PORT_HTTPS: u16 = u16::MAX;
const PORT_HTTP: u16 = u16::MAX - 1;

/// The destination port and transport of a port choice made by [`draw_port`].
pub(crate) fn port_and_transport(port_choice: u16) -> (u16, &'static str) {
    match port_choice {
        PORT_HTTPS => (443, "tcp"),
        PORT_HTTP => (80, "tcp"),
        other => OTHER_PORTS[usize::from(other) % OTHER_PORTS.len()],
    }
}

/// The synthetic organisation; see the module documentation.
#[derive(Debug, Clone)]
pub struct SyntheticOrg {
    config: OrgConfig,
    seed: u64,
    countries: Vec<CountryModel>,
    country_index: BTreeMap<String, usize>,
    hosts: Vec<SyntheticHost>,
    /// Hour-of-day weights for workstations and for servers (and backup hosts).
    office_hours: [f64; 24],
    server_hours: [f64; 24],
}

impl SyntheticOrg {
    /// Builds the organisation: roles, usual countries, activity levels and the days on which
    /// hosts take up new countries. Flows are made later, day by day, by [`SyntheticOrg::flows`].
    pub fn new(profile: &TrafficProfile, config: OrgConfig, seed: u64) -> SyntheticOrg {
        let countries = country_models(profile);
        let country_index =
            countries.iter().enumerate().map(|(i, c)| (c.code.clone(), i)).collect();
        let office_hours: [f64; 24] = match &profile.hour_of_day_flow_shares {
            Some(shares) if shares.len() == 24 && shares.iter().sum::<f64>() > 0.0 => {
                std::array::from_fn(|h| shares[h])
            }
            _ => [1.0 / 24.0; 24],
        };
        let office_total: f64 = office_hours.iter().sum();
        let server_hours = std::array::from_fn(|h| {
            SERVER_RHYTHM_SHARE * office_hours[h] / office_total
                + (1.0 - SERVER_RHYTHM_SHARE) / 24.0
        });
        let mut rng = stream(seed, SETUP_STREAM);
        let hosts = (0..config.hosts)
            .map(|i| make_host(i, &config, profile, &countries, &mut rng))
            .collect();
        SyntheticOrg { config, seed, countries, country_index, hosts, office_hours, server_hours }
    }

    pub fn config(&self) -> &OrgConfig {
        &self.config
    }

    /// Hosts times days: the denominator of false alerts per 1,000 host-days.
    pub fn host_days(&self) -> u64 {
        self.hosts.len() as u64 * u64::from(self.config.days)
    }

    pub fn hosts(&self) -> &[SyntheticHost] {
        &self.hosts
    }

    /// The country with the largest flow share: the one nearly every host talks to.
    pub fn most_common_country(&self) -> &str {
        &self.countries[0].code
    }

    /// Every country the organisation may send to, most common first.
    pub fn countries(&self) -> impl Iterator<Item = &str> + '_ {
        self.countries.iter().map(|c| c.code.as_str())
    }

    /// The first host that talks to `country` on `day`.
    pub fn host_talking_to(&self, country: &str, day: u32) -> Option<&SyntheticHost> {
        self.hosts.iter().find(|h| h.talks_to(country, day))
    }

    /// The first host that never talks to `country`.
    pub fn host_never_talking_to(&self, country: &str) -> Option<&SyntheticHost> {
        self.hosts.iter().find(|h| h.never_talks_to(country))
    }

    /// Every flow of the organisation in non-decreasing order of end time, made one day at a
    /// time so that only one day is ever held.
    pub fn flows(&self) -> impl Iterator<Item = Flow> + '_ {
        (0..self.config.days).flat_map(move |day| {
            self.plan_day(day).into_iter().map(move |planned| self.flow(planned))
        })
    }

    /// The flows of one day (0-based), in order of end time.
    pub fn day_flows(&self, day: u32) -> impl Iterator<Item = Flow> + '_ {
        self.plan_day(day).into_iter().map(move |planned| self.flow(planned))
    }

    pub(crate) fn seed(&self) -> u64 {
        self.seed
    }

    /// Every destination country with its flow weight and sizes, most common first.
    pub(crate) fn country_models(&self) -> &[CountryModel] {
        &self.countries
    }

    /// The hour-of-day weights of a role and the share of a weekday's flows it keeps at
    /// weekends.
    pub(crate) fn rhythm(&self, role: Role) -> (&[f64; 24], f64) {
        match role {
            Role::Workstation => (&self.office_hours, WORKSTATION_WEEKEND_FACTOR),
            Role::Server | Role::Backup => (&self.server_hours, SERVER_WEEKEND_FACTOR),
        }
    }

    pub(crate) fn day_start_micros(&self, day: u32) -> i64 {
        (self.config.start_secs + i64::from(day) * SECS_PER_DAY) * MICROS_PER_SEC
    }

    pub(crate) fn is_weekend(&self, day: u32) -> bool {
        // 1970-01-01 was a Thursday: three days after a Monday.
        let days_since_epoch = self.config.start_secs.div_euclid(SECS_PER_DAY) + i64::from(day);
        (days_since_epoch + 3).rem_euclid(7) >= 5
    }

    fn plan_day(&self, day: u32) -> Vec<Planned> {
        let mut planned = Vec::new();
        for (index, host) in self.hosts.iter().enumerate() {
            let mut rng = stream(self.seed, host_day_stream(index, day));
            self.plan_host_day(index as u32, host, day, &mut rng, &mut planned);
        }
        // Ties keep the order of hosts, so the result depends on the seed alone.
        planned.sort_by_key(|p| p.end_micros);
        planned
    }

    fn plan_host_day(
        &self,
        host_index: u32,
        host: &SyntheticHost,
        day: u32,
        rng: &mut ChaCha8Rng,
        out: &mut Vec<Planned>,
    ) {
        let day_start = self.day_start_micros(day);
        let weekend = self.is_weekend(day);
        let (hours, weekend_factor) = self.rhythm(host.role);
        let hour_pick = WeightedIndex::new(hours.iter().copied()).expect("positive weights");
        let noise = LogNormal::new(0.0, DAILY_ACTIVITY_SIGMA).expect("valid sigma").sample(rng);
        let mean = host.weekday_flows * noise * if weekend { weekend_factor } else { 1.0 };
        let count = Poisson::new(mean.max(f64::MIN_POSITIVE)).map_or(0.0, |p| p.sample(rng));
        let countries = self.day_countries(host, day);
        for _ in 0..count as u64 {
            let hour = hour_pick.sample(rng) as i64;
            let end_micros = day_start
                + hour * SECS_PER_HOUR * MICROS_PER_SEC
                + rng.random_range(0..SECS_PER_HOUR * MICROS_PER_SEC);
            let country = countries.indexes[countries.pick.sample(rng)];
            let model = &self.countries[country];
            let bytes_sent = model.sizes.value_at(rng.random::<f64>()).unwrap_or(1.0).max(1.0);
            let port_choice = draw_port(rng);
            out.push(Planned {
                end_micros,
                duration_micros: flow_duration_micros(bytes_sent, rng),
                host: host_index,
                country: country as u16,
                address: rng.random_range(0..model.addresses.len().max(1)) as u16,
                source_port: rng.random_range(49_152..=65_535),
                port_choice,
                bytes_sent: bytes_sent.round() as u64,
                bytes_received: received_bytes(bytes_sent, rng),
            });
        }
        if let Some((country, mean_bytes)) = &host.backup {
            let country = self.country_index[country];
            let factor = LogNormal::new(0.0, BACKUP_NIGHTLY_SIGMA).expect("valid sigma");
            let mut remaining = mean_bytes * factor.sample(rng);
            let mut clock = day_start + BACKUP_START_HOUR * SECS_PER_HOUR * MICROS_PER_SEC;
            while remaining >= 1.0 {
                let chunk = (BACKUP_CHUNK_BYTES * rng.random_range(0.8..1.2)).min(remaining);
                remaining -= chunk;
                let duration = (chunk / BACKUP_BYTES_PER_SEC * MICROS_PER_SEC as f64) as i64 + 1;
                clock += duration;
                out.push(Planned {
                    end_micros: clock,
                    duration_micros: duration,
                    host: host_index,
                    country: country as u16,
                    // One endpoint: an object store's upload address.
                    address: 0,
                    source_port: rng.random_range(49_152..=65_535),
                    port_choice: PORT_HTTPS,
                    bytes_sent: chunk.round() as u64,
                    bytes_received: (chunk / 1000.0).round() as u64,
                });
            }
        }
    }

    /// The host's countries on `day`: usual ones and those taken up by then, weighted by their
    /// flow shares.
    pub(crate) fn day_countries(&self, host: &SyntheticHost, day: u32) -> DayCountries {
        let taken_up = host.new_countries.iter().filter(|(d, _)| *d <= day).map(|(_, c)| c);
        let indexes: Vec<usize> =
            host.usual_countries.iter().chain(taken_up).map(|c| self.country_index[c]).collect();
        let weights = indexes.iter().map(|&i| self.countries[i].flow_weight);
        let pick = WeightedIndex::new(weights).expect("every host has a country with weight");
        DayCountries { indexes, pick }
    }

    fn flow(&self, planned: Planned) -> Flow {
        let host = &self.hosts[planned.host as usize];
        let model = &self.countries[planned.country as usize];
        let destination = model.addresses[planned.address as usize % model.addresses.len()];
        let (port, transport) = port_and_transport(planned.port_choice);
        let start_micros = planned.end_micros - planned.duration_micros;
        let mut flow = Flow::new(
            start_micros,
            IpAddr::V4(host.ip),
            IpAddr::V4(destination),
            Some(planned.bytes_sent),
        );
        flow.end_micros = Some(planned.end_micros);
        flow.source_port = Some(planned.source_port);
        flow.destination_port = Some(port);
        flow.transport = Some(transport.into());
        flow.bytes_received = Some(planned.bytes_received);
        flow.host_name = Some(host.name.clone());
        flow.direction = Some(Direction::Outbound);
        flow.destination_geo =
            Some(GeoFields { country_iso_code: Some(model.code.clone()), ..GeoFields::default() });
        flow
    }
}

/// The random stream of the organisation's set-up; host-days use the others.
const SETUP_STREAM: u64 = 0;

fn host_day_stream(host: usize, day: u32) -> u64 {
    ((host as u64 + 1) << 32) | u64::from(day)
}

/// An independent, reproducible random stream: ChaCha's stream number keeps the host-days
/// apart, so one host-day's flows do not depend on how many draws any other made.
pub(crate) fn stream(seed: u64, number: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(number);
    rng
}

pub(crate) fn draw_port(rng: &mut ChaCha8Rng) -> u16 {
    let u: f64 = rng.random();
    if u < HTTPS_SHARE {
        PORT_HTTPS
    } else if u < HTTPS_SHARE + HTTP_SHARE {
        PORT_HTTP
    } else {
        rng.random_range(0..OTHER_PORTS.len()) as u16
    }
}

pub(crate) fn log_uniform(rng: &mut ChaCha8Rng, low: f64, high: f64) -> f64 {
    (low.ln() + rng.random::<f64>() * (high.ln() - low.ln())).exp()
}

pub(crate) fn flow_duration_micros(bytes_sent: f64, rng: &mut ChaCha8Rng) -> i64 {
    let setup = rng.random_range(SETUP_MICROS_RANGE.0..=SETUP_MICROS_RANGE.1);
    let (slow, fast) = FLOW_BYTES_PER_SEC_RANGE;
    let transfer_secs = bytes_sent / log_uniform(rng, slow, fast);
    let idle_secs = -MEAN_IDLE_SECS * (1.0 - rng.random::<f64>()).ln();
    setup + ((transfer_secs + idle_secs) * MICROS_PER_SEC as f64) as i64
}

pub(crate) fn received_bytes(bytes_sent: f64, rng: &mut ChaCha8Rng) -> u64 {
    let ratio = LogNormal::new(RECEIVED_PER_SENT_MEDIAN.ln(), RECEIVED_PER_SENT_SIGMA)
        .expect("valid sigma")
        .sample(rng);
    (bytes_sent * ratio).round() as u64
}

/// The countries the generator can use: the profile's named countries with their own shares and
/// sizes (see [`CountryStats::sizes`]), then every other country that has public addresses,
/// sharing the profile's `other` flows evenly and its sizes.
fn country_models(profile: &TrafficProfile) -> Vec<CountryModel> {
    let pools = address_pools();
    let other = profile.countries.iter().find(|c| c.country == OTHER_COUNTRIES);
    let other_sizes =
        other.map_or_else(|| profile.bytes_per_flow_rare.clone(), |c| c.sizes(profile));
    let mut models: Vec<CountryModel> = profile
        .named_countries()
        .filter_map(|c| {
            let addresses = pools.get(&c.country)?.clone();
            Some(CountryModel {
                code: c.country.clone(),
                flow_weight: c.flow_share,
                sizes: c.sizes(profile),
                addresses,
            })
        })
        .collect();
    // The most common country leads: it is what "the most common country" means.
    models.sort_by(|a, b| b.flow_weight.total_cmp(&a.flow_weight).then(a.code.cmp(&b.code)));
    let named: BTreeSet<String> = models.iter().map(|m| m.code.clone()).collect();
    let tail: Vec<(&String, &Vec<Ipv4Addr>)> =
        pools.iter().filter(|(code, _)| !named.contains(*code)).collect();
    let tail_weight = profile.other_flow_share() / tail.len().max(1) as f64;
    models.extend(tail.into_iter().map(|(code, addresses)| CountryModel {
        code: code.clone(),
        flow_weight: tail_weight,
        sizes: other_sizes.clone(),
        addresses: addresses.clone(),
    }));
    models
}

/// Stable public IPv4 addresses per country, found by walking the address space through the
/// embedded GeoIP database: one address in each /16 block, visited in a fixed scattered order
/// so that a country's addresses come from different networks. Built once per process.
fn address_pools() -> &'static BTreeMap<String, Vec<Ipv4Addr>> {
    static POOLS: OnceLock<BTreeMap<String, Vec<Ipv4Addr>>> = OnceLock::new();
    POOLS.get_or_init(|| {
        // The database is compiled into the program; failing to open it is a build defect.
        let db = GeoDb::embedded().expect("the embedded GeoIP database opens");
        let mut pools: BTreeMap<String, Vec<Ipv4Addr>> = BTreeMap::new();
        for step in 0u32..(1 << 16) {
            // An odd multiplier visits every /16 once, in a scattered order.
            let block = step.wrapping_mul(40_503) & 0xffff;
            let low = 1 + (step.wrapping_mul(7_919) % 0xfffe);
            let address = Ipv4Addr::from((block << 16) | low);
            if !is_public(IpAddr::V4(address)) {
                continue;
            }
            let Some(location) = db.lookup(IpAddr::V4(address)) else { continue };
            let pool = pools.entry(location.country_iso_code).or_default();
            if pool.len() < ADDRESSES_PER_COUNTRY {
                pool.push(address);
            }
        }
        pools
    })
}

fn make_host(
    index: usize,
    config: &OrgConfig,
    profile: &TrafficProfile,
    countries: &[CountryModel],
    rng: &mut ChaCha8Rng,
) -> SyntheticHost {
    let backups = config.hosts.div_ceil(HOSTS_PER_BACKUP_HOST).min(MAX_BACKUP_HOSTS);
    // Backup hosts come last, so that adding hosts does not move them.
    let role = if index + backups >= config.hosts {
        Role::Backup
    } else if rng.random_bool(SERVER_SHARE) {
        Role::Server
    } else {
        Role::Workstation
    };
    let prefix = match role {
        Role::Workstation => "ws",
        Role::Server => "srv",
        Role::Backup => "backup",
    };
    // Addresses .1 to .250 of consecutive /24 blocks, which no one mistakes for a network or
    // broadcast address.
    let per_block = HOSTS_PER_BLOCK as usize;
    let offset = FIRST_HOST_OFFSET
        + (index / per_block) as u32 * BLOCK_SIZE
        + 1
        + (index % per_block) as u32;
    assert!(
        u64::from(offset) < (1u64 << (32 - config.internal_prefix.prefix_len())),
        "the internal prefix {} has no room for {} hosts",
        config.internal_prefix,
        config.hosts
    );
    let ip = Ipv4Addr::from(u32::from(config.internal_prefix.network()) + offset);
    let level = |q: &Quantiles, rng: &mut ChaCha8Rng| {
        q.value_at(rng.random_range(MIN_ACTIVITY_QUANTILE..=1.0)).unwrap_or(1.0).max(1.0)
    };
    let weekday_flows = level(&profile.flows_per_host_day, rng);
    let usual_count = level(&profile.countries_per_host_day, rng).round() as usize;
    let weights: Vec<f64> = countries.iter().map(|c| c.flow_weight).collect();
    let mut taken = vec![false; countries.len()];
    let usual: Vec<usize> = (0..usual_count.max(1))
        .filter_map(|_| draw_without_replacement(&weights, &mut taken, rng))
        .collect();
    let mut usual_countries: Vec<String> =
        usual.iter().map(|&i| countries[i].code.clone()).collect();
    usual_countries.sort_by_key(|code| countries.iter().position(|c| &c.code == code));
    let mut new_countries = Vec::new();
    let rate = profile.new_countries.rate_per_host_day.clamp(0.0, 1.0);
    // Days with new countries bring this many on average; one is always among them.
    let extra_mean = if rate > 0.0 {
        (profile.new_countries.new_countries_per_host_day / rate - 1.0).max(0.0)
    } else {
        0.0
    };
    for day in 1..config.days {
        if !rng.random_bool(rate) {
            continue;
        }
        let extra = Poisson::new(extra_mean).map_or(0.0, |p| p.sample(rng)) as u64;
        for _ in 0..(1 + extra).min(MAX_NEW_COUNTRIES_PER_DAY) {
            if let Some(i) = draw_without_replacement(&weights, &mut taken, rng) {
                new_countries.push((day, countries[i].code.clone()));
            }
        }
    }
    let backup = (role == Role::Backup).then(|| {
        let bytes = log_uniform(rng, BACKUP_NIGHTLY_BYTES_MIN, BACKUP_NIGHTLY_BYTES_MAX);
        (countries[0].code.clone(), bytes)
    });
    SyntheticHost {
        name: format!("{prefix}-{index:03}"),
        ip,
        role,
        usual_countries,
        new_countries,
        weekday_flows,
        backup,
    }
}

/// Draws an index in proportion to `weights` among those not yet `taken`, and marks it taken.
fn draw_without_replacement(
    weights: &[f64],
    taken: &mut [bool],
    rng: &mut ChaCha8Rng,
) -> Option<usize> {
    let free: Vec<f64> =
        weights.iter().zip(taken.iter()).map(|(&w, &t)| if t { 0.0 } else { w }).collect();
    let pick = WeightedIndex::new(&free).ok()?.sample(rng);
    taken[pick] = true;
    Some(pick)
}

impl super::background::Background for SyntheticOrg {
    fn describe(&self) -> String {
        format!("synthetic organisation: {} hosts x {} days", self.config.hosts, self.config.days)
    }

    fn days(&self) -> u32 {
        self.config.days
    }

    fn start_secs(&self) -> i64 {
        self.config.start_secs
    }

    fn day_flows(&self, day: u32) -> Vec<Flow> {
        SyntheticOrg::day_flows(self, day).collect()
    }

    fn hosts(&self) -> Vec<std::net::IpAddr> {
        self.hosts.iter().map(|h| std::net::IpAddr::V4(h.ip)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::{Detector, DetectorState};
    use crate::enrich::Enricher;
    use crate::filter::{FlowFilter, NetworkSet};
    use crate::job::JobConfig;
    use crate::model::ModelConfig;
    use crate::rule::RuleConfig;

    fn small_org(hosts: usize, days: u32, seed: u64) -> SyntheticOrg {
        let config = OrgConfig { hosts, days, ..OrgConfig::default() };
        SyntheticOrg::new(&TrafficProfile::fixture().unwrap(), config, seed)
    }

    fn day_of(flow: &Flow) -> i64 {
        (flow.event_micros() / MICROS_PER_SEC - DEFAULT_START_SECS).div_euclid(SECS_PER_DAY)
    }

    /// Exact figures for one seed. They change when the generator, the profile or the embedded
    /// GeoIP database (which supplies the destination addresses) changes.
    #[test]
    fn small_org_has_exact_figures_for_a_seed() {
        let org = small_org(5, 2, 7);
        assert_eq!(org.host_days(), 10);
        let roles: Vec<Role> = org.hosts().iter().map(|h| h.role).collect();
        use Role::*;
        assert_eq!(roles, [Workstation, Workstation, Workstation, Server, Backup]);
        assert_eq!(org.most_common_country(), "US");
        let flows: Vec<Flow> = org.flows().collect();
        let bytes: u64 = flows.iter().map(|f| f.bytes_sent.unwrap()).sum();
        assert_eq!((flows.len(), bytes), (19_401, 21_369_766_119));
        let first = &flows[0];
        assert_eq!(first.host_name.as_deref(), Some("srv-003"));
        assert_eq!(first.source_ip.to_string(), "10.20.1.4");
        assert_eq!(first.destination_ip.to_string(), "198.224.221.231");
        // It started just before the first midnight and ended after it.
        assert_eq!(
            (first.start_micros, first.end_micros),
            (1_704_067_196_054_708, Some(1_704_067_206_336_547))
        );
        assert_eq!((first.destination_port, first.transport.as_deref()), (Some(443), Some("tcp")));
        assert_eq!((first.bytes_sent, first.bytes_received), (Some(933), Some(10_862)));
        let geo = first.destination_geo.as_ref().unwrap();
        assert_eq!(geo.country_iso_code.as_deref(), Some("US"));
    }

    #[test]
    fn same_seed_same_flows_other_seed_other_flows() {
        let a: Vec<Flow> = small_org(4, 2, 11).flows().collect();
        let b: Vec<Flow> = small_org(4, 2, 11).flows().collect();
        assert_eq!(a, b);
        let c: Vec<Flow> = small_org(4, 2, 12).flows().collect();
        assert_ne!(a, c);
    }

    #[test]
    fn flows_come_in_end_time_order_and_stay_in_their_day() {
        let org = small_org(6, 3, 3);
        let mut last = i64::MIN;
        for flow in org.flows() {
            let end = flow.end_micros.unwrap();
            assert!(end >= last, "{end} after {last}");
            assert!(flow.start_micros <= end);
            last = end;
        }
        assert!(last < (DEFAULT_START_SECS + 3 * SECS_PER_DAY) * MICROS_PER_SEC);
    }

    #[test]
    fn weekends_are_quieter_for_workstations() {
        // Days 0 to 6 run Monday to Sunday.
        let org = small_org(8, 7, 5);
        let mut per_day = [0u64; 7];
        for flow in org.flows() {
            if flow.host_name.as_deref().is_some_and(|n| n.starts_with("ws-")) {
                per_day[day_of(&flow) as usize] += 1;
            }
        }
        let weekday_mean = per_day[..5].iter().sum::<u64>() as f64 / 5.0;
        for weekend_day in &per_day[5..] {
            assert!((*weekend_day as f64) < 0.3 * weekday_mean, "{per_day:?}");
        }
    }

    #[test]
    fn destinations_are_public_and_sources_internal() {
        let org = small_org(5, 1, 9);
        let internal = NetworkSet::default_internal();
        let filter = FlowFilter::new(internal.clone(), true);
        for flow in org.flows() {
            assert!(is_public(flow.destination_ip), "{}", flow.destination_ip);
            assert!(internal.contains(flow.source_ip));
            assert_eq!(filter.check(&flow), Ok(()));
        }
    }

    #[test]
    fn hosts_that_talk_to_a_country_and_hosts_that_never_do() {
        let org = small_org(20, 14, 2);
        let common = org.most_common_country();
        assert!(org.host_talking_to(common, 0).is_some());
        let rare = org.countries().last().unwrap();
        let quiet = org.host_never_talking_to(rare).unwrap();
        assert!(!quiet.talks_to(rare, 13));
        // The most common country is usual to nearly every host.
        let usual = org.hosts().iter().filter(|h| h.talks_to(common, 0)).count();
        assert!(usual >= 18, "{usual}");
    }

    /// The background must be quiet: the reference job with its defaults (learning period
    /// included) over a 50-host organisation for 14 days raises at most one alert per day.
    #[test]
    fn detector_stays_quiet_on_the_background() {
        let org = small_org(50, 14, 1);
        let state =
            DetectorState::new(JobConfig::country(), ModelConfig::default(), RuleConfig::default());
        let filter = FlowFilter::new(NetworkSet::default_internal(), true);
        let enricher = Enricher::new(GeoDb::embedded().unwrap());
        let mut detector = Detector::new(state, filter, enricher);
        let mut alerts = Vec::new();
        for flow in org.flows() {
            detector.process(flow).unwrap();
            alerts.extend(detector.take_alerts());
            detector.take_records();
        }
        detector.finish(true);
        alerts.extend(detector.take_alerts());
        // The organisation works office hours on weekdays: both rhythms are found.
        let rhythm = detector.state.models.seasonality.describe().unwrap_or_default();
        assert!(rhythm.contains("daily rhythm"), "{rhythm}");
        assert!(rhythm.contains("weekends"), "{rhythm}");
        let describe: Vec<String> = alerts
            .iter()
            .map(|a| {
                let r = &a.record;
                format!(
                    "{} day {:.3} score {:.1} actual {}",
                    r.over_value,
                    (r.bucket_start_secs - DEFAULT_START_SECS) as f64 / SECS_PER_DAY as f64,
                    r.record_score,
                    r.actual_bytes
                )
            })
            .collect();
        // Eleven days after the three-day learning period.
        assert!(alerts.len() <= 11, "{} alerts:\n{}", alerts.len(), describe.join("\n"));
        assert_eq!(alerts.len(), 0, "{}", describe.join("\n"));
    }
}
