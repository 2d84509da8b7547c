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
use crate::read::value::{missing, parse_count, parse_flag, parse_ip, parse_port, transport_name};
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
#[derive(Debug, Clone)]
struct Columns {
    count: usize,
    ts: usize,
    orig_h: usize,
    resp_h: usize,
    orig_p: Option<usize>,
    resp_p: Option<usize>,
    proto: Option<usize>,
    orig_bytes: Option<usize>,
    resp_bytes: Option<usize>,
    local_orig: Option<usize>,
    local_resp: Option<usize>,
}

impl Columns {
    /// A `#fields` list without a required column makes every later data line fail with the
    /// same error, so the error is built once here.
    fn from_names(names: &[&str]) -> Result<Columns, ParseError> {
        let find = |name: &str| names.iter().position(|column| *column == name);
        let require = |name: &str| {
            find(name).ok_or_else(|| {
                let message = format!("the `#fields` header has no `{name}` column");
                ParseError { message, ..missing(name) }
            })
        };
        Ok(Columns {
            count: names.len(),
            ts: require(zeek::TS)?,
            orig_h: require(zeek::ORIG_H)?,
            resp_h: require(zeek::RESP_H)?,
            orig_p: find(zeek::ORIG_P),
            resp_p: find(zeek::RESP_P),
            proto: find(zeek::PROTO),
            orig_bytes: find(zeek::ORIG_BYTES),
            resp_bytes: find(zeek::RESP_BYTES),
            local_orig: find(zeek::LOCAL_ORIG),
            local_resp: find(zeek::LOCAL_RESP),
        })
    }
}

/// Reads one Zeek TSV file; it remembers the header it has seen.
#[derive(Debug, Default)]
pub struct ZeekTsvParser {
    markers: Markers,
    columns: Option<Result<Columns, ParseError>>,
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
            "#fields" => {
                let names: Vec<&str> = parts.collect();
                self.columns = Some(Columns::from_names(&names));
            }
            _ => {}
        }
        Ok(LineOutcome::Ignored)
    }

    /// The value of a column, or `None` when Zeek marked it unset or empty.
    fn value<'a>(&self, values: &[&'a str], column: Option<usize>) -> Option<&'a str> {
        let value = values[column?];
        let markers = &self.markers;
        (value != markers.unset_field && value != markers.empty_field).then_some(value)
    }

    fn read_data(&self, line: &str) -> Result<LineOutcome, ParseError> {
        let columns = match &self.columns {
            Some(Ok(columns)) => columns,
            Some(Err(error)) => return Err(error.clone()),
            None => {
                let message = "data line before the `#fields` header; zeek tsv needs its \
                               header lines (do not strip `#` lines, or use zeek's json output)";
                return Err(ParseError { message: message.to_string(), ..missing("#fields") });
            }
        };
        let values: Vec<&str> = line.split(self.markers.separator.as_str()).collect();
        if values.len() != columns.count {
            let message = format!(
                "expected {} columns as named by `#fields`, found {}",
                columns.count,
                values.len()
            );
            return Err(ParseError::new(SkipReason::MalformedLine, message));
        }
        let text = |column: usize| self.value(&values, Some(column));
        let optional = |column| self.value(&values, column);
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
        Ok(LineOutcome::Flow(Box::new(conn.into_flow())))
    }
}

impl RecordParser for ZeekTsvParser {
    fn parse_line(&mut self, line: &str) -> Result<LineOutcome, ParseError> {
        if line.trim().is_empty() {
            Ok(LineOutcome::Ignored)
        } else if line.starts_with('#') {
            self.read_header(line)
        } else {
            self.read_data(line)
        }
    }
}

/// Decodes Zeek's `\xHH` escapes; any other text is kept as written.
fn decode_escapes(text: &str) -> String {
    let mut decoded = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("\\x") {
        decoded.push_str(&rest[..start]);
        let hex = rest.get(start + 2..start + 4);
        match hex.and_then(|hex| u8::from_str_radix(hex, 16).ok()) {
            Some(byte) => {
                decoded.push(char::from(byte));
                rest = &rest[start + 4..];
            }
            None => {
                decoded.push_str("\\x");
                rest = &rest[start + 2..];
            }
        }
    }
    decoded.push_str(rest);
    decoded
}
