//! Suricata EVE JSON `flow` events: the client's (`src_*`) bytes in `flow.bytes_toserver`,
//! `flow.start` and `flow.end` with a numeric UTC offset, and the top-level `timestamp` when
//! the event was written, which for a flow is when it ended.

use super::{mix64, push_ipv4, push_u64, CalendarClock, FlowRecord, FormatWriter, TimeStyle};

/// The sensor name in `host`, as Suricata's `sensor-name` setting writes it.
const SENSOR_NAME: &str = "geoexfil-generate";
/// Suricata's flow ids fit in 52 bits, so that JSON readers holding numbers as doubles keep
/// them exact.
const FLOW_ID_MASK: u64 = (1 << 52) - 1;

pub struct SuricataWriter {
    seed: u64,
    clock: CalendarClock,
}

impl SuricataWriter {
    pub fn new(seed: u64) -> SuricataWriter {
        SuricataWriter { seed, clock: CalendarClock::default() }
    }
}

impl FormatWriter for SuricataWriter {
    fn record(&mut self, record: &FlowRecord<'_>, out: &mut Vec<u8>) {
        let end_micros = record.end_micros();
        out.extend_from_slice(b"{\"timestamp\":\"");
        self.clock.push(out, end_micros, TimeStyle::IsoOffset);
        out.extend_from_slice(b"\",\"flow_id\":");
        push_u64(out, mix64(self.seed ^ mix64(record.sequence)) & FLOW_ID_MASK);
        out.extend_from_slice(b",\"in_iface\":\"eth0\",\"event_type\":\"flow\",\"src_ip\":\"");
        push_ipv4(out, record.source_ip);
        out.extend_from_slice(b"\",\"src_port\":");
        push_u64(out, u64::from(record.source_port));
        out.extend_from_slice(b",\"dest_ip\":\"");
        push_ipv4(out, record.destination_ip);
        out.extend_from_slice(b"\",\"dest_port\":");
        push_u64(out, u64::from(record.destination_port));
        let proto: &[u8] = if record.is_tcp() { b"TCP" } else { b"UDP" };
        out.extend_from_slice(b",\"proto\":\"");
        out.extend_from_slice(proto);
        out.extend_from_slice(b"\",\"app_proto\":\"");
        let app_proto = match record.service() {
            Some("ssl") => "tls",
            Some(other) => other,
            None => "failed",
        };
        out.extend_from_slice(app_proto.as_bytes());
        let (sent_packets, received_packets) = record.packets();
        out.extend_from_slice(b"\",\"flow\":{\"pkts_toserver\":");
        push_u64(out, sent_packets);
        out.extend_from_slice(b",\"pkts_toclient\":");
        push_u64(out, received_packets);
        out.extend_from_slice(b",\"bytes_toserver\":");
        push_u64(out, record.bytes_sent);
        out.extend_from_slice(b",\"bytes_toclient\":");
        push_u64(out, record.bytes_received);
        out.extend_from_slice(b",\"start\":\"");
        self.clock.push(out, record.start_micros, TimeStyle::IsoOffset);
        out.extend_from_slice(b"\",\"end\":\"");
        self.clock.push(out, end_micros, TimeStyle::IsoOffset);
        out.extend_from_slice(b"\",\"age\":");
        push_u64(out, (record.duration_micros / crate::flow::MICROS_PER_SEC).max(0) as u64);
        let state: &[u8] = if record.is_tcp() { b"closed" } else { b"established" };
        out.extend_from_slice(b",\"state\":\"");
        out.extend_from_slice(state);
        let reason: &[u8] = if record.is_tcp() { b"shutdown" } else { b"timeout" };
        out.extend_from_slice(b"\",\"reason\":\"");
        out.extend_from_slice(reason);
        out.extend_from_slice(b"\",\"alerted\":false},\"host\":\"");
        out.extend_from_slice(SENSOR_NAME.as_bytes());
        out.extend_from_slice(b"\"}\n");
    }
}
