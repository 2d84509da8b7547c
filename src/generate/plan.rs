//! The plan: which host sends which flow when, with exactly the number of flows asked for.
//!
//! Time is cut into *slices*: each hour of each day in one or more equal parts, short enough
//! that one slice's flows fit in memory (see [`MAX_FLOWS_PER_SLICE`]). A *cell* is one host
//! during one slice. Its *weight* is the flows the synthetic organisation expects of it: the
//! host's weekday activity, times its day's random activity factor, its role's weekend factor
//! and its role's share of that hour. The requested flows, less the nightly backups, are dealt
//! out over the cells in time order as a multinomial draw made of one binomial draw per cell
//! (its share of the flows still to deal, by its share of the weight still to come), so that
//! the total is exact, every cell gets what a Poisson process conditioned on that total would
//! give, and nothing beyond the current slice is held. Each flow of a cell then takes a
//! country, size, port, duration and address from the synthetic organisation's rules, and the
//! slice's flows are sorted by end time.

use super::destinations::{DestinationPools, HEAD_ADDRESSES};
use crate::eval::synthetic::{
    draw_port, flow_duration_micros, received_bytes, stream, DayCountries, Role, SyntheticOrg,
    BACKUP_BYTES_PER_SEC, BACKUP_CHUNK_BYTES, BACKUP_NIGHTLY_SIGMA, BACKUP_START_HOUR,
    DAILY_ACTIVITY_SIGMA, PORT_HTTPS,
};
use crate::flow::MICROS_PER_SEC;
use rand::distr::Distribution;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Binomial, LogNormal};
use std::net::Ipv4Addr;

/// Flows one slice is planned to hold at most on average in its busiest hour, so that the plan
/// stays near 15 MB (60 bytes a flow) however many flows are asked for.
pub const MAX_FLOWS_PER_SLICE: f64 = 250_000.0;
/// Share of a host's flows that reach one of its country's head addresses; the rest go to the
/// tail, one address after another. Half is what an office sends to its few big cloud and CDN
/// services.
pub const HEAD_FLOW_SHARE: f64 = 0.5;
/// Backup chunks are made larger than the synthetic organisation's when needed so that backups
/// are at most about this share of the flows: with few flows asked for, the nightly uploads
/// would otherwise be most of them.
pub const BACKUP_MAX_FLOW_SHARE: f64 = 0.05;
/// When even one chunk a night would be more than this share of the flows, backup hosts make
/// no backups: the file is too small to hold them.
pub const BACKUP_FLOW_SHARE_LIMIT: f64 = 0.25;

const SECS_PER_HOUR: i64 = 3_600;
const HOURS_PER_DAY: u32 = 24;
/// Random streams of the generator, apart from those of the synthetic organisation (which uses
/// numbers below 2^62) and from each other.
const NOISE_STREAM: u64 = 1 << 63;
const BACKUP_STREAM: u64 = 1 << 62;
const CELL_STREAM: u64 = 3 << 62;
const BACKUP_CHUNK_STREAM: u64 = 1 << 61;
const COUNT_STREAM: u64 = 1 << 60;

/// One planned flow, compact so that a slice of a quarter of a million flows stays small.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlannedFlow {
    pub end_micros: i64,
    pub duration_micros: i64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub destination_ip: Ipv4Addr,
    /// The destination's number among all pools' addresses.
    pub destination_number: u32,
    pub host: u32,
    pub country: u16,
    pub source_port: u16,
    /// As [`draw_port`] gives it; see [`crate::eval::synthetic::port_and_transport`].
    pub port_choice: u16,
}

/// Deals out the flows; see the module documentation.
pub struct Planner<'a> {
    org: &'a SyntheticOrg,
    pools: &'a DestinationPools,
    /// Each role's hour-of-day weights, summing to one.
    hour_shares: [[f64; 24]; 3],
    slices_per_hour: u32,
    regular_flows_left: u64,
    weight_left: f64,
    backup_chunk_bytes: f64,
    backups_enabled: bool,
    backup_flows: u64,
    count_rng: ChaCha8Rng,
    /// The next tail address of each country.
    tail_next: Vec<u64>,
    /// For the day being planned: each host's weight and countries, and the backup flows.
    day: Option<u32>,
    day_weights: Vec<f64>,
    day_countries: Vec<DayCountries>,
    day_backups: Vec<PlannedFlow>,
    backups_taken: usize,
}

fn role_index(role: Role) -> usize {
    match role {
        Role::Workstation => 0,
        Role::Server => 1,
        Role::Backup => 2,
    }
}

impl<'a> Planner<'a> {
    /// A plan of exactly `flows` flows over the organisation's days.
    pub fn new(org: &'a SyntheticOrg, pools: &'a DestinationPools, flows: u64) -> Planner<'a> {
        let hour_shares = [Role::Workstation, Role::Server, Role::Backup].map(|role| {
            let hours = org.rhythm(role).0;
            let total: f64 = hours.iter().sum();
            std::array::from_fn(|h| hours[h] / total)
        });
        let mut planner = Planner {
            org,
            pools,
            hour_shares,
            slices_per_hour: 1,
            regular_flows_left: 0,
            weight_left: 0.0,
            backup_chunk_bytes: BACKUP_CHUNK_BYTES,
            backups_enabled: false,
            backup_flows: 0,
            count_rng: stream(org.seed(), COUNT_STREAM),
            tail_next: vec![0; org.country_models().len()],
            day: None,
            day_weights: Vec::new(),
            day_countries: Vec::new(),
            day_backups: Vec::new(),
            backups_taken: 0,
        };
        // Totals over the whole period, without holding it: the weight, the busiest hour and
        // the mean backup volume.
        let days = org.config().days;
        let mut total_weight = 0.0;
        let mut busiest_hour_weight: f64 = 0.0;
        let mut backup_bytes = 0.0;
        for day in 0..days {
            let weights = planner.host_weights(day);
            total_weight += weights.iter().sum::<f64>();
            let mut role_weights = [0.0; 3];
            for (host, weight) in org.hosts().iter().zip(&weights) {
                role_weights[role_index(host.role)] += weight;
            }
            for hour in 0..24 {
                let hour_weight: f64 =
                    (0..3).map(|role| role_weights[role] * planner.hour_shares[role][hour]).sum();
                busiest_hour_weight = busiest_hour_weight.max(hour_weight);
            }
            for host in org.hosts() {
                backup_bytes += host.backup.as_ref().map_or(0.0, |(_, bytes)| *bytes);
            }
        }
        if backup_bytes > 0.0 {
            let most_chunks = (BACKUP_MAX_FLOW_SHARE * flows as f64).max(1.0);
            planner.backup_chunk_bytes = BACKUP_CHUNK_BYTES.max(backup_bytes / most_chunks);
            let backup_flows: u64 = (0..days)
                .flat_map(|day| (0..org.hosts().len()).map(move |host| (host, day)))
                .map(|(host, day)| planner.backup_night(host, day).map_or(0, |(_, n)| n))
                .sum();
            if backup_flows as f64 <= BACKUP_FLOW_SHARE_LIMIT * flows as f64 {
                planner.backups_enabled = true;
                planner.backup_flows = backup_flows;
            }
        }
        planner.regular_flows_left = flows - planner.backup_flows;
        planner.weight_left = total_weight;
        let busiest_hour_flows = if total_weight > 0.0 {
            busiest_hour_weight / total_weight * planner.regular_flows_left as f64
        } else {
            0.0
        };
        let wanted = (busiest_hour_flows / MAX_FLOWS_PER_SLICE).ceil().max(1.0) as u32;
        // A divisor of 3,600 keeps every slice a whole number of seconds.
        planner.slices_per_hour = (wanted..=3_600).find(|n| 3_600 % n == 0).unwrap_or(3_600);
        planner
    }

    pub fn slices_per_day(&self) -> u32 {
        self.slices_per_hour * HOURS_PER_DAY
    }

    /// Flows of the nightly backups, part of the flows asked for.
    pub fn backup_flows(&self) -> u64 {
        self.backup_flows
    }

    fn slice_micros(&self) -> i64 {
        SECS_PER_HOUR * MICROS_PER_SEC / i64::from(self.slices_per_hour)
    }

    /// Every host's expected flows on `day`, in the organisation's units.
    fn host_weights(&self, day: u32) -> Vec<f64> {
        let seed = self.org.seed();
        let weekend = self.org.is_weekend(day);
        let noise = LogNormal::new(0.0, DAILY_ACTIVITY_SIGMA).expect("valid sigma");
        self.org
            .hosts()
            .iter()
            .enumerate()
            .map(|(index, host)| {
                let mut rng = stream(seed, NOISE_STREAM | host_day(index, day));
                let factor = if weekend { self.org.rhythm(host.role).1 } else { 1.0 };
                host.weekday_flows * noise.sample(&mut rng) * factor
            })
            .collect()
    }

    /// A backup host's upload on the night of `day`: its bytes and how many chunks carry it.
    fn backup_night(&self, host: usize, day: u32) -> Option<(u64, u64)> {
        let (_, mean_bytes) = self.org.hosts()[host].backup.as_ref()?;
        let mut rng = stream(self.org.seed(), BACKUP_STREAM | host_day(host, day));
        let factor = LogNormal::new(0.0, BACKUP_NIGHTLY_SIGMA).expect("valid sigma");
        let bytes = (mean_bytes * factor.sample(&mut rng)).round().max(1.0);
        let chunks = (bytes / self.backup_chunk_bytes).ceil().max(1.0);
        Some((bytes as u64, chunks as u64))
    }

    fn start_day(&mut self, day: u32) {
        self.day = Some(day);
        self.day_weights = self.host_weights(day);
        self.day_countries =
            self.org.hosts().iter().map(|host| self.org.day_countries(host, day)).collect();
        self.day_backups.clear();
        self.backups_taken = 0;
        if !self.backups_enabled {
            return;
        }
        let day_start = self.org.day_start_micros(day);
        let day_end = day_start + crate::eval::background::DAY_SECS * MICROS_PER_SEC;
        for (index, host) in self.org.hosts().iter().enumerate() {
            let (Some((bytes, chunks)), Some((code, _))) =
                (self.backup_night(index, day), host.backup.as_ref())
            else {
                continue;
            };
            let Some(country) = self.org.country_models().iter().position(|c| &c.code == code)
            else {
                continue;
            };
            let mut rng = stream(self.org.seed(), BACKUP_CHUNK_STREAM | host_day(index, day));
            let mut clock = day_start + BACKUP_START_HOUR * SECS_PER_HOUR * MICROS_PER_SEC;
            for chunk in 0..chunks {
                // Equal chunks, the remainder spread over the first ones, so they add up.
                let chunk_bytes = bytes / chunks + u64::from(chunk < bytes % chunks);
                let duration =
                    (chunk_bytes as f64 / BACKUP_BYTES_PER_SEC * MICROS_PER_SEC as f64) as i64 + 1;
                // A backup never runs into the next day, so that every chunk is written.
                clock = (clock + duration).min(day_end - 1);
                // One endpoint: an object store's upload address.
                let number = 0;
                self.day_backups.push(PlannedFlow {
                    end_micros: clock,
                    duration_micros: duration,
                    bytes_sent: chunk_bytes,
                    bytes_received: chunk_bytes / 1_000,
                    destination_ip: self.pools.address(country, number).expect("a pool address"),
                    destination_number: self.pools.global_number(country, number) as u32,
                    host: index as u32,
                    country: country as u16,
                    source_port: rng.random_range(49_152..=65_535),
                    port_choice: PORT_HTTPS,
                });
            }
        }
        self.day_backups.sort_by_key(|flow| flow.end_micros);
    }

    /// The flows ending in slice `slice` (0-based within the day) of `day`, in order of end
    /// time, replacing what `out` held. Slices must be asked for in time order.
    pub fn plan_slice(&mut self, day: u32, slice: u32, out: &mut Vec<PlannedFlow>) {
        out.clear();
        if self.day != Some(day) {
            self.start_day(day);
        }
        let org = self.org;
        let hour = (slice / self.slices_per_hour) as usize;
        let slice_micros = self.slice_micros();
        let slice_start = org.day_start_micros(day) + i64::from(slice) * slice_micros;
        let slice_number = u64::from(day) * u64::from(self.slices_per_day()) + u64::from(slice);
        let last_slice = day + 1 == org.config().days && slice + 1 == self.slices_per_day();
        let host_count = org.hosts().len();
        for (index, host) in org.hosts().iter().enumerate() {
            let weight = self.day_weights[index] * self.hour_shares[role_index(host.role)][hour]
                / f64::from(self.slices_per_hour);
            let count = if last_slice && index + 1 == host_count {
                self.regular_flows_left
            } else {
                self.draw_count(weight)
            };
            self.regular_flows_left -= count;
            self.weight_left -= weight;
            if count == 0 {
                continue;
            }
            let mut rng = stream(org.seed(), CELL_STREAM | (index as u64) << 32 | slice_number);
            for _ in 0..count {
                let end_micros = slice_start + rng.random_range(0..slice_micros);
                let flow = self.draw_flow(index, end_micros, &mut rng);
                out.push(flow);
            }
        }
        let slice_end = slice_start + slice_micros;
        while let Some(backup) = self.day_backups.get(self.backups_taken) {
            if backup.end_micros >= slice_end {
                break;
            }
            out.push(*backup);
            self.backups_taken += 1;
        }
        // Stable: equal end times keep the order of hosts, so the seed alone decides.
        out.sort_by_key(|flow| flow.end_micros);
    }

    /// A cell's flows: its binomial share of the flows still to deal.
    fn draw_count(&mut self, weight: f64) -> u64 {
        if self.regular_flows_left == 0 || weight <= 0.0 {
            return 0;
        }
        let share = if self.weight_left > weight { weight / self.weight_left } else { 1.0 };
        Binomial::new(self.regular_flows_left, share.clamp(0.0, 1.0))
            .map_or(self.regular_flows_left, |binomial| binomial.sample(&mut self.count_rng))
    }

    fn draw_flow(&mut self, host: usize, end_micros: i64, rng: &mut ChaCha8Rng) -> PlannedFlow {
        let countries = &self.day_countries[host];
        let country = countries.indexes[countries.pick.sample(rng)];
        let model = &self.org.country_models()[country];
        let bytes_sent = model.sizes.value_at(rng.random::<f64>()).unwrap_or(1.0).max(1.0);
        let port_choice = draw_port(rng);
        let duration_micros = flow_duration_micros(bytes_sent, rng);
        let pool_size = self.pools.pool_size(country);
        let head = HEAD_ADDRESSES.min(pool_size);
        let number = if pool_size <= head || rng.random_bool(HEAD_FLOW_SHARE) {
            rng.random_range(0..head.max(1))
        } else {
            let next = &mut self.tail_next[country];
            let number = head + *next % (pool_size - head);
            *next += 1;
            number
        };
        let destination_ip = self.pools.address(country, number).expect("every country has a pool");
        PlannedFlow {
            end_micros,
            duration_micros,
            bytes_sent: bytes_sent.round() as u64,
            bytes_received: received_bytes(bytes_sent, rng),
            destination_ip,
            destination_number: self.pools.global_number(country, number) as u32,
            host: host as u32,
            country: country as u16,
            source_port: rng.random_range(49_152..=65_535),
            port_choice,
        }
    }
}

fn host_day(host: usize, day: u32) -> u64 {
    (host as u64) << 32 | u64::from(day)
}
