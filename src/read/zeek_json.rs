//! Zeek conn.log written as JSON lines (Zeek's `LogAscii::use_json`).
//!
//! Each line is one connection object with the same field names as the TSV form. The
//! connection id is usually flattened into dotted keys (`"id.orig_h"`), but some pipelines
//! nest it (`"id": {"orig_h": ...}`); both are read. Zeek omits unset fields instead of
//! writing `-`. `ts` is epoch seconds, or an ISO 8601 string when Zeek was configured with
//! ISO timestamps. `local_orig` / `local_resp` are JSON booleans.

use crate::read::json::{
    self, get_bool, get_count, get_duration_micros, get_ip, get_port, get_str, get_time,
};
use crate::read::value::{require, transport_name};
use crate::read::zeek::{self, ZeekConn};
use crate::read::{LineOutcome, ParseError, RecordParser};

/// Reads Zeek conn.log JSON lines; it keeps no state between lines.
#[derive(Debug, Default, Clone)]
pub struct ZeekJsonParser;

impl ZeekJsonParser {
    pub fn new() -> ZeekJsonParser {
        ZeekJsonParser
    }
}

impl RecordParser for ZeekJsonParser {
    fn fork(&self) -> Box<dyn RecordParser> {
        Box::new(self.clone())
    }

    fn parse_line(&mut self, line: &str) -> Result<LineOutcome, ParseError> {
        if line.trim().is_empty() {
            return Ok(LineOutcome::Ignored);
        }
        let record = json::parse_object(line)?;
        if get_str(&record, zeek::JSON_PATH)?.is_some_and(|path| path != zeek::CONN_PATH) {
            return Ok(LineOutcome::NotAFlow);
        }
        let conn = ZeekConn {
            start_micros: require(get_time(&record, zeek::TS)?, zeek::TS)?,
            duration_micros: get_duration_micros(&record, zeek::DURATION)?,
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
        Ok(LineOutcome::Flow(conn.into_flow()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::Direction;
    use crate::read::test_support::{assert_error, flows, ip, parse_all};
    use crate::skip::SkipReason;

    const FIXTURE: &str = include_str!("../../fixtures/read/zeek-json-conn.log");

    fn parse(line: &str) -> Result<LineOutcome, ParseError> {
        ZeekJsonParser::new().parse_line(line)
    }

    #[test]
    fn reads_every_mapped_field_of_real_records() {
        let flows = flows(&parse_all(&mut ZeekJsonParser::new(), FIXTURE));
        assert_eq!(flows.len(), 8);
        let first = &flows[0];
        assert_eq!(first.start_micros, 22_335_172);
        assert_eq!(first.source_ip, ip("fe80::1cf4:44d2:904a:14f7"));
        assert_eq!((first.source_port, first.destination_port), (Some(61099), Some(5355)));
        assert_eq!(first.destination_ip, ip("ff02::1:3"));
        assert_eq!(first.transport.as_deref(), Some("udp"));
        assert_eq!((first.bytes_sent, first.bytes_received), (Some(50), Some(0)));
        assert_eq!(first.direction, None);
        let local = &flows[4];
        assert_eq!(local.start_micros, 26_386_884);
        assert_eq!((local.source_ip, local.source_port), (ip("192.168.1.240"), Some(63386)));
        assert_eq!(local.destination_ip, ip("173.194.76.189"));
        assert_eq!((local.bytes_sent, local.bytes_received), (Some(264), Some(181)));
        assert_eq!(local.direction, Some(Direction::Outbound));
    }

    #[test]
    fn accepts_nested_ids_iso_time_and_unset_bytes() {
        let line = r#"{"ts":"2023-02-20T00:02:09.767505Z","id":{"orig_h":"10.0.0.5",
            "orig_p":5000,"resp_h":"2001:db8::1","resp_p":443},"proto":"TCP"}"#
            .replace('\n', "");
        let Ok(LineOutcome::Flow(flow)) = parse(&line) else { panic!("not a flow") };
        assert_eq!(flow.start_micros, 1_676_851_329_767_505);
        assert_eq!((flow.source_ip, flow.source_port), (ip("10.0.0.5"), Some(5000)));
        assert_eq!((flow.destination_ip, flow.destination_port), (ip("2001:db8::1"), Some(443)));
        assert_eq!(flow.transport.as_deref(), Some("tcp"));
        assert_eq!((flow.bytes_sent, flow.bytes_received), (None, None));
    }

    #[test]
    fn each_bad_field_is_named() {
        let good = FIXTURE.lines().nth(1).unwrap();
        assert!(matches!(parse(good), Ok(LineOutcome::Flow(_))));
        let bad_address = good.replace("195.113.232.73", "195.113.232");
        assert_error(parse(&bad_address), SkipReason::BadAddress, Some("id.resp_h"));
        let bad_bytes = good.replace(r#""orig_bytes":97"#, r#""orig_bytes":"lots""#);
        assert_error(parse(&bad_bytes), SkipReason::BadValue, Some("orig_bytes"));
        let bad_ts = good.replace(r#""ts":30.043784"#, r#""ts":"soon""#);
        assert_error(parse(&bad_ts), SkipReason::BadTimestamp, Some("ts"));
        let no_ts = good.replace(r#""ts":30.043784,"#, "");
        assert_error(parse(&no_ts), SkipReason::MissingField, Some("ts"));
        let bad_flag = good.replace(r#""proto""#, r#""local_orig":1,"proto""#);
        assert_error(parse(&bad_flag), SkipReason::BadValue, Some("local_orig"));
        assert_error(parse(&good[..good.len() - 5]), SkipReason::MalformedLine, None);
        assert_eq!(parse("  "), Ok(LineOutcome::Ignored));
    }
}
