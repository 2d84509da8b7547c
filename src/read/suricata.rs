//! Suricata EVE JSON: one event per line, of many kinds.
//!
//! The *event type* (`event_type`) says what an event reports; only `flow` events describe a
//! finished or timed-out conversation with byte counts, so every other type (`alert`, `dns`,
//! `http`, ...) is a valid record that is not a flow. The *client* (`src_*`) is the side
//! Suricata saw open the flow; `bytes_toserver` is what it sent. The flow's start time is
//! `flow.start`: the top-level `timestamp` is when the event was written, which for flows
//! flushed together is one value shared by all of them.

use crate::flow::Flow;
use crate::read::json::{self, get_count, get_ip, get_port, get_str, get_text, get_time, Record};
use crate::read::value::{require, transport_name};
use crate::read::{LineOutcome, ParseError, RecordParser};

const EVENT_TYPE: &str = "event_type";
const FLOW_START: &str = "flow.start";
const SRC_IP: &str = "src_ip";
const DEST_IP: &str = "dest_ip";

/// Every path the reader looks up: a line is parsed for these only.
const READ_PATHS: [&str; 13] = [
    EVENT_TYPE,
    FLOW_START,
    SRC_IP,
    DEST_IP,
    "flow.bytes_toserver",
    "flow.end",
    "src_port",
    "dest_port",
    "proto",
    "flow.bytes_toclient",
    "host",
    "community_id",
    "flow_id",
];

static WANTED: std::sync::LazyLock<json::WantedPaths> =
    std::sync::LazyLock::new(|| json::WantedPaths::new(&READ_PATHS));

/// Reads Suricata EVE lines; it keeps no state between lines.
#[derive(Debug, Default, Clone)]
pub struct SuricataParser;

impl SuricataParser {
    pub fn new() -> SuricataParser {
        SuricataParser
    }
}

impl RecordParser for SuricataParser {
    fn fork(&self) -> Box<dyn RecordParser> {
        Box::new(self.clone())
    }

    fn parse_line(&mut self, line: &str) -> Result<LineOutcome, ParseError> {
        json::read_wanted(line, &WANTED, |event| flow_of(event), |whole| flow_of(whole))
    }
}

fn flow_of(event: &impl Record) -> Result<LineOutcome, ParseError> {
    if require(get_str(event, EVENT_TYPE)?, EVENT_TYPE)? != "flow" {
        return Ok(LineOutcome::NotAFlow);
    }
    let start_micros = require(get_time(event, FLOW_START)?, FLOW_START)?;
    let source_ip = require(get_ip(event, SRC_IP)?, SRC_IP)?;
    let destination_ip = require(get_ip(event, DEST_IP)?, DEST_IP)?;
    let bytes_sent = get_count(event, "flow.bytes_toserver")?;
    let mut flow = Flow::new(start_micros, source_ip, destination_ip, bytes_sent);
    flow.end_micros = get_time(event, "flow.end")?;
    flow.source_port = get_port(event, "src_port")?;
    flow.destination_port = get_port(event, "dest_port")?;
    flow.transport = get_str(event, "proto")?.and_then(transport_name);
    flow.bytes_received = get_count(event, "flow.bytes_toclient")?;
    flow.observer = get_str(event, "host")?.map(str::to_string);
    flow.community_id = get_str(event, "community_id")?.map(str::to_string);
    flow.flow_id = get_text(event, "flow_id")?;
    Ok(LineOutcome::Flow(flow))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read::test_support::{assert_error, flows, ip, parse_all};
    use crate::skip::SkipReason;

    const FIXTURE: &str = include_str!("../../fixtures/read/suricata-eve.json");

    fn parse(line: &str) -> Result<LineOutcome, ParseError> {
        SuricataParser::new().parse_line(line)
    }

    #[test]
    fn only_flow_events_are_flows() {
        let outcomes = parse_all(&mut SuricataParser::new(), FIXTURE);
        let not_flows = outcomes.iter().filter(|o| *o == &Ok(LineOutcome::NotAFlow)).count();
        assert_eq!(not_flows, 7, "2 alert, 4 dns, 1 http");
        assert_eq!(flows(&outcomes).len(), 5);
    }

    #[test]
    fn reads_every_mapped_field_of_a_real_flow() {
        let flows = flows(&parse_all(&mut SuricataParser::new(), FIXTURE));
        let exfil = flows.last().unwrap();
        // From flow.start (20:45:12.198137+02:00), not the shared top-level timestamp.
        assert_eq!(exfil.start_micros, 1_623_005_112_198_137);
        assert_eq!((exfil.source_ip, exfil.source_port), (ip("192.168.1.129"), Some(53041)));
        assert_eq!(exfil.destination_ip, ip("122.248.252.67"));
        assert_eq!(exfil.destination_port, Some(8760));
        assert_eq!(exfil.transport.as_deref(), Some("udp"));
        assert_eq!((exfil.bytes_sent, exfil.bytes_received), (Some(256), Some(468)));
        assert_eq!(exfil.observer.as_deref(), Some("stratosphere.org"));
        assert_eq!(exfil.flow_id.as_deref(), Some("1275287857268217"));
        assert_eq!((exfil.community_id.as_ref(), exfil.direction), (None, None));
        assert_eq!(flows[2].transport.as_deref(), Some("tcp"));
        assert_eq!((flows[2].bytes_sent, flows[2].bytes_received), (Some(120), Some(120)));
    }

    #[test]
    fn accepts_every_offset_spelling_and_community_id() {
        let line = |start: &str| {
            format!(
                r#"{{"event_type":"flow","src_ip":"10.0.0.1","dest_ip":"192.0.2.1",
                "community_id":"1:abc=","flow":{{"start":"{start}"}}}}"#
            )
            .replace('\n', "")
        };
        for start in [
            "2021-06-06T15:59:46.457984+0200",
            "2021-06-06T15:59:46.457984+02:00",
            "2021-06-06T13:59:46.457984Z",
        ] {
            let Ok(LineOutcome::Flow(flow)) = parse(&line(start)) else { panic!("{start}") };
            assert_eq!(flow.start_micros, 1_622_987_986_457_984);
            assert_eq!(flow.community_id.as_deref(), Some("1:abc="));
            assert_eq!((flow.bytes_sent, flow.source_port), (None, None));
        }
        let error =
            assert_error(parse(&line("06/06/2021")), SkipReason::BadTimestamp, Some("flow.start"));
        assert_eq!(error.value.as_deref(), Some("06/06/2021"));
    }

    #[test]
    fn each_bad_field_is_named() {
        let good = FIXTURE.lines().last().unwrap();
        let no_start = good.replace(r#""start":"2021-06-06T20:45:12.198137+0200","#, "");
        assert_error(parse(&no_start), SkipReason::MissingField, Some("flow.start"));
        let bad_address = good.replace("122.248.252.67", "aws-sg");
        assert_error(parse(&bad_address), SkipReason::BadAddress, Some("dest_ip"));
        let bad_bytes = good.replace(r#""bytes_toserver":256"#, r#""bytes_toserver":-256"#);
        assert_error(parse(&bad_bytes), SkipReason::BadValue, Some("flow.bytes_toserver"));
        let no_type = good.replace(r#""event_type":"flow","#, "");
        assert_error(parse(&no_type), SkipReason::MissingField, Some("event_type"));
        assert_error(parse("{\"event_type\":"), SkipReason::MalformedLine, None);
    }
}
