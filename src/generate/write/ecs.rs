//! Elastic Common Schema NDJSON flow events as Packetbeat ships them: nested `source`,
//! `destination` (with the GeoIP country an ingest pipeline adds), `network` and `event`
//! objects, `event.start` / `event.end` in ISO 8601 and `event.duration` in nanoseconds.

use super::{push_ipv4, push_u64, CalendarClock, FlowRecord, FormatWriter, TimeStyle};

const NANOS_PER_MICRO: u64 = 1_000;

#[derive(Default)]
pub struct EcsWriter {
    clock: CalendarClock,
}

impl FormatWriter for EcsWriter {
    fn record(&mut self, record: &FlowRecord<'_>, out: &mut Vec<u8>) {
        let end_micros = record.end_micros();
        out.extend_from_slice(b"{\"@timestamp\":\"");
        self.clock.push(out, end_micros, TimeStyle::IsoZulu);
        out.extend_from_slice(
            b"\",\"event\":{\"kind\":\"event\",\"category\":[\"network\"],\
              \"type\":[\"connection\",\"end\"],\"dataset\":\"flow\",\"start\":\"",
        );
        self.clock.push(out, record.start_micros, TimeStyle::IsoZulu);
        out.extend_from_slice(b"\",\"end\":\"");
        self.clock.push(out, end_micros, TimeStyle::IsoZulu);
        out.extend_from_slice(b"\",\"duration\":");
        push_u64(out, record.duration_micros.max(0) as u64 * NANOS_PER_MICRO);
        let (sent_packets, received_packets) = record.packets();
        out.extend_from_slice(b"},\"source\":{\"ip\":\"");
        push_ipv4(out, record.source_ip);
        out.extend_from_slice(b"\",\"port\":");
        push_u64(out, u64::from(record.source_port));
        out.extend_from_slice(b",\"bytes\":");
        push_u64(out, record.bytes_sent);
        out.extend_from_slice(b",\"packets\":");
        push_u64(out, sent_packets);
        out.extend_from_slice(b"},\"destination\":{\"ip\":\"");
        push_ipv4(out, record.destination_ip);
        out.extend_from_slice(b"\",\"port\":");
        push_u64(out, u64::from(record.destination_port));
        out.extend_from_slice(b",\"bytes\":");
        push_u64(out, record.bytes_received);
        out.extend_from_slice(b",\"packets\":");
        push_u64(out, received_packets);
        out.extend_from_slice(b",\"geo\":{\"country_iso_code\":\"");
        out.extend_from_slice(record.country_iso_code.as_bytes());
        out.extend_from_slice(b"\"}},\"network\":{\"type\":\"ipv4\",\"transport\":\"");
        out.extend_from_slice(record.transport.as_bytes());
        out.extend_from_slice(b"\",\"direction\":\"egress\",\"bytes\":");
        push_u64(out, record.bytes_sent + record.bytes_received);
        out.extend_from_slice(b",\"packets\":");
        push_u64(out, sent_packets + received_packets);
        out.extend_from_slice(b"},\"host\":{\"name\":\"");
        out.extend_from_slice(record.host_name.as_bytes());
        out.extend_from_slice(
            b"\"},\"agent\":{\"type\":\"packetbeat\"},\"flow\":{\"final\":true}}\n",
        );
    }
}
