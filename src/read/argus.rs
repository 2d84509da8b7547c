//! Argus bidirectional flow records ("binetflow"), as written by `ra` with a header line.
//!
//! The *header* is the first non-empty line and names the columns (`StartTime`, `Proto`,
//! `SrcAddr`, `Sport`, `DstAddr`, `Dport`, `TotBytes`, `SrcBytes`, ...); its separator, comma
//! or TAB, is the file's separator. The *source* is the side that opened the flow; `SrcBytes`
//! is what it sent and `TotBytes` both directions together. `StartTime` has no zone; it is
//! read as UTC, which is what `ra` writes unless it was told otherwise. Argus also reports
//! non-IP traffic (ARP, LLC, its own `man` status records); those records are valid but are
//! not IP flows. `Dir` is a drawing of the conversation (`  <->`), not a statement about the
//! monitored network, so it is not used for the flow's direction.

use crate::flow::Flow;
use crate::read::time::{bad_timestamp, epoch_seconds_to_micros, naive_utc_to_micros};
use crate::read::value::{missing, parse_count, parse_ip, parse_port, transport_name};
use crate::read::{LineOutcome, ParseError, RecordParser};
use crate::skip::SkipReason;

const START_TIME: &str = "StartTime";
const PROTO: &str = "Proto";
const SRC_ADDR: &str = "SrcAddr";
const SPORT: &str = "Sport";
const DST_ADDR: &str = "DstAddr";
const DPORT: &str = "Dport";
const TOT_BYTES: &str = "TotBytes";
const SRC_BYTES: &str = "SrcBytes";

/// How `ra` writes `StartTime` by default.
const START_TIME_FORMAT: &str = "%Y/%m/%d %H:%M:%S%.f";

/// Argus protocol names for traffic that is not IP. Their address fields hold MAC addresses,
/// zeros or IP addresses of a lookup (ARP), never the two ends of an IP conversation.
const NON_IP_PROTOCOLS: [&str; 10] =
    ["arp", "rarp", "llc", "man", "ipx/sp", "ipx", "stp", "lldp", "lacp", "802.1q"];

#[derive(Debug, Clone)]
struct Columns {
    separator: char,
    count: usize,
    start_time: usize,
    proto: Option<usize>,
    src_addr: usize,
    sport: Option<usize>,
    dst_addr: usize,
    dport: Option<usize>,
    tot_bytes: Option<usize>,
    src_bytes: Option<usize>,
}

impl Columns {
    fn from_header(line: &str) -> Result<Columns, ParseError> {
        let separator = if line.contains('\t') { '\t' } else { ',' };
        let names: Vec<&str> = line.split(separator).map(str::trim).collect();
        let find = |name: &str| names.iter().position(|column| *column == name);
        let require = |name: &str| {
            find(name).ok_or_else(|| {
                let message = format!("the argus header line has no `{name}` column");
                ParseError { message, ..missing(name) }
            })
        };
        Ok(Columns {
            separator,
            count: names.len(),
            start_time: require(START_TIME)?,
            proto: find(PROTO),
            src_addr: require(SRC_ADDR)?,
            sport: find(SPORT),
            dst_addr: require(DST_ADDR)?,
            dport: find(DPORT),
            tot_bytes: find(TOT_BYTES),
            src_bytes: find(SRC_BYTES),
        })
    }
}

/// Reads one Argus file; it remembers the column order from the header.
#[derive(Debug, Default)]
pub struct ArgusParser {
    columns: Option<Result<Columns, ParseError>>,
}

impl ArgusParser {
    pub fn new() -> ArgusParser {
        ArgusParser::default()
    }
}

/// True for text shaped like a MAC address, which only a non-IP record carries.
fn is_mac_address(text: &str) -> bool {
    let parts: Vec<&str> = text.split(':').collect();
    parts.len() == 6 && parts.iter().all(|p| p.len() == 2 && u8::from_str_radix(p, 16).is_ok())
}

fn read_record(columns: &Columns, line: &str) -> Result<LineOutcome, ParseError> {
    let values: Vec<&str> = line.split(columns.separator).map(str::trim).collect();
    if values.len() != columns.count {
        let message = format!(
            "expected {} columns as named by the header line, found {}",
            columns.count,
            values.len()
        );
        return Err(ParseError::new(SkipReason::MalformedLine, message));
    }
    let optional = |column: Option<usize>| column.map(|c| values[c]).filter(|v| !v.is_empty());
    let transport = optional(columns.proto).and_then(transport_name);
    if transport.as_deref().is_some_and(|proto| NON_IP_PROTOCOLS.contains(&proto)) {
        return Ok(LineOutcome::NotAFlow);
    }
    let (src_text, dst_text) = (values[columns.src_addr], values[columns.dst_addr]);
    if is_mac_address(src_text) || is_mac_address(dst_text) {
        return Ok(LineOutcome::NotAFlow);
    }
    let time_text = values[columns.start_time];
    let start_micros = naive_utc_to_micros(time_text, START_TIME_FORMAT)
        .or_else(|| epoch_seconds_to_micros(time_text))
        .ok_or_else(|| bad_timestamp(START_TIME, time_text))?;
    let source_ip = parse_ip(SRC_ADDR, src_text)?;
    let destination_ip = parse_ip(DST_ADDR, dst_text)?;
    let count = |column, field| optional(column).map(|v| parse_count(field, v)).transpose();
    let port = |column, field| optional(column).map(|v| parse_port(field, v)).transpose();
    let bytes_sent = count(columns.src_bytes, SRC_BYTES)?;
    let bytes_total = count(columns.tot_bytes, TOT_BYTES)?;
    let bytes_received = match (bytes_total, bytes_sent) {
        (Some(total), Some(sent)) => Some(total.checked_sub(sent).ok_or_else(|| {
            let message = format!("total bytes are smaller than {SRC_BYTES} ({sent})");
            ParseError::field(SkipReason::BadValue, TOT_BYTES, &total.to_string(), message)
        })?),
        _ => None,
    };
    let mut flow = Flow::new(start_micros, source_ip, destination_ip, bytes_sent);
    flow.source_port = port(columns.sport, SPORT)?;
    flow.destination_port = port(columns.dport, DPORT)?;
    flow.transport = transport;
    flow.bytes_received = bytes_received;
    Ok(LineOutcome::Flow(Box::new(flow)))
}

impl RecordParser for ArgusParser {
    fn parse_line(&mut self, line: &str) -> Result<LineOutcome, ParseError> {
        if line.trim().is_empty() {
            return Ok(LineOutcome::Ignored);
        }
        // A header repeated mid-file (files joined with `cat`) restarts the column order.
        let is_header = line.trim_start().starts_with(START_TIME);
        let columns = match &self.columns {
            Some(columns) if !is_header => columns,
            _ => {
                self.columns = Some(Columns::from_header(line));
                return Ok(LineOutcome::Ignored);
            }
        };
        match columns {
            Ok(columns) => read_record(columns, line),
            Err(error) => Err(error.clone()),
        }
    }
}
