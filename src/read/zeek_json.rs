//! Zeek conn.log written as JSON lines (Zeek's `LogAscii::use_json`).
//!
//! Each line is one connection object with the same field names as the TSV form. The
//! connection id is usually flattened into dotted keys (`"id.orig_h"`), but some pipelines
//! nest it (`"id": {"orig_h": ...}`); both are read. Zeek omits unset fields instead of
//! writing `-`. `ts` is epoch seconds, or an ISO 8601 string when Zeek was configured with
//! ISO timestamps. `local_orig` / `local_resp` are JSON booleans.

use crate::read::json::{self, get_bool, get_count, get_ip, get_port, get_str, get_time};
use crate::read::value::{require, transport_name};
use crate::read::zeek::{self, ZeekConn};
use crate::read::{LineOutcome, ParseError, RecordParser};

/// Reads Zeek conn.log JSON lines; it keeps no state between lines.
#[derive(Debug, Default)]
pub struct ZeekJsonParser;

impl ZeekJsonParser {
    pub fn new() -> ZeekJsonParser {
        ZeekJsonParser
    }
}

impl RecordParser for ZeekJsonParser {
    fn parse_line(&mut self, line: &str) -> Result<LineOutcome, ParseError> {
        if line.trim().is_empty() {
            return Ok(LineOutcome::Ignored);
        }
        let record = json::parse_object(line)?;
        let conn = ZeekConn {
            start_micros: require(get_time(&record, zeek::TS)?, zeek::TS)?,
            orig_h: require(get_ip(&record, zeek::ORIG_H)?, zeek::ORIG_H)?,
            orig_p: get_port(&record, zeek::ORIG_P)?,
            resp_h: require(get_ip(&record, zeek::RESP_H)?, zeek::RESP_H)?,
            resp_p: get_port(&record, zeek::RESP_P)?,
            transport: get_str(&record, zeek::PROTO)?.and_then(transport_name),
            orig_bytes: get_count(&record, zeek::ORIG_BYTES)?,
            resp_bytes: get_count(&record, zeek::RESP_BYTES)?,
            local_orig: get_bool(&record, zeek::LOCAL_ORIG)?,
            local_resp: get_bool(&record, zeek::LOCAL_RESP)?,
        };
        Ok(LineOutcome::Flow(Box::new(conn.into_flow())))
    }
}
