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
use crate::read::time::{epoch_seconds_to_micros, naive_utc_to_micros};
use crate::read::value::{
    parse_count, parse_duration_micros, parse_ip, parse_port, transport_name, HeaderColumns,
};
use crate::read::{LineOutcome, ParseError, RecordParser};
use crate::skip::SkipReason;

const START_TIME: &str = "StartTime";
const PROTO: &str = "Proto";
const DURATION: &str = "Dur";
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
    duration: Option<usize>,
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
        let header = HeaderColumns { header: "the argus header line", names: &names };
        let (find, require) = (|name| header.find(name), |name| header.require(name));
        Ok(Columns {
            separator,
            count: names.len(),
            start_time: require(START_TIME)?,
            proto: find(PROTO),
            duration: find(DURATION),
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
#[derive(Debug, Default, Clone)]
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
        .ok_or_else(|| {
            let message =
                "not a timestamp; expected ra's date and time (2019/04/04 16:23:00.123456, \
                           read as UTC) or epoch seconds (1554394980.123456)";
            ParseError::field(SkipReason::BadTimestamp, START_TIME, time_text, message)
        })?;
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
    let duration = optional(columns.duration).map(|v| parse_duration_micros(DURATION, v));
    flow.end_micros = duration.transpose()?.map(|d| start_micros.saturating_add(d));
    flow.source_port = port(columns.sport, SPORT)?;
    flow.destination_port = port(columns.dport, DPORT)?;
    flow.transport = transport;
    flow.bytes_received = bytes_received;
    Ok(LineOutcome::Flow(flow))
}

impl RecordParser for ArgusParser {
    fn fork(&self) -> Box<dyn RecordParser> {
        Box::new(self.clone())
    }

    /// The first non-empty line is the header, and a header repeated mid-file restarts the
    /// column order.
    fn is_state_line(&self, line: &[u8]) -> bool {
        let text = line.trim_ascii_start();
        (self.columns.is_none() && !text.trim_ascii_end().is_empty())
            || text.starts_with(START_TIME.as_bytes())
    }

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read::test_support::{assert_error, flows, ip, parse_all};

    const CSV: &str = include_str!("../../fixtures/read/argus-csv.binetflow");
    const TSV: &str = include_str!("../../fixtures/read/argus-tsv.binetflow");
    const GOOD: &str = "2019/04/04 16:23:00.355768,129.927856,tcp,10.8.0.69,48009,   ->,\
                        31.13.83.2,443,SPA_SRPA,0,164,26,5723,1621,13,";

    fn parse_after_header(line: &str) -> Result<LineOutcome, ParseError> {
        let mut parser = ArgusParser::new();
        assert_eq!(parser.parse_line(CSV.lines().next().unwrap()), Ok(LineOutcome::Ignored));
        parser.parse_line(line)
    }

    #[test]
    fn reads_every_mapped_field_of_real_csv_records() {
        let flows = flows(&parse_all(&mut ArgusParser::new(), CSV));
        assert_eq!(flows.len(), 13);
        let dns = &flows[0];
        assert_eq!(dns.start_micros, 1_554_394_980_325_010);
        assert_eq!((dns.source_ip, dns.source_port), (ip("10.8.0.69"), Some(48427)));
        assert_eq!((dns.destination_ip, dns.destination_port), (ip("8.8.8.8"), Some(53)));
        assert_eq!(dns.transport.as_deref(), Some("udp"));
        assert_eq!((dns.bytes_sent, dns.bytes_received), (Some(63), Some(79)));
        assert_eq!(dns.direction, None);
        let https = &flows[3];
        assert_eq!(https.start_micros, 1_554_394_980_355_768);
        assert_eq!((https.destination_ip, https.destination_port), (ip("31.13.83.2"), Some(443)));
        assert_eq!((https.bytes_sent, https.bytes_received), (Some(1621), Some(4102)));
        let icmp = &flows[10];
        assert_eq!((icmp.source_port, icmp.destination_port), (Some(0x0008), Some(0x7208)));
        assert_eq!(icmp.transport.as_deref(), Some("icmp"));
        let igmp = &flows[12];
        assert_eq!((igmp.source_port, igmp.destination_port), (None, None));
        assert_eq!((igmp.destination_ip, igmp.bytes_received), (ip("0.0.0.1"), Some(0)));
    }

    #[test]
    fn reads_tab_separated_records_and_skips_non_ip_ones() {
        let outcomes = parse_all(&mut ArgusParser::new(), TSV);
        let not_flows: Vec<usize> =
            (0..outcomes.len()).filter(|&i| outcomes[i] == Ok(LineOutcome::NotAFlow)).collect();
        assert_eq!(not_flows, vec![1, 2, 5, 7], "man, llc, arp, arp");
        let flows = flows(&outcomes);
        assert_eq!(flows.len(), 8);
        assert_eq!(flows[0].start_micros, 3_608_140_073);
        assert_eq!((flows[0].source_ip, flows[0].source_port), (ip("0.0.0.0"), Some(68)));
        assert_eq!(flows[0].destination_ip, ip("255.255.255.255"));
        assert_eq!((flows[0].bytes_sent, flows[0].bytes_received), (Some(344), Some(0)));
        assert_eq!(flows[3].source_ip, ip("::"));
        assert_eq!(flows[3].transport.as_deref(), Some("ipv6-icmp"));
        let web = flows.last().unwrap();
        assert_eq!(web.start_micros, 3_675_525_082);
        assert_eq!((web.source_ip, web.source_port), (ip("10.0.2.15"), Some(49162)));
        assert_eq!((web.destination_ip, web.destination_port), (ip("204.79.197.229"), Some(80)));
        assert_eq!((web.bytes_sent, web.bytes_received), (Some(174), Some(166)));
    }

    #[test]
    fn each_bad_field_is_named() {
        assert!(matches!(parse_after_header(GOOD), Ok(LineOutcome::Flow(_))));
        let bad_address = GOOD.replace("31.13.83.2", "31.13.83.256");
        assert_error(parse_after_header(&bad_address), SkipReason::BadAddress, Some(DST_ADDR));
        let bad_bytes = GOOD.replace(",1621,", ",16x1,");
        assert_error(parse_after_header(&bad_bytes), SkipReason::BadValue, Some(SRC_BYTES));
        let more_sent_than_total = GOOD.replace(",1621,", ",9999,");
        let result = parse_after_header(&more_sent_than_total);
        assert_error(result, SkipReason::BadValue, Some(TOT_BYTES));
        let bad_port = GOOD.replace(",48009,", ",0xZZ,");
        assert_error(parse_after_header(&bad_port), SkipReason::BadValue, Some(SPORT));
        let bad_time = GOOD.replace("2019/04/04", "2019/13/04");
        let error = parse_after_header(&bad_time).unwrap_err();
        assert!(error.message.contains("expected ra's date and time (2019/04/04"), "{error}");
        assert_error(parse_after_header(&bad_time), SkipReason::BadTimestamp, Some(START_TIME));
        let short = GOOD.trim_end_matches(',');
        assert_error(parse_after_header(short), SkipReason::MalformedLine, None);
    }

    #[test]
    fn a_header_without_addresses_fails_every_record() {
        let mut parser = ArgusParser::new();
        assert_eq!(parser.parse_line("StartTime,Proto,Sport"), Ok(LineOutcome::Ignored));
        let result = parser.parse_line("2019/04/04 16:23:00.355768,tcp,1");
        assert_error(result, SkipReason::MissingField, Some(SRC_ADDR));
    }
}
