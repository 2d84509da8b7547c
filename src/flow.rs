//! The normalised flow: the one record type every reader produces.
//!
//! A *flow* is one network conversation as a sensor reported it: who started it (the source),
//! whom it reached (the destination), when it started and how many bytes each side sent. Readers
//! for Zeek, Suricata, ECS and Argus each turn their own record into a [`Flow`]; every later step
//! of the pipeline sees only this type.

use std::borrow::Cow;
use std::net::IpAddr;

/// Microseconds since the Unix epoch. Captures with relative clocks start near zero, which is
/// fine: only differences between timestamps matter to bucketing.
pub type EpochMicros = i64;

/// Microseconds in one second, for converting between the units used in names.
pub const MICROS_PER_SEC: i64 = 1_000_000;

/// Which way a sensor says a flow went, relative to the monitored network.
///
/// Filled from ECS `network.direction` or derived from Zeek's `local_orig` / `local_resp`.
/// `None` on a flow means the sensor did not say, and the configured internal networks decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Internal source, external destination (ECS `egress` / `outbound`).
    Outbound,
    /// External source, internal destination (ECS `ingress` / `inbound`).
    Inbound,
    /// Both ends internal.
    Internal,
    /// Neither end internal: transit traffic seen by the sensor.
    External,
}

impl Direction {
    /// Reads an ECS `network.direction` value; unknown words give `None`.
    pub fn from_ecs(value: &str) -> Option<Direction> {
        match value.to_ascii_lowercase().as_str() {
            "egress" | "outbound" => Some(Direction::Outbound),
            "ingress" | "inbound" => Some(Direction::Inbound),
            "internal" => Some(Direction::Internal),
            "external" => Some(Direction::External),
            _ => None,
        }
    }

    /// Derives the direction from Zeek's `local_orig` and `local_resp` flags.
    pub fn from_zeek_locality(local_orig: bool, local_resp: bool) -> Direction {
        match (local_orig, local_resp) {
            (true, false) => Direction::Outbound,
            (false, true) => Direction::Inbound,
            (true, true) => Direction::Internal,
            (false, false) => Direction::External,
        }
    }
}

/// Geo fields already present on an input event (ECS `destination.geo.*`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct GeoFields {
    pub country_iso_code: Option<String>,
    pub country_name: Option<String>,
    pub continent_name: Option<String>,
    pub region_name: Option<String>,
    pub city_name: Option<String>,
}

/// One flow in the form every pipeline step understands.
#[derive(Debug, Clone, PartialEq)]
pub struct Flow {
    /// When the flow started, by the sensor's clock.
    pub start_micros: EpochMicros,
    /// When the flow ended (start plus duration), when the sensor says.
    pub end_micros: Option<EpochMicros>,
    pub source_ip: IpAddr,
    pub source_port: Option<u16>,
    pub destination_ip: IpAddr,
    pub destination_port: Option<u16>,
    /// Transport protocol in lower case (`tcp`, `udp`, `icmp`), when known.
    pub transport: Option<Cow<'static, str>>,
    /// Bytes the source sent (ECS `source.bytes`). `None` when the sensor left it unset.
    pub bytes_sent: Option<u64>,
    /// Bytes the destination sent back (ECS `destination.bytes`).
    pub bytes_received: Option<u64>,
    pub host_name: Option<String>,
    pub user_name: Option<String>,
    pub process_name: Option<String>,
    /// The sensor that reported the flow (ECS `observer.name`, Suricata `host`).
    pub observer: Option<String>,
    pub direction: Option<Direction>,
    /// Geo fields that came with the event; used unless the user asks to re-resolve.
    pub destination_geo: Option<GeoFields>,
    /// ECS `network.community_id`: the same flow seen by two sensors has the same value.
    pub community_id: Option<String>,
    /// Sensor flow identifier (Packetbeat `flow.id`), for flows reported several times.
    pub flow_id: Option<String>,
    /// `Some(false)` on an interim report whose byte counts are running totals.
    pub flow_final: Option<bool>,
}

impl Flow {
    /// The time at which the flow's bytes are counted: its end when known, else its start.
    ///
    /// Sensors write a flow when it ends, so its end is the moment its byte count became known,
    /// and it keeps the data's clock in step with the order of the log: a connection that
    /// lasted a day is counted in the bucket where it ended instead of arriving a day late for
    /// the bucket where it began.
    pub fn event_micros(&self) -> EpochMicros {
        self.end_micros.filter(|&end| end >= self.start_micros).unwrap_or(self.start_micros)
    }

    /// A flow with only the five mandatory facts set; readers fill in the rest.
    pub fn new(
        start_micros: EpochMicros,
        source_ip: IpAddr,
        destination_ip: IpAddr,
        bytes_sent: Option<u64>,
    ) -> Flow {
        Flow {
            start_micros,
            end_micros: None,
            source_ip,
            source_port: None,
            destination_ip,
            destination_port: None,
            transport: None,
            bytes_sent,
            bytes_received: None,
            host_name: None,
            user_name: None,
            process_name: None,
            observer: None,
            direction: None,
            destination_geo: None,
            community_id: None,
            flow_id: None,
            flow_final: None,
        }
    }
}
