//! The input filter: which flows can be exfiltration at all.
//!
//! Only flows from an *internal* source to a *public* destination with more than zero bytes sent
//! count. A flow is *outbound* when it goes from the monitored network to the Internet. The
//! filter decides, in this order, and names the first rule that fails as a [`SkipReason`]:
//!
//! 1. A flow opened by a log collector (elastic-agent, filebeat, ...) is the monitoring system
//!    shipping its own logs, not user traffic: [`SkipReason::CollectorProcess`].
//! 2. When the sensor stated a direction and the filter trusts it, an inbound or internal flow is
//!    [`SkipReason::DirectionNotOutbound`] and transit traffic is
//!    [`SkipReason::SourceNotInternal`]. An outbound flow's source counts as internal even when it
//!    lies outside the configured networks: monitored hosts may have public addresses, and the
//!    sensor (Zeek's `local_orig`, for one) knows its site better than a default list does.
//! 3. Otherwise the source must lie in the internal networks: [`SkipReason::SourceNotInternal`].
//! 4. The destination must be public and outside the internal networks:
//!    [`SkipReason::DestinationNotPublic`].
//! 5. The source must have sent bytes: an unset count is [`SkipReason::BytesUnknown`] and zero is
//!    [`SkipReason::ZeroBytesSent`].

pub mod networks;

pub use networks::{is_public, NetworkParseError, NetworkSet};

use crate::flow::{Direction, Flow};
use crate::skip::SkipReason;

/// Processes of the Elastic log shippers, whose own uploads would otherwise look like a steady
/// stream of data leaving every monitored host.
pub const DEFAULT_COLLECTOR_PROCESSES: [&str; 5] =
    ["elastic-agent", "filebeat", "metricbeat", "packetbeat", "winlogbeat"];

/// Decides whether a flow is a candidate for exfiltration; see the module documentation.
#[derive(Debug, Clone)]
pub struct FlowFilter {
    internal: NetworkSet,
    trust_sensor_direction: bool,
    /// Lower case, without `.exe`.
    collector_processes: Vec<String>,
}

impl FlowFilter {
    /// A filter with the default collector processes.
    pub fn new(internal: NetworkSet, trust_sensor_direction: bool) -> FlowFilter {
        FlowFilter { internal, trust_sensor_direction, collector_processes: Vec::new() }
            .with_collector_processes(DEFAULT_COLLECTOR_PROCESSES)
    }

    /// Replaces the list of collector processes; names match case-insensitively, with or without
    /// a trailing `.exe`.
    pub fn with_collector_processes<I, S>(mut self, names: I) -> FlowFilter
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.collector_processes =
            names.into_iter().map(|name| process_key(name.as_ref())).collect();
        self
    }

    pub fn internal(&self) -> &NetworkSet {
        &self.internal
    }

    pub fn check(&self, flow: &Flow) -> Result<(), SkipReason> {
        if self.is_collector(flow.process_name.as_deref()) {
            return Err(SkipReason::CollectorProcess);
        }
        match flow.direction.filter(|_| self.trust_sensor_direction) {
            Some(Direction::Inbound | Direction::Internal) => {
                return Err(SkipReason::DirectionNotOutbound)
            }
            Some(Direction::External) => return Err(SkipReason::SourceNotInternal),
            Some(Direction::Outbound) => {}
            None if !self.internal.contains(flow.source_ip) => {
                return Err(SkipReason::SourceNotInternal)
            }
            None => {}
        }
        if !is_public(flow.destination_ip) || self.internal.contains(flow.destination_ip) {
            return Err(SkipReason::DestinationNotPublic);
        }
        match flow.bytes_sent {
            None => Err(SkipReason::BytesUnknown),
            Some(0) => Err(SkipReason::ZeroBytesSent),
            Some(_) => Ok(()),
        }
    }

    fn is_collector(&self, process_name: Option<&str>) -> bool {
        process_name.is_some_and(|name| {
            let key = process_key(name);
            self.collector_processes.contains(&key)
        })
    }
}

/// The comparable form of a process name: the file name only, lower case, without `.exe`.
fn process_key(name: &str) -> String {
    let base = name.trim().rsplit(['/', '\\']).next().unwrap_or_default().to_ascii_lowercase();
    match base.strip_suffix(".exe") {
        Some(stem) => stem.to_string(),
        None => base,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow(source: &str, destination: &str, bytes_sent: Option<u64>) -> Flow {
        Flow::new(0, source.parse().unwrap(), destination.parse().unwrap(), bytes_sent)
    }

    fn filter(trust_sensor_direction: bool) -> FlowFilter {
        FlowFilter::new(NetworkSet::default_internal(), trust_sensor_direction)
    }

    #[test]
    fn internal_to_public_with_bytes_passes() {
        assert_eq!(filter(true).check(&flow("10.0.0.5", "8.8.8.8", Some(1))), Ok(()));
        assert_eq!(filter(true).check(&flow("fd00::5", "2001:4860::1", Some(1))), Ok(()));
        assert_eq!(filter(true).check(&flow("::ffff:10.0.0.5", "8.8.8.8", Some(1))), Ok(()));
    }

    #[test]
    fn collector_processes_are_skipped_first() {
        let names = ["filebeat", "Filebeat.EXE", "elastic-agent.exe", "C:\\beats\\winlogbeat.exe"];
        for name in names {
            // An inbound flow with no bytes: the collector rule must win over every later one.
            let mut f = flow("8.8.8.8", "10.0.0.1", Some(0));
            f.direction = Some(Direction::Inbound);
            f.process_name = Some(name.to_string());
            assert_eq!(filter(true).check(&f), Err(SkipReason::CollectorProcess), "{name}");
        }
        let mut f = flow("10.0.0.5", "8.8.8.8", Some(1));
        f.process_name = Some("filebeats".to_string());
        assert_eq!(filter(true).check(&f), Ok(()));
        let custom = filter(true).with_collector_processes(["fluentd"]);
        f.process_name = Some("fluentd".to_string());
        assert_eq!(custom.check(&f), Err(SkipReason::CollectorProcess));
    }

    #[test]
    fn trusted_sensor_direction_decides_the_source() {
        let cases = [
            (Direction::Inbound, Err(SkipReason::DirectionNotOutbound)),
            (Direction::Internal, Err(SkipReason::DirectionNotOutbound)),
            (Direction::External, Err(SkipReason::SourceNotInternal)),
            (Direction::Outbound, Ok(())),
        ];
        for (direction, expected) in cases {
            // A public source: only the sensor's word makes it internal.
            let mut f = flow("198.51.99.7", "8.8.8.8", Some(10));
            f.direction = Some(direction);
            assert_eq!(filter(true).check(&f), expected, "{direction:?}");
        }
    }

    #[test]
    fn untrusted_sensor_direction_is_ignored() {
        let mut f = flow("10.0.0.5", "8.8.8.8", Some(10));
        f.direction = Some(Direction::Inbound);
        assert_eq!(filter(false).check(&f), Ok(()));
        let mut f = flow("198.51.99.7", "8.8.8.8", Some(10));
        f.direction = Some(Direction::Outbound);
        assert_eq!(filter(false).check(&f), Err(SkipReason::SourceNotInternal));
    }

    #[test]
    fn source_outside_internal_networks_is_skipped() {
        assert_eq!(
            filter(true).check(&flow("11.0.0.1", "8.8.8.8", Some(10))),
            Err(SkipReason::SourceNotInternal)
        );
    }

    #[test]
    fn non_public_or_internal_destinations_are_skipped() {
        for destination in ["192.168.1.1", "127.0.0.1", "224.0.0.251", "::ffff:10.1.1.1", "ff02::1"]
        {
            assert_eq!(
                filter(true).check(&flow("10.0.0.5", destination, Some(10))),
                Err(SkipReason::DestinationNotPublic),
                "{destination}"
            );
        }
        // A public block the user declared internal is not a destination either.
        let internal = NetworkSet::parse(["10.0.0.0/8", "81.2.69.0/24"]).unwrap();
        let filter = FlowFilter::new(internal, true);
        assert_eq!(
            filter.check(&flow("10.0.0.5", "81.2.69.142", Some(10))),
            Err(SkipReason::DestinationNotPublic)
        );
    }

    #[test]
    fn bytes_must_be_known_and_positive() {
        assert_eq!(
            filter(true).check(&flow("10.0.0.5", "8.8.8.8", None)),
            Err(SkipReason::BytesUnknown)
        );
        assert_eq!(
            filter(true).check(&flow("10.0.0.5", "8.8.8.8", Some(0))),
            Err(SkipReason::ZeroBytesSent)
        );
    }
}
