//! Injected exfiltration with known ground truth.
//!
//! A *scenario* says what kind of exfiltration to inject: to which class of country (one the
//! background never reaches, one it rarely reaches, its most common one), how much in total,
//! in what *shape* (a one-hour burst, spread over a day, a slow drip over a week), by which
//! host (one that already sends to that country, or one that never did) and over one or
//! several destination addresses. An *injection* is a scenario made concrete from a seed: the
//! country, the host, the start time and the flows, which look like real uploads (sizes of a
//! few megabytes to tens of megabytes, port 443, durations that match a few MB/s).

use super::background::{SplitMix, DAY_SECS};
use crate::flow::{Direction, Flow, GeoFields, MICROS_PER_SEC};
use std::fmt;
use std::net::IpAddr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CountryClass {
    NeverSeen,
    Rare,
    MostCommon,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Shape {
    HourBurst,
    DaySpread,
    WeekDrip,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Sender {
    /// A host that sent to the country before the injection.
    Familiar,
    /// A host that never sent to the country.
    Stranger,
}

impl Shape {
    pub fn duration_secs(self) -> i64 {
        match self {
            Shape::HourBurst => 3600,
            Shape::DaySpread => DAY_SECS,
            Shape::WeekDrip => 7 * DAY_SECS,
        }
    }
}

impl fmt::Display for CountryClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CountryClass::NeverSeen => "never seen",
            CountryClass::Rare => "rare",
            CountryClass::MostCommon => "most common",
        })
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Shape::HourBurst => "1 h burst",
            Shape::DaySpread => "over a day",
            Shape::WeekDrip => "drip over a week",
        })
    }
}

impl fmt::Display for Sender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Sender::Familiar => "host already sends there",
            Sender::Stranger => "host never sent there",
        })
    }
}

/// What to inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Scenario {
    pub country: CountryClass,
    pub total_bytes: u64,
    pub shape: Shape,
    pub sender: Sender,
    /// Number of destination addresses in the country.
    pub addresses: u8,
}

/// A scenario made concrete.
#[derive(Debug, Clone)]
pub struct Injection {
    pub scenario: Scenario,
    pub country: String,
    pub host: IpAddr,
    pub start_secs: i64,
    pub end_secs: i64,
    /// In order of end time.
    pub flows: Vec<Flow>,
}

/// Upload chunks are drawn log-uniformly between these sizes: what a tool that splits an
/// archive, or a sync client, sends per connection.
const MIN_CHUNK_BYTES: f64 = 1_000_000.0;
const MAX_CHUNK_BYTES: f64 = 50_000_000.0;
/// Upload speed range per connection, bytes per second.
const MIN_RATE: f64 = 500_000.0;
const MAX_RATE: f64 = 5_000_000.0;

/// A stable public address for the `index`-th injected destination. The country comes from the
/// flow's geo fields, as a sensor with its own GeoIP would send it, so the address only needs
/// to be public; 45.146.0.0/16 is routed address space that the real captures do not use.
fn destination_address(index: u8) -> IpAddr {
    IpAddr::from([45, 146, 7, 10 + index])
}

/// Builds the flows of an injection.
pub fn inject(
    scenario: Scenario,
    country: &str,
    host: IpAddr,
    start_secs: i64,
    seed: u64,
) -> Injection {
    let mut rng = SplitMix(seed);
    let duration = scenario.shape.duration_secs();
    let mut chunks = Vec::new();
    let mut left = scenario.total_bytes;
    while left > 0 {
        let drawn = MIN_CHUNK_BYTES * (MAX_CHUNK_BYTES / MIN_CHUNK_BYTES).powf(rng.unit());
        let size = (drawn.round() as u64).clamp(1, left);
        chunks.push(size);
        left -= size;
    }
    let mut flows: Vec<Flow> = chunks
        .iter()
        .enumerate()
        .map(|(i, &bytes)| {
            let rate = MIN_RATE + (MAX_RATE - MIN_RATE) * rng.unit();
            let duration_micros = (bytes as f64 / rate * 1e6) as i64;
            let offset = (rng.unit() * duration as f64) as i64;
            let start_micros = (start_secs + offset) * MICROS_PER_SEC;
            let address = destination_address((i % usize::from(scenario.addresses.max(1))) as u8);
            let mut flow = Flow::new(start_micros, host, address, Some(bytes));
            flow.end_micros = Some(start_micros + duration_micros);
            flow.source_port = Some(49_152 + (rng.below(16_000) as u16));
            flow.destination_port = Some(443);
            flow.transport = Some("tcp".into());
            flow.bytes_received = Some(bytes / 200);
            flow.direction = Some(Direction::Outbound);
            flow.destination_geo =
                Some(GeoFields { country_iso_code: Some(country.into()), ..GeoFields::default() });
            flow
        })
        .collect();
    flows.sort_by_key(|f| f.event_micros());
    let end_secs = flows.iter().map(|f| f.event_micros() / MICROS_PER_SEC).max().unwrap_or(0);
    Injection {
        scenario,
        country: country.to_string(),
        host,
        start_secs,
        end_secs: end_secs.max(start_secs + 1),
        flows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flows_add_up_to_the_total_and_stay_in_the_window() {
        let scenario = Scenario {
            country: CountryClass::NeverSeen,
            total_bytes: 200_000_000,
            shape: Shape::HourBurst,
            sender: Sender::Stranger,
            addresses: 3,
        };
        let host = IpAddr::from([10, 50, 0, 1]);
        let injection = inject(scenario, "KP", host, 1_000_000, 42);
        let total: u64 = injection.flows.iter().map(|f| f.bytes_sent.unwrap()).sum();
        assert_eq!(total, 200_000_000);
        assert!(injection.flows.len() >= 4);
        for flow in &injection.flows {
            let start = flow.start_micros / MICROS_PER_SEC;
            assert!((1_000_000..1_003_600).contains(&start));
            assert!(flow.bytes_sent.unwrap() <= 50_000_000);
            assert!(crate::filter::networks::is_public(flow.destination_ip));
        }
        let addresses: std::collections::BTreeSet<_> =
            injection.flows.iter().map(|f| f.destination_ip).collect();
        assert_eq!(addresses.len(), 3);
        // The same seed gives the same flows.
        let again = inject(scenario, "KP", host, 1_000_000, 42);
        assert_eq!(again.flows, injection.flows);
    }
}
