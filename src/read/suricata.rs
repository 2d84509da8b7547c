//! Suricata EVE JSON: one event per line, of many kinds.
//!
//! The *event type* (`event_type`) says what an event reports; only `flow` events describe a
//! finished or timed-out conversation with byte counts, so every other type (`alert`, `dns`,
//! `http`, ...) is a valid record that is not a flow. The *client* (`src_*`) is the side
//! Suricata saw open the flow; `bytes_toserver` is what it sent. The flow's start time is
//! `flow.start`: the top-level `timestamp` is when the event was written, which for flows
//! flushed together is one value shared by all of them.

use crate::flow::Flow;
use crate::read::json::{self, get_count, get_ip, get_port, get_str, get_text, get_time};
use crate::read::value::{require, transport_name};
use crate::read::{LineOutcome, ParseError, RecordParser};

const EVENT_TYPE: &str = "event_type";
const FLOW_START: &str = "flow.start";
const SRC_IP: &str = "src_ip";
const DEST_IP: &str = "dest_ip";

/// Reads Suricata EVE lines; it keeps no state between lines.
#[derive(Debug, Default)]
pub struct SuricataParser;

impl SuricataParser {
    pub fn new() -> SuricataParser {
        SuricataParser
    }
}

impl RecordParser for SuricataParser {
    fn parse_line(&mut self, line: &str) -> Result<LineOutcome, ParseError> {
        if line.trim().is_empty() {
            return Ok(LineOutcome::Ignored);
        }
        let event = json::parse_object(line)?;
        if require(get_str(&event, EVENT_TYPE)?, EVENT_TYPE)? != "flow" {
            return Ok(LineOutcome::NotAFlow);
        }
        let start_micros = require(get_time(&event, FLOW_START)?, FLOW_START)?;
        let source_ip = require(get_ip(&event, SRC_IP)?, SRC_IP)?;
        let destination_ip = require(get_ip(&event, DEST_IP)?, DEST_IP)?;
        let bytes_sent = get_count(&event, "flow.bytes_toserver")?;
        let mut flow = Flow::new(start_micros, source_ip, destination_ip, bytes_sent);
        flow.source_port = get_port(&event, "src_port")?;
        flow.destination_port = get_port(&event, "dest_port")?;
        flow.transport = get_str(&event, "proto")?.and_then(transport_name);
        flow.bytes_received = get_count(&event, "flow.bytes_toclient")?;
        flow.observer = get_str(&event, "host")?.map(str::to_string);
        flow.community_id = get_str(&event, "community_id")?.map(str::to_string);
        flow.flow_id = get_text(&event, "flow_id")?;
        Ok(LineOutcome::Flow(Box::new(flow)))
    }
}
