//! Zeek conn.log, tab-separated, with the header lines Zeek writes (`#separator` to `#types`)
//! and its `#close` line, and the columns of Zeek's conn.log in Zeek's order.

use super::{mix64, push_ipv4, push_seconds, push_u64, FlowRecord, FormatWriter};
use chrono::DateTime;

const FIELDS: &str = "ts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\t\
    duration\torig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory\t\
    orig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\ttunnel_parents";
const TYPES: &str = "time\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\t\
    string\tbool\tbool\tcount\tstring\tcount\tcount\tcount\tcount\tset[string]";

/// Zeek's `#open` / `#close` time format.
const HEADER_TIME_FORMAT: &str = "%Y-%m-%d-%H-%M-%S";

pub struct ZeekTsvWriter {
    seed: u64,
}

impl ZeekTsvWriter {
    pub fn new(seed: u64) -> ZeekTsvWriter {
        ZeekTsvWriter { seed }
    }
}

fn header_time(secs: i64) -> String {
    DateTime::from_timestamp(secs, 0)
        .map(|time| time.format(HEADER_TIME_FORMAT).to_string())
        .unwrap_or_default()
}

/// A Zeek connection uid: `C` and seventeen base-62 characters.
pub(super) fn push_uid(out: &mut Vec<u8>, seed: u64, sequence: u64) {
    const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    out.push(b'C');
    let first = mix64(seed ^ mix64(sequence));
    // Nine and eight base-62 digits fit in the 64 bits of each value.
    for (mut bits, digits) in [(first, 9), (mix64(first), 8)] {
        for _ in 0..digits {
            out.push(ALPHABET[(bits % 62) as usize]);
            bits /= 62;
        }
    }
}

impl FormatWriter for ZeekTsvWriter {
    fn header(&mut self, first_secs: i64, out: &mut Vec<u8>) {
        out.extend_from_slice(b"#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n");
        out.extend_from_slice(b"#unset_field\t-\n#path\tconn\n#open\t");
        out.extend_from_slice(header_time(first_secs).as_bytes());
        out.extend_from_slice(b"\n#fields\t");
        out.extend_from_slice(FIELDS.as_bytes());
        out.extend_from_slice(b"\n#types\t");
        out.extend_from_slice(TYPES.as_bytes());
        out.push(b'\n');
    }

    fn record(&mut self, record: &FlowRecord<'_>, out: &mut Vec<u8>) {
        push_seconds(out, record.start_micros);
        out.push(b'\t');
        push_uid(out, self.seed, record.sequence);
        out.push(b'\t');
        push_ipv4(out, record.source_ip);
        out.push(b'\t');
        push_u64(out, u64::from(record.source_port));
        out.push(b'\t');
        push_ipv4(out, record.destination_ip);
        out.push(b'\t');
        push_u64(out, u64::from(record.destination_port));
        out.push(b'\t');
        out.extend_from_slice(record.transport.as_bytes());
        out.push(b'\t');
        out.extend_from_slice(record.service().unwrap_or("-").as_bytes());
        out.push(b'\t');
        push_seconds(out, record.duration_micros);
        out.push(b'\t');
        push_u64(out, record.bytes_sent);
        out.push(b'\t');
        push_u64(out, record.bytes_received);
        // Finished normally; the originator is local and the responder is not; nothing missed.
        out.extend_from_slice(b"\tSF\tT\tF\t0\t");
        let history: &[u8] = if record.is_tcp() { b"ShADadFf" } else { b"Dd" };
        out.extend_from_slice(history);
        let (sent_packets, received_packets) = record.packets();
        let (sent_ip_bytes, received_ip_bytes) = record.ip_bytes();
        for value in [sent_packets, sent_ip_bytes, received_packets, received_ip_bytes] {
            out.push(b'\t');
            push_u64(out, value);
        }
        out.extend_from_slice(b"\t-\n");
    }

    fn footer(&mut self, last_secs: i64, out: &mut Vec<u8>) {
        out.extend_from_slice(b"#close\t");
        out.extend_from_slice(header_time(last_secs).as_bytes());
        out.push(b'\n');
    }
}
