//! Zeek conn.log in Zeek's own tab-separated format.
//!
//! The file describes itself in *header lines* that start with `#`: `#separator` (written with
//! escapes, `\x09` for TAB), `#set_separator`, `#empty_field` (the text meaning an empty
//! value, `(empty)`), `#unset_field` (the text meaning no value, `-`) and `#fields` (the column
//! names). *Data lines* follow, one connection each, with one value per `#fields` column.
//! Columns are found by name, so their order and any extra columns (the `label` and
//! `detailedlabel` columns of labelled datasets) do not matter.
//!
//! A data line before any `#fields` header is refused. Other Zeek logs (dns.log, http.log)
//! share conn.log's first seven columns, so a headerless line cannot be told apart from them,
//! and a guessed column order would turn a query name into a byte count without any error.

use crate::read::time::{bad_timestamp, epoch_seconds_to_micros};
use crate::read::value::{
    missing, parse_count, parse_duration_micros, parse_flag, parse_ip, parse_port, transport_name,
    HeaderColumns,
};
use crate::read::zeek::{self, ZeekConn};
use crate::read::{LineOutcome, ParseError, RecordParser};
use crate::skip::SkipReason;

/// The header-declared separators and markers, with Zeek's defaults until a header says
/// otherwise.
#[derive(Debug, Clone)]
struct Markers {
    separator: String,
    empty_field: String,
    unset_field: String,
}

impl Default for Markers {
    fn default() -> Self {
        Markers {
            separator: "\t".to_string(),
            empty_field: "(empty)".to_string(),
            unset_field: "-".to_string(),
        }
    }
}

/// Where each mapped field sits among the `#fields` columns.
#[derive(Debug, Clone, Copy)]
struct Columns {
    count: usize,
    ts: usize,
    orig_h: usize,
    resp_h: usize,
    orig_p: Option<usize>,
    resp_p: Option<usize>,
    proto: Option<usize>,
    duration: Option<usize>,
    orig_bytes: Option<usize>,
    resp_bytes: Option<usize>,
    local_orig: Option<usize>,
    local_resp: Option<usize>,
}

impl Columns {
    /// A `#fields` list without a required column makes every later data line fail with the
    /// same error, so the error is built once here.
    fn from_names(names: &[&str]) -> Result<Columns, ParseError> {
        let header = HeaderColumns { header: "the `#fields` header", names };
        let (find, require) = (|name| header.find(name), |name| header.require(name));
        Ok(Columns {
            count: names.len(),
            ts: require(zeek::TS)?,
            orig_h: require(zeek::ORIG_H)?,
            resp_h: require(zeek::RESP_H)?,
            orig_p: find(zeek::ORIG_P),
            resp_p: find(zeek::RESP_P),
            proto: find(zeek::PROTO),
            duration: find(zeek::DURATION),
            orig_bytes: find(zeek::ORIG_BYTES),
            resp_bytes: find(zeek::RESP_BYTES),
            local_orig: find(zeek::LOCAL_ORIG),
            local_resp: find(zeek::LOCAL_RESP),
        })
    }
}

/// Reads one Zeek TSV file; it remembers the header it has seen.
#[derive(Debug, Default, Clone)]
pub struct ZeekTsvParser {
    markers: Markers,
    columns: Option<Result<Columns, ParseError>>,
    /// The `#path` header: which Zeek log this is. Only `conn` holds whole connections (dns,
    /// http and the running totals of conn_long share its first columns but are not flows).
    path: Option<String>,
    /// Where each column of the current line ends, kept between lines so that reading a line
    /// allocates nothing for its columns.
    column_ends: Vec<usize>,
}

impl ZeekTsvParser {
    pub fn new() -> ZeekTsvParser {
        ZeekTsvParser::default()
    }

    fn read_header(&mut self, line: &str) -> Result<LineOutcome, ParseError> {
        if let Some(rest) = line.strip_prefix("#separator") {
            // This one line is written with a space, since its reader cannot know the
            // separator yet.
            let escaped = rest.strip_prefix([' ', '\t']).unwrap_or(rest);
            let separator = decode_escapes(escaped);
            if separator.is_empty() {
                let message = "separator is empty; expected a value such as `\\x09`";
                return Err(ParseError::field(SkipReason::BadValue, "#separator", rest, message));
            }
            self.markers.separator = separator;
            return Ok(LineOutcome::Ignored);
        }
        let mut parts = line.split(self.markers.separator.as_str());
        let key = parts.next().unwrap_or_default();
        let value = line[key.len()..].get(self.markers.separator.len()..).unwrap_or("");
        match key {
            "#empty_field" => self.markers.empty_field = value.to_string(),
            "#unset_field" => self.markers.unset_field = value.to_string(),
            "#path" => self.path = Some(value.to_string()),
            "#fields" => {
                let names: Vec<&str> = parts.collect();
                let columns = Columns::from_names(&names);
                let is_conn = self.path.as_deref().is_none_or(|path| path == "conn");
                let no_bytes = columns.as_ref().is_ok_and(|c| c.orig_bytes.is_none());
                self.columns = Some(columns);
                // Every flow of such a log counts as bytes_unknown: said once, on the header.
                if is_conn && no_bytes {
                    return Err(ParseError {
                        message: "the `#fields` header has no orig_bytes column, so no flow of \
                                  this log can count the bytes it sent"
                            .to_string(),
                        ..crate::read::value::missing(zeek::ORIG_BYTES)
                    });
                }
            }
            _ => {}
        }
        Ok(LineOutcome::Ignored)
    }

    /// The value of a column, or `None` when Zeek marked it unset or empty.
    fn value<'a>(&self, line: &'a str, column: Option<usize>) -> Option<&'a str> {
        let column = column?;
        let start = match column {
            0 => 0,
            _ => self.column_ends[column - 1] + self.markers.separator.len(),
        };
        let value = &line[start..self.column_ends[column]];
        let markers = &self.markers;
        (value != markers.unset_field && value != markers.empty_field).then_some(value)
    }

    fn read_data(&mut self, line: &str) -> Result<LineOutcome, ParseError> {
        let columns = match &self.columns {
            Some(Ok(columns)) => *columns,
            Some(Err(error)) => return Err(error.clone()),
            None => {
                let message = "data line before the `#fields` header; zeek tsv needs its \
                               header lines (do not strip `#` lines, or use zeek's json output)";
                return Err(ParseError { message: message.to_string(), ..missing("#fields") });
            }
        };
        self.column_ends.clear();
        match self.markers.separator.as_bytes() {
            // Cutting at an ASCII byte always falls on a character boundary.
            &[single] if single.is_ascii() => {
                find_byte(single, line.as_bytes(), &mut self.column_ends);
            }
            _ => self
                .column_ends
                .extend(line.match_indices(self.markers.separator.as_str()).map(|(at, _)| at)),
        }
        self.column_ends.push(line.len());
        if self.column_ends.len() != columns.count {
            let message = format!(
                "expected {} columns as named by `#fields`, found {}",
                columns.count,
                self.column_ends.len()
            );
            return Err(ParseError::new(SkipReason::MalformedLine, message));
        }
        let text = |column: usize| self.value(line, Some(column));
        let optional = |column| self.value(line, column);
        let ts = text(columns.ts).ok_or_else(|| missing(zeek::TS))?;
        let start_micros =
            epoch_seconds_to_micros(ts).ok_or_else(|| bad_timestamp(zeek::TS, ts))?;
        let address = |column, field| match text(column) {
            Some(value) => parse_ip(field, value),
            None => Err(missing(field)),
        };
        let port = |column, field| optional(column).map(|v| parse_port(field, v)).transpose();
        let count = |column, field| optional(column).map(|v| parse_count(field, v)).transpose();
        let flag = |column, field| optional(column).map(|v| parse_flag(field, v)).transpose();
        let conn = ZeekConn {
            start_micros,
            duration_micros: optional(columns.duration)
                .map(|v| parse_duration_micros(zeek::DURATION, v))
                .transpose()?,
            orig_h: address(columns.orig_h, zeek::ORIG_H)?,
            orig_p: port(columns.orig_p, zeek::ORIG_P)?,
            resp_h: address(columns.resp_h, zeek::RESP_H)?,
            resp_p: port(columns.resp_p, zeek::RESP_P)?,
            transport: optional(columns.proto).and_then(transport_name),
            orig_bytes: count(columns.orig_bytes, zeek::ORIG_BYTES)?,
            resp_bytes: count(columns.resp_bytes, zeek::RESP_BYTES)?,
            local_orig: flag(columns.local_orig, zeek::LOCAL_ORIG)?,
            local_resp: flag(columns.local_resp, zeek::LOCAL_RESP)?,
        };
        Ok(LineOutcome::Flow(conn.into_flow()))
    }
}

impl RecordParser for ZeekTsvParser {
    fn fork(&self) -> Box<dyn RecordParser> {
        Box::new(self.clone())
    }

    /// Every header line starts with `#`; data lines never do.
    fn is_state_line(&self, line: &[u8]) -> bool {
        line.first() == Some(&b'#')
    }

    fn parse_line(&mut self, line: &str) -> Result<LineOutcome, ParseError> {
        if line.trim().is_empty() {
            Ok(LineOutcome::Ignored)
        } else if line.starts_with('#') {
            self.read_header(line)
        } else if self.path.as_deref().is_some_and(|path| path != zeek::CONN_PATH) {
            Ok(LineOutcome::NotAFlow)
        } else {
            self.read_data(line)
        }
    }
}

/// Appends the position of every `byte` in `text`. A one-byte separator (TAB, always in
/// practice) is looked for eight bytes at a time in a machine word: columns are a few bytes
/// long, too short for a vectorised search to pay for starting once per column, and a byte at
/// a time leaves most of the word unused.
fn find_byte(byte: u8, text: &[u8], found: &mut Vec<usize>) {
    const LOW_SEVEN: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    let pattern = u64::from_ne_bytes([byte; 8]);
    let mut chunks = text.chunks_exact(8);
    let mut offset = 0;
    for chunk in &mut chunks {
        let word = u64::from_le_bytes(chunk.try_into().expect("chunks of eight bytes"));
        let zeroed = word ^ pattern;
        // The high bit of each byte that was `byte` (now zero), with no false positives: no
        // addition carries from one byte into the next.
        let mut matches = !(((zeroed & LOW_SEVEN) + LOW_SEVEN) | zeroed | LOW_SEVEN);
        while matches != 0 {
            found.push(offset + matches.trailing_zeros() as usize / 8);
            matches &= matches - 1;
        }
        offset += 8;
    }
    let tail = chunks.remainder().iter().enumerate();
    found.extend(tail.filter(|&(_, &b)| b == byte).map(|(at, _)| offset + at));
}

/// Decodes Zeek's `\xHH` escapes; any other text is kept as written. The escapes are bytes:
/// `\xc2\xa7` is the two bytes of one UTF-8 character (`§`), not two characters.
fn decode_escapes(text: &str) -> String {
    let mut decoded = Vec::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("\\x") {
        decoded.extend_from_slice(&rest.as_bytes()[..start]);
        let hex = rest.get(start + 2..start + 4);
        match hex.and_then(|hex| u8::from_str_radix(hex, 16).ok()) {
            Some(byte) => {
                decoded.push(byte);
                rest = &rest[start + 4..];
            }
            None => {
                decoded.extend_from_slice(b"\\x");
                rest = &rest[start + 2..];
            }
        }
    }
    decoded.extend_from_slice(rest.as_bytes());
    String::from_utf8(decoded)
        .unwrap_or_else(|bytes| String::from_utf8_lossy(bytes.as_bytes()).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_every_separator_at_any_place_in_a_word() {
        for text in
            ["", "\t", "a\tb", "\t\t\t\t\t\t\t\t\t", "0123456\t89\u{e9}\t\u{7f}\u{80}x\t", "ab"]
        {
            let mut found = Vec::new();
            find_byte(b'\t', text.as_bytes(), &mut found);
            let expected: Vec<usize> = text.match_indices('\t').map(|(at, _)| at).collect();
            assert_eq!(found, expected, "{text:?}");
        }
    }
    use crate::flow::Direction;
    use crate::read::test_support::{assert_error, flows, ip, parse_all};

    const SME: &str = include_str!("../../fixtures/read/zeek-tsv-ctu-sme-11.conn.log");
    const NORMAL: &str = include_str!("../../fixtures/read/zeek-tsv-ctu-normal-40.conn.log");

    /// The header of the CTU-SME-11 fixture, for building test lines.
    fn header() -> String {
        SME.lines().take(8).map(|line| format!("{line}\n")).collect()
    }

    const GOOD: &str = "1676851429.981575\tCwgb6g4uF7qxeTJit6\t192.168.1.109\t34606\t\
        185.125.190.17\t80\ttcp\thttp\t0.038607\t87\t147\tSF\t-\t-\t0\tShADTdtfFa\t10\t710\t8\t\
        726\t-\tBenign\tFrom_benign-To_benign-Ubuntu";

    fn parse_after_header(line: &str) -> Result<LineOutcome, ParseError> {
        let mut parser = ZeekTsvParser::new();
        for header_line in header().lines() {
            assert_eq!(parser.parse_line(header_line), Ok(LineOutcome::Ignored));
        }
        parser.parse_line(line)
    }

    #[test]
    fn reads_every_mapped_field_of_real_records() {
        let outcomes = parse_all(&mut ZeekTsvParser::new(), SME);
        assert!(outcomes[..8].iter().all(|o| o == &Ok(LineOutcome::Ignored)));
        let flows = flows(&outcomes);
        assert_eq!(flows.len(), 7);
        let dhcp = &flows[0];
        assert_eq!(dhcp.start_micros, 1_676_851_329_767_505);
        assert_eq!((dhcp.source_ip, dhcp.source_port), (ip("192.168.1.109"), Some(68)));
        assert_eq!((dhcp.destination_ip, dhcp.destination_port), (ip("192.168.1.1"), Some(67)));
        assert_eq!(dhcp.transport.as_deref(), Some("udp"));
        assert_eq!((dhcp.bytes_sent, dhcp.bytes_received), (Some(592), Some(600)));
        assert_eq!(dhcp.direction, None);
        assert_eq!((dhcp.host_name.as_ref(), dhcp.destination_geo.as_ref()), (None, None));
        let unset = &flows[6];
        assert_eq!(unset.start_micros, 1_676_885_803_245_695);
        assert_eq!(unset.destination_ip, ip("1.1.1.1"));
        assert_eq!((unset.bytes_sent, unset.bytes_received), (None, None));
    }

    #[test]
    fn locality_flags_give_the_direction() {
        let flows = flows(&parse_all(&mut ZeekTsvParser::new(), NORMAL));
        assert_eq!(flows.len(), 8);
        let outbound = &flows[0];
        assert_eq!(outbound.start_micros, 1_655_071_198_444_458);
        assert_eq!((outbound.source_ip, outbound.source_port), (ip("147.32.81.167"), Some(62771)));
        assert_eq!(outbound.destination_ip, ip("40.74.108.123"));
        assert_eq!(outbound.destination_port, Some(443));
        assert_eq!((outbound.bytes_sent, outbound.bytes_received), (Some(1596), Some(4039)));
        assert_eq!(outbound.direction, Some(Direction::Outbound));
        assert_eq!(flows[1].direction, Some(Direction::Inbound));
        let icmp = &flows[7];
        assert_eq!(icmp.transport.as_deref(), Some("icmp"));
        assert_eq!((icmp.source_port, icmp.destination_port), (Some(8), Some(0)));
        assert_eq!((icmp.bytes_sent, icmp.direction), (Some(0), Some(Direction::Inbound)));
    }

    #[test]
    fn columns_are_found_by_name_with_any_separator() {
        let text = "#separator \\x2c\n#unset_field,-\n\
            #fields,label,id.resp_p,id.resp_h,orig_bytes,ts,id.orig_h,local_resp,local_orig\n\
            x,53,1.1.1.1,86,1676913498.704651,192.168.1.109,F,T\n";
        let flows = flows(&parse_all(&mut ZeekTsvParser::new(), text));
        assert_eq!(flows[0].start_micros, 1_676_913_498_704_651);
        assert_eq!((flows[0].destination_ip, flows[0].destination_port), (ip("1.1.1.1"), Some(53)));
        assert_eq!((flows[0].source_port, flows[0].bytes_received), (None, None));
        assert_eq!(
            (flows[0].bytes_sent, flows[0].direction),
            (Some(86), Some(Direction::Outbound))
        );
        assert_eq!(decode_escapes("\\x09"), "\t");
        assert_eq!(decode_escapes("a\\xzz"), "a\\xzz");
        // A separator of several bytes is written as the escapes of each of its bytes.
        assert_eq!(decode_escapes("\\xc2\\xa7"), "\u{a7}");
        let text = "#separator \\xc2\\xa7\n\
            #fields\u{a7}ts\u{a7}id.orig_h\u{a7}id.resp_h\u{a7}orig_bytes\n\
            1676913498.5\u{a7}192.168.1.109\u{a7}1.1.1.1\u{a7}86\n";
        let read = crate::read::test_support::flows(&parse_all(&mut ZeekTsvParser::new(), text));
        assert_eq!((read[0].destination_ip, read[0].bytes_sent), (ip("1.1.1.1"), Some(86)));
    }

    #[test]
    fn each_bad_field_is_named() {
        let bad_address = GOOD.replace("192.168.1.109", "192.168.1.999");
        assert_error(parse_after_header(&bad_address), SkipReason::BadAddress, Some("id.orig_h"));
        let bad_bytes = GOOD.replace("\t87\t", "\t8x7\t");
        let error = assert_error(
            parse_after_header(&bad_bytes),
            SkipReason::BadValue,
            Some(zeek::ORIG_BYTES),
        );
        assert_eq!(error.value.as_deref(), Some("8x7"));
        let bad_port = GOOD.replace("\t34606\t", "\t99999\t");
        assert_error(parse_after_header(&bad_port), SkipReason::BadValue, Some("id.orig_p"));
        let bad_ts = GOOD.replace("1676851429.981575", "yesterday");
        assert_error(parse_after_header(&bad_ts), SkipReason::BadTimestamp, Some("ts"));
        let unset_ts = GOOD.replace("1676851429.981575", "-");
        assert_error(parse_after_header(&unset_ts), SkipReason::MissingField, Some("ts"));
        let bad_flag = GOOD.replace("\tSF\t-\t", "\tSF\tY\t");
        assert_error(parse_after_header(&bad_flag), SkipReason::BadValue, Some("local_orig"));
        let short = GOOD.rsplit_once('\t').unwrap().0;
        let error = assert_error(parse_after_header(short), SkipReason::MalformedLine, None);
        assert!(error.message.contains("expected 23 columns"), "{}", error.message);
    }

    #[test]
    fn data_without_a_usable_header_is_refused() {
        let error = assert_error(
            ZeekTsvParser::new().parse_line(GOOD),
            SkipReason::MissingField,
            Some("#fields"),
        );
        assert!(error.message.contains("header"), "{}", error.message);
        let mut parser = ZeekTsvParser::new();
        assert_eq!(parser.parse_line("#fields\tts\tid.orig_h"), Ok(LineOutcome::Ignored));
        let result = parser.parse_line("1.0\t10.0.0.1");
        assert_error(result, SkipReason::MissingField, Some("id.resp_h"));
        let bad_separator = ZeekTsvParser::new().parse_line("#separator ");
        assert_error(bad_separator, SkipReason::BadValue, Some("#separator"));
    }
}

#[cfg(test)]
mod path_tests {
    use super::*;

    #[test]
    fn records_of_other_zeek_logs_are_not_flows() {
        let mut parser = ZeekTsvParser::new();
        let header = [
            "#separator \\x09",
            "#path\tdns",
            "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tquery",
        ];
        for line in header {
            assert_eq!(parser.parse_line(line), Ok(LineOutcome::Ignored));
        }
        let record = "1676851429.9\tCx\t192.168.1.109\t35207\t1.1.1.1\t53\tudp\texample.org";
        assert_eq!(parser.parse_line(record), Ok(LineOutcome::NotAFlow));
    }
}

#[cfg(test)]
mod missing_column_tests {
    use super::*;

    #[test]
    fn a_conn_header_without_orig_bytes_is_reported_once_and_its_flows_still_read() {
        let mut parser = ZeekTsvParser::new();
        assert_eq!(parser.parse_line("#path\tconn"), Ok(LineOutcome::Ignored));
        let error = parser.parse_line("#fields\tts\tid.orig_h\tid.resp_h").unwrap_err();
        assert_eq!(
            (error.reason, error.field.as_deref()),
            (SkipReason::MissingField, Some("orig_bytes"))
        );
        assert!(error.message.contains("no orig_bytes column"), "{}", error.message);
        let Ok(LineOutcome::Flow(flow)) = parser.parse_line("1.5\t10.0.0.1\t8.8.8.8") else {
            panic!("the data line is still a flow")
        };
        assert_eq!(flow.bytes_sent, None);
        // A dns log has no such column and needs none.
        let mut dns = ZeekTsvParser::new();
        assert_eq!(dns.parse_line("#path\tdns"), Ok(LineOutcome::Ignored));
        assert_eq!(dns.parse_line("#fields\tts\tid.orig_h\tid.resp_h"), Ok(LineOutcome::Ignored));
    }
}
