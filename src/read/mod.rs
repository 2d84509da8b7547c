//! Reading: raw input files to normalised [`Flow`]s.
//!
//! A *reader* knows one input format (one file per format in this folder) and turns one line of
//! it into a [`LineOutcome`]: a flow, a line to ignore (headers, blank lines), or a valid record
//! that is not a flow. A line it cannot read gives a [`ParseError`] naming the field and value.
//! Parsers are pure: no I/O, no clock. [`source`] does the I/O: it expands paths, globs,
//! directories and `-` (standard input), decompresses gzip, numbers lines and detects formats.

use crate::flow::Flow;
use crate::skip::SkipReason;
use std::fmt;

/// The input formats geoexfil reads (SPEC §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InputFormat {
    /// Zeek conn.log, tab-separated with `#fields` header.
    ZeekTsv,
    /// Zeek conn.log as JSON lines.
    ZeekJson,
    /// Suricata EVE JSON; only `event_type: flow` events are flows.
    SuricataEve,
    /// Elastic Common Schema NDJSON (nested objects or dotted keys).
    Ecs,
    /// Argus bidirectional flows (binetflow), comma- or tab-separated with a header line.
    Argus,
}

impl InputFormat {
    pub const ALL: [InputFormat; 5] = [
        InputFormat::ZeekTsv,
        InputFormat::ZeekJson,
        InputFormat::SuricataEve,
        InputFormat::Ecs,
        InputFormat::Argus,
    ];

    /// The name used by `--format` and in summaries.
    pub fn as_str(self) -> &'static str {
        match self {
            InputFormat::ZeekTsv => "zeek-tsv",
            InputFormat::ZeekJson => "zeek-json",
            InputFormat::SuricataEve => "suricata",
            InputFormat::Ecs => "ecs",
            InputFormat::Argus => "argus",
        }
    }

    pub fn from_name(name: &str) -> Option<InputFormat> {
        InputFormat::ALL.into_iter().find(|f| f.as_str() == name)
    }
}

impl fmt::Display for InputFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What one input line turned out to be.
// Not boxed: the flow is moved once into its batch's vector, and a box would cost an
// allocation per line.
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)]
pub enum LineOutcome {
    Flow(Flow),
    /// A header, comment or blank line: not a record, not counted anywhere.
    Ignored,
    /// A valid record of a kind that is not a flow (counted as [`SkipReason::NotAFlow`]).
    NotAFlow,
}

/// A line that could not be read, with enough detail for the user to find and fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub reason: SkipReason,
    /// The field at fault, in the input's own naming (`orig_bytes`, `flow.start`).
    pub field: Option<String>,
    /// The offending value, shortened to [`MAX_ERROR_VALUE_CHARS`].
    pub value: Option<String>,
    /// What is wrong, in lower case, with a hint when one helps.
    pub message: String,
}

/// Values quoted in error messages are cut to this many characters so that one huge bad field
/// does not flood the terminal.
pub const MAX_ERROR_VALUE_CHARS: usize = 80;

impl ParseError {
    pub fn new(reason: SkipReason, message: impl Into<String>) -> ParseError {
        ParseError { reason, field: None, value: None, message: message.into() }
    }

    pub fn field(reason: SkipReason, field: &str, value: &str, message: impl Into<String>) -> Self {
        let value: String = value.chars().take(MAX_ERROR_VALUE_CHARS).collect();
        ParseError {
            reason,
            field: Some(field.to_string()),
            value: Some(value),
            message: message.into(),
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.field, &self.value) {
            (Some(field), Some(value)) => {
                write!(f, "field `{field}`: {} (value {value:?})", self.message)
            }
            (Some(field), None) => write!(f, "field `{field}`: {}", self.message),
            _ => f.write_str(&self.message),
        }
    }
}

/// A parser for one format. It may keep state between lines (the Zeek header, the Argus
/// column order), so one parser serves one input file.
///
/// *State lines* are the lines that change that state (headers). The parallel pipeline reads
/// an input in batches of lines parsed on different threads: the thread that cuts the batches
/// feeds every state line to its own parser and hands each batch a [`fork`](Self::fork) of it,
/// so that every line is parsed as a single parser reading the whole input would parse it.
pub trait RecordParser: Send {
    fn parse_line(&mut self, line: &str) -> Result<LineOutcome, ParseError>;

    /// A copy of this parser in its current state.
    fn fork(&self) -> Box<dyn RecordParser>;

    /// True when `line` may change how later lines are parsed. Formats without headers keep
    /// the default: no line does.
    fn is_state_line(&self, _line: &[u8]) -> bool {
        false
    }
}

pub mod argus;
pub mod detect;
pub mod ecs;
pub mod json;
pub mod source;
pub mod suricata;
pub mod time;
pub mod value;
pub mod zeek;
pub mod zeek_json;
pub mod zeek_tsv;

pub use detect::{detect_format, parser_for};
pub use source::{
    content_fingerprint, expand_inputs, InputError, InputReader, InputSpec, Passed, ReadItem,
};
#[cfg(test)]
mod test_support;
