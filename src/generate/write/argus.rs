//! Argus bidirectional flows as `ra` writes them with `-c ,` and a header line: `StartTime` in
//! UTC without a zone, `Dur` in seconds, `TotBytes` both directions and `SrcBytes` the
//! source's share.

use super::TimeStyle;
use super::{push_ipv4, push_seconds, push_u64, CalendarClock, FlowRecord, FormatWriter};

const HEADER: &str = "StartTime,Dur,Proto,SrcAddr,Sport,Dir,DstAddr,Dport,State,sTos,dTos,\
    TotPkts,TotBytes,SrcBytes,SrcPkts\n";

#[derive(Default)]
pub struct ArgusWriter {
    clock: CalendarClock,
}

impl FormatWriter for ArgusWriter {
    fn header(&mut self, _first_secs: i64, out: &mut Vec<u8>) {
        out.extend_from_slice(HEADER.as_bytes());
    }

    fn record(&mut self, record: &FlowRecord<'_>, out: &mut Vec<u8>) {
        self.clock.push(out, record.start_micros, TimeStyle::Argus);
        out.push(b',');
        push_seconds(out, record.duration_micros);
        out.push(b',');
        out.extend_from_slice(record.transport.as_bytes());
        out.push(b',');
        push_ipv4(out, record.source_ip);
        out.push(b',');
        push_u64(out, u64::from(record.source_port));
        // `ra` draws TCP as one-way when it saw the opening and `<->` for UDP exchanges.
        let (direction, state): (&[u8], &[u8]) =
            if record.is_tcp() { (b",   ->,", b"FSPA_FSPA") } else { (b",  <->,", b"CON") };
        out.extend_from_slice(direction);
        push_ipv4(out, record.destination_ip);
        out.push(b',');
        push_u64(out, u64::from(record.destination_port));
        out.push(b',');
        out.extend_from_slice(state);
        out.extend_from_slice(b",0,0,");
        let (sent_packets, received_packets) = record.packets();
        push_u64(out, sent_packets + received_packets);
        out.push(b',');
        push_u64(out, record.bytes_sent + record.bytes_received);
        out.push(b',');
        push_u64(out, record.bytes_sent);
        out.push(b',');
        push_u64(out, sent_packets);
        out.push(b'\n');
    }
}
