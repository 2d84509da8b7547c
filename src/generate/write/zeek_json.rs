//! Zeek conn.log as JSON lines (`LogAscii::use_json`): the conn.log fields with dotted
//! connection ids, `ts` and `duration` as numbers of seconds, and unset fields left out.

use super::zeek_tsv::push_uid;
use super::{push_ipv4, push_seconds, push_u64, FlowRecord, FormatWriter};

pub struct ZeekJsonWriter {
    seed: u64,
}

impl ZeekJsonWriter {
    pub fn new(seed: u64) -> ZeekJsonWriter {
        ZeekJsonWriter { seed }
    }
}

impl FormatWriter for ZeekJsonWriter {
    fn record(&mut self, record: &FlowRecord<'_>, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"ts\":");
        push_seconds(out, record.start_micros);
        out.extend_from_slice(b",\"uid\":\"");
        push_uid(out, self.seed, record.sequence);
        out.extend_from_slice(b"\",\"id.orig_h\":\"");
        push_ipv4(out, record.source_ip);
        out.extend_from_slice(b"\",\"id.orig_p\":");
        push_u64(out, u64::from(record.source_port));
        out.extend_from_slice(b",\"id.resp_h\":\"");
        push_ipv4(out, record.destination_ip);
        out.extend_from_slice(b"\",\"id.resp_p\":");
        push_u64(out, u64::from(record.destination_port));
        out.extend_from_slice(b",\"proto\":\"");
        out.extend_from_slice(record.transport.as_bytes());
        out.push(b'"');
        if let Some(service) = record.service() {
            out.extend_from_slice(b",\"service\":\"");
            out.extend_from_slice(service.as_bytes());
            out.push(b'"');
        }
        out.extend_from_slice(b",\"duration\":");
        push_seconds(out, record.duration_micros);
        out.extend_from_slice(b",\"orig_bytes\":");
        push_u64(out, record.bytes_sent);
        out.extend_from_slice(b",\"resp_bytes\":");
        push_u64(out, record.bytes_received);
        out.extend_from_slice(
            b",\"conn_state\":\"SF\",\"local_orig\":true,\"local_resp\":false,\"missed_bytes\":0",
        );
        out.extend_from_slice(b",\"history\":\"");
        out.extend_from_slice(if record.is_tcp() { b"ShADadFf" } else { b"Dd" });
        let (sent_packets, received_packets) = record.packets();
        let (sent_ip_bytes, received_ip_bytes) = record.ip_bytes();
        out.extend_from_slice(b"\",\"orig_pkts\":");
        push_u64(out, sent_packets);
        out.extend_from_slice(b",\"orig_ip_bytes\":");
        push_u64(out, sent_ip_bytes);
        out.extend_from_slice(b",\"resp_pkts\":");
        push_u64(out, received_packets);
        out.extend_from_slice(b",\"resp_ip_bytes\":");
        push_u64(out, received_ip_bytes);
        out.extend_from_slice(b"}\n");
    }
}
