//! What the two Zeek conn.log encodings (TSV and JSON) have in common: field names and the
//! mapping of one connection to a [`Flow`].
//!
//! In Zeek the *originator* (`orig`) is the side that opened the connection and the
//! *responder* (`resp`) the side that answered; they become the flow's source and destination.
//! `local_orig` / `local_resp` say whether each side is inside Zeek's configured local
//! networks. A field Zeek left *unset* (`-` in TSV, an absent key in JSON) is `None` here.

use crate::flow::{Direction, EpochMicros, Flow};
use std::borrow::Cow;
use std::net::IpAddr;

pub const TS: &str = "ts";
pub const ORIG_H: &str = "id.orig_h";
pub const ORIG_P: &str = "id.orig_p";
pub const RESP_H: &str = "id.resp_h";
pub const RESP_P: &str = "id.resp_p";
pub const PROTO: &str = "proto";
/// The `#path` (TSV) or `_path` (JSON) of conn.log.
pub const CONN_PATH: &str = "conn";
pub const JSON_PATH: &str = "_path";
pub const DURATION: &str = "duration";
pub const ORIG_BYTES: &str = "orig_bytes";
pub const RESP_BYTES: &str = "resp_bytes";
pub const LOCAL_ORIG: &str = "local_orig";
pub const LOCAL_RESP: &str = "local_resp";

/// One conn.log record after its values have been read, whatever the encoding.
pub struct ZeekConn {
    pub start_micros: EpochMicros,
    pub duration_micros: Option<i64>,
    pub orig_h: IpAddr,
    pub orig_p: Option<u16>,
    pub resp_h: IpAddr,
    pub resp_p: Option<u16>,
    pub transport: Option<Cow<'static, str>>,
    pub orig_bytes: Option<u64>,
    pub resp_bytes: Option<u64>,
    pub local_orig: Option<bool>,
    pub local_resp: Option<bool>,
}

impl ZeekConn {
    pub fn into_flow(self) -> Flow {
        let mut flow = Flow::new(self.start_micros, self.orig_h, self.resp_h, self.orig_bytes);
        flow.end_micros = self.duration_micros.map(|d| self.start_micros.saturating_add(d));
        flow.source_port = self.orig_p;
        flow.destination_port = self.resp_p;
        flow.transport = self.transport;
        flow.bytes_received = self.resp_bytes;
        // Locality is only meaningful when Zeek knew both sides; one unset flag says nothing.
        flow.direction = match (self.local_orig, self.local_resp) {
            (Some(orig), Some(resp)) => Some(Direction::from_zeek_locality(orig, resp)),
            _ => None,
        };
        flow
    }
}
