//! The I/O side of reading: which inputs to open, and turning their bytes into numbered lines
//! for a parser.
//!
//! An *input* is standard input or one file. Arguments name inputs directly, as directories
//! (all regular files below, in path order, hidden ones skipped) or as glob patterns. Each
//! input is read as a stream of *physical lines* (bytes up to `\n`), numbered from 1, whether
//! or not the line turns out to be a record. A gzip input is recognised by its magic bytes and
//! decompressed on the fly. The format is taken from `--format` or *sniffed* from the first
//! non-empty lines, which are kept and handed to the parser afterwards, so sniffing works on
//! standard input too. Memory does not grow with the input: one line buffer is reused.

use crate::read::RecordParser;
use crate::read::{detect_format, parser_for, InputFormat, LineOutcome, ParseError};
use crate::skip::SkipReason;
use flate2::read::MultiGzDecoder;
use std::collections::VecDeque;
use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// The longest line kept, in bytes. Real flow records are well under 10 KiB; a line past
/// 1 MiB means a binary file or a missing newline, and holding it would let one bad input use
/// unbounded memory. Longer lines are skipped without being buffered.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// How many non-empty lines sniffing looks at before giving up: enough to pass over a few
/// records that carry no format mark, few enough to keep the replayed lines small.
const SNIFF_NON_EMPTY_LINES: usize = 8;

/// How many physical lines sniffing reads at most, so a run of blank lines cannot make the
/// replay queue grow.
const SNIFF_PHYSICAL_LINES: usize = 64;

/// Every gzip member starts with these two bytes (RFC 1952).
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// One input to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputSpec {
    Stdin,
    File(PathBuf),
}

impl InputSpec {
    /// The name shown to users: the path, or `<stdin>` for `-`.
    pub fn display_name(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for InputSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InputSpec::Stdin => f.write_str("<stdin>"),
            InputSpec::File(path) => write!(f, "{}", path.display()),
        }
    }
}

/// Why an input could not be found or opened.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("input `{path}` does not exist; check the path or quote a glob pattern")]
    NotFound { path: String },
    #[error("glob pattern `{pattern}` matches no files")]
    NoMatch { pattern: String },
    #[error("glob pattern `{pattern}` is invalid: {message}")]
    BadPattern { pattern: String, message: String },
    #[error("directory `{path}` holds no files to read (hidden files are skipped)")]
    EmptyDirectory { path: String },
    #[error("cannot read `{path}`: {source}")]
    Io {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error("`{path}` has no lines to read, so its format cannot be detected")]
    Empty { path: String },
    #[error(
        "cannot tell the format of `{path}` from its first lines; name it with --format \
         ({choices})"
    )]
    UnknownFormat { path: String, choices: String },
    #[error(
        "cannot tell the format of `{path}`: its first lines are longer than {max_bytes} bytes, \
         the most a record may have; is it a log of one record per line?"
    )]
    LinesTooLong { path: String, max_bytes: usize },
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> InputError + '_ {
    move |source| InputError::Io { path: path.display().to_string(), source }
}

/// What a directory held that [`expand_inputs`] does not return.
#[derive(Debug, Default)]
pub struct Passed {
    /// Parts that could not be read (no permission, a dangling link, a link loop).
    pub unreadable: Vec<InputError>,
    /// Hidden files and directories (a name starting with a dot: editor swap files, `.git`).
    pub hidden: Vec<PathBuf>,
}

/// Turns command-line arguments into the inputs they name, in a stable order. What a directory
/// holds that is not returned is listed in `passed`; the rest of it is still returned.
pub fn expand_inputs(args: &[String], passed: &mut Passed) -> Result<Vec<InputSpec>, InputError> {
    let mut inputs = Vec::new();
    for arg in args {
        let path = Path::new(arg);
        if arg == "-" {
            inputs.push(InputSpec::Stdin);
        } else if path.is_dir() {
            let before = passed.unreadable.len();
            let files = files_below(path, passed)?;
            if files.is_empty() && passed.unreadable.len() == before {
                return Err(InputError::EmptyDirectory { path: arg.clone() });
            }
            inputs.extend(files.into_iter().map(InputSpec::File));
        } else if path.exists() {
            // An existing name is taken literally even if it contains glob characters.
            inputs.push(InputSpec::File(path.to_path_buf()));
        } else if arg.contains(['*', '?', '[']) {
            inputs.extend(expand_glob(arg, passed)?.into_iter().map(InputSpec::File));
        } else {
            return Err(InputError::NotFound { path: arg.clone() });
        }
    }
    Ok(inputs)
}

fn expand_glob(pattern: &str, passed: &mut Passed) -> Result<Vec<PathBuf>, InputError> {
    let options = glob::MatchOptions {
        case_sensitive: true,
        require_literal_separator: true,
        require_literal_leading_dot: true,
    };
    let matches = glob::glob_with(pattern, options).map_err(|error| InputError::BadPattern {
        pattern: pattern.to_string(),
        message: error.msg.to_string(),
    })?;
    let mut files = Vec::new();
    let before = passed.unreadable.len();
    for entry in matches {
        let path = entry.map_err(|error| InputError::Io {
            path: error.path().display().to_string(),
            source: error.into(),
        })?;
        if path.is_dir() {
            files.extend(files_below(&path, passed)?);
        } else {
            files.push(path);
        }
    }
    if files.is_empty() && passed.unreadable.len() == before {
        return Err(InputError::NoMatch { pattern: pattern.to_string() });
    }
    files.sort();
    Ok(files)
}

/// Regular files below a directory, sorted, without hidden files or hidden directories.
/// Links are followed (Zeek's `logs/current` is one), and a link that leads back up the tree
/// is reported rather than walked for ever. A part of the tree that cannot be read (no
/// permission, a dangling link, a loop) is listed in `passed` and the rest is still read.
fn files_below(dir: &Path, passed: &mut Passed) -> Result<Vec<PathBuf>, InputError> {
    let mut files = Vec::new();
    let hidden = &mut passed.hidden;
    let walk = walkdir::WalkDir::new(dir).follow_links(true).into_iter();
    let visible = walk.filter_entry(|entry| {
        let shown = entry.depth() == 0 || !entry.file_name().to_string_lossy().starts_with('.');
        if !shown {
            hidden.push(entry.path().to_path_buf());
        }
        shown
    });
    for entry in visible {
        match entry {
            Ok(entry) if entry.file_type().is_file() => files.push(entry.into_path()),
            Ok(_) => {}
            Err(error) if error.depth() == 0 => return Err(walk_error(dir, error)),
            Err(error) => passed.unreadable.push(walk_error(dir, error)),
        }
    }
    files.sort();
    Ok(files)
}

fn walk_error(dir: &Path, error: walkdir::Error) -> InputError {
    let path = error.path().unwrap_or(dir).display().to_string();
    if let Some(ancestor) = error.loop_ancestor() {
        let message = format!("link loops back to {}", ancestor.display());
        return InputError::Io { path, source: io::Error::other(message) };
    }
    let source = error.into_io_error().unwrap_or_else(|| io::Error::other("unreadable"));
    InputError::Io { path, source }
}

/// A stream that fails once with the error it was given, then ends.
struct FailingRead(Option<io::Error>);

impl Read for FailingRead {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        self.0.take().map_or(Ok(0), Err)
    }
}

/// One physical line of an input and what its parser made of it.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadItem {
    /// 1-based number of the physical line, counting blank and header lines.
    pub line: u64,
    pub result: Result<LineOutcome, ParseError>,
}

/// What reading one physical line gave.
enum RawLine {
    /// The line's bytes, without the newline, are in the buffer.
    Complete,
    /// The line exceeded [`MAX_LINE_BYTES`] and was skipped.
    TooLong,
    /// The input ended before this line started.
    End,
}

/// A line read while sniffing, kept to be parsed later.
enum Sniffed {
    Line(Vec<u8>),
    TooLong,
    Failed(io::Error),
}

/// Reads a line into `buf` (cleared first) without ever holding more than
/// [`MAX_LINE_BYTES`] of it.
fn read_raw_line(reader: &mut dyn BufRead, buf: &mut Vec<u8>) -> io::Result<RawLine> {
    buf.clear();
    append_raw_line(reader, buf)
}

/// Appends a line to `buf` without its newline. A line that is too long, or that a read error
/// cut short, leaves `buf` as it was.
fn append_raw_line(reader: &mut dyn BufRead, buf: &mut Vec<u8>) -> io::Result<RawLine> {
    let start = buf.len();
    let mut started = false;
    let mut too_long = false;
    loop {
        let chunk = match reader.fill_buf() {
            Ok(chunk) => chunk,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => {
                buf.truncate(start);
                return Err(error);
            }
        };
        if chunk.is_empty() {
            return Ok(match (started, too_long) {
                (false, _) => RawLine::End,
                (true, true) => RawLine::TooLong,
                (true, false) => RawLine::Complete,
            });
        }
        started = true;
        let newline = memchr::memchr(b'\n', chunk);
        let content = &chunk[..newline.unwrap_or(chunk.len())];
        if !too_long {
            if buf.len() - start + content.len() > MAX_LINE_BYTES {
                too_long = true;
                buf.truncate(start);
            } else {
                buf.extend_from_slice(content);
            }
        }
        let used = newline.map_or(chunk.len(), |position| position + 1);
        reader.consume(used);
        if newline.is_some() {
            return Ok(if too_long { RawLine::TooLong } else { RawLine::Complete });
        }
    }
}

/// The text of a line, without a Windows `\r`, or the error for a line that is not UTF-8.
fn line_text(bytes: &[u8]) -> Result<&str, ParseError> {
    let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
    std::str::from_utf8(bytes).map_err(|error| {
        let message = format!(
            "line is not valid utf-8 (bad byte at offset {}); convert the input to utf-8",
            error.valid_up_to()
        );
        ParseError::new(SkipReason::MalformedLine, message)
    })
}

fn too_long_error() -> ParseError {
    let message = format!("line is longer than {MAX_LINE_BYTES} bytes and was skipped");
    ParseError::new(SkipReason::LineTooLong, message)
}

fn read_failure(error: &io::Error) -> ParseError {
    let message = if error.kind() == io::ErrorKind::UnexpectedEof {
        format!("input ends in the middle of a record (truncated or incomplete gzip?): {error}")
    } else {
        format!("reading stopped: {error}")
    };
    ParseError::new(SkipReason::TruncatedInput, message)
}

/// Wraps the input in a gzip decoder when it starts with the gzip magic bytes. Not buffered
/// here: the reader adds the one buffer in front of the content.
fn maybe_decompress(mut input: Box<dyn Read + Send>) -> io::Result<Box<dyn Read + Send>> {
    let mut magic = [0u8; 2];
    let mut filled = 0;
    while filled < magic.len() {
        match input.read(&mut magic[filled..]) {
            Ok(0) => break,
            Ok(count) => filled += count,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    // The peeked bytes are put back in front, which also works for pipes.
    let joined = io::Cursor::new(magic[..filled].to_vec()).chain(input);
    if magic[..filled] == GZIP_MAGIC {
        // The decoder buffers the compressed bytes itself.
        Ok(Box::new(MultiGzDecoder::new(joined)))
    } else {
        Ok(Box::new(joined))
    }
}

/// A batch holds at most this many lines. Batches are the unit of work of the parallel
/// pipeline: large enough that handing one to a thread costs little against parsing it, small
/// enough that a few per thread in flight keep memory in the megabytes. The batches an input
/// is cut into do not depend on the number of threads, which is what makes results identical
/// at any thread count.
pub const BATCH_LINES: usize = 4096;

/// A batch is closed once its text passes this many bytes, so that long lines (JSON events)
/// make batches of a similar size in bytes to short ones.
pub const BATCH_BYTES: usize = 1 << 20;

/// Where one physical line of a [`LineBatch`] is.
#[derive(Debug, Clone, Copy)]
enum BatchLine {
    /// The line's bytes are `text[start..end]`.
    Text { start: usize, end: usize },
    /// The line exceeded [`MAX_LINE_BYTES`] and was not kept.
    TooLong,
}

/// Consecutive physical lines of one input, with a parser in the state it had before the
/// first of them, so that the batch can be parsed on any thread.
pub struct LineBatch {
    /// Number of the batch's first line, 1-based.
    first_line: u64,
    text: Vec<u8>,
    lines: Vec<BatchLine>,
    /// A read error that ended the input after these lines; it counts as one more line.
    failure: Option<ParseError>,
    parser: Box<dyn RecordParser>,
}

impl LineBatch {
    /// Physical lines in the batch, counting a read failure as one.
    pub fn line_count(&self) -> u64 {
        self.lines.len() as u64 + u64::from(self.failure.is_some())
    }

    /// Number of the batch's last line (0 for an empty batch at the start of an input).
    pub fn last_line(&self) -> u64 {
        self.first_line + self.line_count() - 1
    }

    /// Parses the lines in order, giving each line's number and outcome to `each`.
    pub fn parse(mut self, mut each: impl FnMut(u64, Result<LineOutcome, ParseError>)) {
        // Checked once for the whole batch, nearly always valid; a line of a batch that is
        // not is checked on its own, to say which line is at fault.
        let whole_text = std::str::from_utf8(&self.text).ok();
        for (index, line) in self.lines.iter().enumerate() {
            let result = match *line {
                BatchLine::Text { start, end } => {
                    // Lines are stored without their newlines, so a line cut in the middle of
                    // a character can make a valid whole with the next one: a line that does
                    // not start and end on character boundaries is checked on its own.
                    let text = match whole_text.and_then(|whole| whole.get(start..end)) {
                        Some(text) => Ok(text.strip_suffix('\r').unwrap_or(text)),
                        None => line_text(&self.text[start..end]),
                    };
                    text.and_then(|text| self.parser.parse_line(text))
                }
                BatchLine::TooLong => Err(too_long_error()),
            };
            each(self.first_line + index as u64, result);
        }
        if let Some(failure) = self.failure.take() {
            each(self.first_line + self.lines.len() as u64, Err(failure));
        }
    }
}

/// Streams the lines of one input through the parser for its format.
pub struct InputReader {
    name: String,
    format: InputFormat,
    input: Box<dyn BufRead + Send>,
    parser: Box<dyn RecordParser>,
    replay: VecDeque<Sniffed>,
    buffer: Vec<u8>,
    line: u64,
    finished: bool,
    /// The input's first [`FINGERPRINT_BYTES`] after decompression, which identify it.
    head: Vec<u8>,
    /// Bytes and lines of the last batch: the next one is made with room for as much, since
    /// growing a megabyte buffer step by step copies it several times over.
    last_batch_size: (usize, usize),
}

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Bytes of an input's decompressed content that identify it (see [`content_fingerprint`]).
/// Four kilobytes hold a Zeek header with its `#open` time, or dozens of records, enough to
/// tell two logs apart.
pub const FINGERPRINT_BYTES: usize = 4096;

/// Identifies an input by the first [`FINGERPRINT_BYTES`] of its content (`head`): a hash of
/// them and their length. The same log renamed, rotated, compressed or piped in has the same
/// fingerprint, so a state database knows how far it was read.
pub fn content_fingerprint(head: &[u8]) -> String {
    // FNV-1a: stable across versions and platforms, which a fingerprint kept in a database
    // must be; collisions need the same 4 KiB prefix, which two different logs do not share.
    let hash = head.iter().fold(0xcbf2_9ce4_8422_2325u64, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x100_0000_01b3)
    });
    format!("{hash:016x}-{}", head.len())
}

impl InputReader {
    /// Opens an input. `forced` is the `--format` choice; without it the format is sniffed.
    pub fn open(spec: &InputSpec, forced: Option<InputFormat>) -> Result<InputReader, InputError> {
        let input: Box<dyn Read + Send> = match spec {
            InputSpec::Stdin => Box::new(io::stdin()),
            InputSpec::File(path) => Box::new(File::open(path).map_err(io_error(path))?),
        };
        InputReader::from_reader(spec.display_name(), input, forced)
    }

    /// Reads from any byte stream; `name` is used in errors.
    pub fn from_reader(
        name: impl Into<String>,
        input: Box<dyn Read + Send>,
        forced: Option<InputFormat>,
    ) -> Result<InputReader, InputError> {
        let name = name.into();
        let io_failure = |source| InputError::Io { path: name.clone(), source };
        let mut content = maybe_decompress(input).map_err(io_failure)?;
        // The head is read ahead for the fingerprint and put back in front, as for a pipe.
        let mut head = Vec::with_capacity(FINGERPRINT_BYTES);
        let head_read = content.by_ref().take(FINGERPRINT_BYTES as u64).read_to_end(&mut head);
        let identity = head.clone();
        // A byte order mark (left by Windows editors and PowerShell exports) is not content.
        if head.starts_with(UTF8_BOM) {
            head.drain(..UTF8_BOM.len());
        }
        let rest: Box<dyn Read + Send> = match head_read {
            Ok(_) => content,
            // A read error at the start (a damaged gzip stream) is met again when reading.
            Err(error) => Box::new(FailingRead(Some(error))),
        };
        let mut input: Box<dyn BufRead + Send> =
            Box::new(BufReader::new(io::Cursor::new(head).chain(rest)));
        let mut buffer = Vec::new();
        let (replay, sniffed) = match forced {
            Some(format) => (VecDeque::new(), Some(format)),
            None => sniff(input.as_mut(), &mut buffer),
        };
        let format = match sniffed {
            Some(format) => format,
            None => return Err(undetected(name, replay)),
        };
        Ok(InputReader {
            name,
            format,
            input,
            parser: parser_for(format),
            replay,
            buffer,
            line: 0,
            finished: false,
            head: identity,
            last_batch_size: (0, 0),
        })
    }

    /// The input's first [`FINGERPRINT_BYTES`] after decompression.
    pub fn head(&self) -> &[u8] {
        &self.head
    }

    /// The input's [`content_fingerprint`].
    pub fn fingerprint(&self) -> String {
        content_fingerprint(&self.head)
    }

    pub fn format(&self) -> InputFormat {
        self.format
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The next physical line and its outcome; `None` at the end of the input or after a
    /// read error has been reported.
    pub fn next_item(&mut self) -> Option<ReadItem> {
        if self.finished {
            return None;
        }
        let result = match self.replay.pop_front() {
            Some(Sniffed::Line(bytes)) => line_text(&bytes).and_then(|t| self.parser.parse_line(t)),
            Some(Sniffed::TooLong) => Err(too_long_error()),
            Some(Sniffed::Failed(error)) => {
                self.finished = true;
                Err(read_failure(&error))
            }
            None => match read_raw_line(self.input.as_mut(), &mut self.buffer) {
                Ok(RawLine::Complete) => {
                    line_text(&self.buffer).and_then(|text| self.parser.parse_line(text))
                }
                Ok(RawLine::TooLong) => Err(too_long_error()),
                Ok(RawLine::End) => {
                    self.finished = true;
                    return None;
                }
                Err(error) => {
                    self.finished = true;
                    Err(read_failure(&error))
                }
            },
        };
        self.line += 1;
        Some(ReadItem { line: self.line, result })
    }
}

impl InputReader {
    /// Reads the first `count` lines without handing them out, as for lines an earlier run
    /// processed; headers among them still set the parser up. Returns the lines skipped.
    pub fn skip_lines(&mut self, count: u64) -> u64 {
        let mut skipped = 0;
        while skipped < count && !self.finished {
            match self.replay.pop_front() {
                Some(Sniffed::Line(bytes)) => self.feed_state_line(&bytes),
                Some(Sniffed::TooLong) => {}
                Some(Sniffed::Failed(_)) => {
                    self.finished = true;
                }
                None => match read_raw_line(self.input.as_mut(), &mut self.buffer) {
                    Ok(RawLine::Complete) => {
                        let line = std::mem::take(&mut self.buffer);
                        self.feed_state_line(&line);
                        self.buffer = line;
                    }
                    Ok(RawLine::TooLong) => {}
                    Ok(RawLine::End) | Err(_) => {
                        self.finished = true;
                        continue;
                    }
                },
            }
            skipped += 1;
            self.line += 1;
        }
        skipped
    }

    /// Lets this reader's parser see a header, so that the parsers it forks for later batches
    /// know it.
    fn feed_state_line(&mut self, bytes: &[u8]) {
        if self.parser.is_state_line(bytes) {
            if let Ok(text) = line_text(bytes) {
                // The outcome is reported when the batch holding the line is parsed.
                let _ = self.parser.parse_line(text);
            }
        }
    }

    /// The next batch of at most [`BATCH_LINES`] lines, or `None` at the end of the input.
    pub fn next_batch(&mut self) -> Option<LineBatch> {
        if self.finished {
            return None;
        }
        let (last_bytes, last_lines) = self.last_batch_size;
        let mut batch = LineBatch {
            first_line: self.line + 1,
            text: Vec::with_capacity(last_bytes + last_bytes / 8),
            lines: Vec::with_capacity(last_lines),
            failure: None,
            parser: self.parser.fork(),
        };
        while batch.lines.len() < BATCH_LINES && batch.text.len() < BATCH_BYTES {
            let start = batch.text.len();
            let outcome = match self.replay.pop_front() {
                Some(Sniffed::Line(bytes)) => {
                    batch.text.extend_from_slice(&bytes);
                    Ok(RawLine::Complete)
                }
                Some(Sniffed::TooLong) => Ok(RawLine::TooLong),
                Some(Sniffed::Failed(error)) => Err(error),
                None => append_raw_line(self.input.as_mut(), &mut batch.text),
            };
            match outcome {
                Ok(RawLine::Complete) => {
                    let end = batch.text.len();
                    if self.parser.is_state_line(&batch.text[start..end]) {
                        let line = batch.text[start..end].to_vec();
                        self.feed_state_line(&line);
                    }
                    batch.lines.push(BatchLine::Text { start, end });
                }
                Ok(RawLine::TooLong) => batch.lines.push(BatchLine::TooLong),
                Ok(RawLine::End) => {
                    self.finished = true;
                    break;
                }
                Err(error) => {
                    self.finished = true;
                    batch.failure = Some(read_failure(&error));
                    break;
                }
            }
        }
        self.line += batch.line_count();
        self.last_batch_size = (batch.text.len(), batch.lines.len());
        (batch.line_count() > 0).then_some(batch)
    }
}

impl Iterator for InputReader {
    type Item = ReadItem;

    fn next(&mut self) -> Option<ReadItem> {
        self.next_item()
    }
}

/// Reads lines until one shows the format, keeping them all for replay.
fn sniff(
    input: &mut dyn BufRead,
    buffer: &mut Vec<u8>,
) -> (VecDeque<Sniffed>, Option<InputFormat>) {
    let mut replay = VecDeque::new();
    let mut non_empty = 0;
    while replay.len() < SNIFF_PHYSICAL_LINES && non_empty < SNIFF_NON_EMPTY_LINES {
        match read_raw_line(input, buffer) {
            Ok(RawLine::Complete) => {
                let text = line_text(buffer).ok().filter(|text| !text.trim().is_empty());
                let detected = text.and_then(|text| detect_format(&[text]));
                non_empty += usize::from(text.is_some());
                replay.push_back(Sniffed::Line(buffer.clone()));
                if detected.is_some() {
                    return (replay, detected);
                }
            }
            Ok(RawLine::TooLong) => replay.push_back(Sniffed::TooLong),
            Ok(RawLine::End) => break,
            Err(error) => {
                replay.push_back(Sniffed::Failed(error));
                break;
            }
        }
    }
    (replay, None)
}

/// The error for an input whose format could not be sniffed, most specific cause first.
fn undetected(name: String, mut replay: VecDeque<Sniffed>) -> InputError {
    if matches!(replay.back(), Some(Sniffed::Failed(_))) {
        if let Some(Sniffed::Failed(source)) = replay.pop_back() {
            return InputError::Io { path: name, source };
        }
    }
    let has_lines = replay.iter().any(|sniffed| match sniffed {
        Sniffed::Line(bytes) => !bytes.trim_ascii().is_empty(),
        Sniffed::TooLong | Sniffed::Failed(_) => true,
    });
    if !has_lines {
        return InputError::Empty { path: name };
    }
    let only_too_long = replay.iter().all(|sniffed| match sniffed {
        Sniffed::Line(bytes) => bytes.trim_ascii().is_empty(),
        Sniffed::TooLong | Sniffed::Failed(_) => true,
    });
    if only_too_long {
        return InputError::LinesTooLong { path: name, max_bytes: MAX_LINE_BYTES };
    }
    let choices: Vec<&str> = InputFormat::ALL.iter().map(|format| format.as_str()).collect();
    InputError::UnknownFormat { path: name, choices: choices.join(", ") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::GzEncoder;
    use flate2::Compression;
    use std::fs;
    use std::io::Write;

    const ZEEK_JSON: &str = include_str!("../../fixtures/read/zeek-json-conn.log");
    const ZEEK_TSV: &str = include_str!("../../fixtures/read/zeek-tsv-ctu-sme-11.conn.log");

    fn reader(bytes: Vec<u8>, forced: Option<InputFormat>) -> Result<InputReader, InputError> {
        InputReader::from_reader("test-input", Box::new(io::Cursor::new(bytes)), forced)
    }

    fn items(bytes: Vec<u8>) -> Vec<ReadItem> {
        reader(bytes, None).unwrap().collect()
    }

    fn gzip(text: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(text).unwrap();
        encoder.finish().unwrap()
    }

    fn reason(item: &ReadItem) -> Option<SkipReason> {
        item.result.as_ref().err().map(|error| error.reason)
    }

    #[test]
    fn numbers_every_physical_line_and_detects_the_format() {
        let text = format!("\n{}", ZEEK_TSV.replace('\n', "\r\n"));
        let input = reader(text.into_bytes(), None).unwrap();
        assert_eq!((input.format(), input.name()), (InputFormat::ZeekTsv, "test-input"));
        let items: Vec<ReadItem> = input.collect();
        assert_eq!(items.len(), 16);
        assert_eq!(
            items.iter().map(|item| item.line).collect::<Vec<_>>(),
            (1..=16).collect::<Vec<_>>()
        );
        assert!(items[..9].iter().all(|item| item.result == Ok(LineOutcome::Ignored)));
        assert!(items[9..].iter().all(|item| matches!(item.result, Ok(LineOutcome::Flow(_)))));
    }

    #[test]
    fn a_byte_order_mark_is_not_part_of_the_first_line() {
        let mut text = b"\xEF\xBB\xBF".to_vec();
        text.extend_from_slice(ZEEK_JSON.as_bytes());
        let read = items(text);
        assert!(matches!(read[0].result, Ok(LineOutcome::Flow(_))), "{:?}", read[0]);
        assert_eq!(read.len(), items(ZEEK_JSON.as_bytes().to_vec()).len());
    }

    #[test]
    fn gzip_is_recognised_by_content_even_in_several_members() {
        let plain = items(ZEEK_JSON.as_bytes().to_vec());
        let (first, second) = ZEEK_JSON.split_at(ZEEK_JSON.find("\n{").unwrap() + 1);
        let mut members = gzip(first.as_bytes());
        members.extend(gzip(second.as_bytes()));
        let input = reader(members, None).unwrap();
        assert_eq!(input.format(), InputFormat::ZeekJson);
        assert_eq!(input.collect::<Vec<_>>(), plain);
    }

    #[test]
    fn truncated_gzip_reports_once_then_ends() {
        let compressed = gzip(ZEEK_JSON.as_bytes());
        let cut = compressed[..compressed.len() * 2 / 3].to_vec();
        let items = items(cut);
        let last = items.last().unwrap();
        assert_eq!(reason(last), Some(SkipReason::TruncatedInput));
        assert!(last.result.as_ref().unwrap_err().message.contains("truncated"));
        assert!(items[..items.len() - 1].iter().all(|item| item.result.is_ok()));
        assert_eq!(last.line, items.len() as u64);
    }

    #[test]
    fn long_lines_and_bad_utf8_are_reported_and_reading_goes_on() {
        let mut text = ZEEK_JSON.lines().next().unwrap().as_bytes().to_vec();
        text.extend(b"\n{\"ts\":\"");
        text.extend(std::iter::repeat_n(b'x', MAX_LINE_BYTES + 10));
        text.extend(b"\"}\n{\"ts\":1,\"note\":\"caf\xe9\"}\n");
        text.extend(ZEEK_JSON.lines().nth(1).unwrap().as_bytes());
        let items = items(text);
        assert_eq!(items.len(), 4);
        assert!(matches!(items[0].result, Ok(LineOutcome::Flow(_))));
        assert_eq!((items[1].line, reason(&items[1])), (2, Some(SkipReason::LineTooLong)));
        assert_eq!((items[2].line, reason(&items[2])), (3, Some(SkipReason::MalformedLine)));
        assert!(items[2].result.as_ref().unwrap_err().message.contains("utf-8"));
        assert!(matches!(items[3].result, Ok(LineOutcome::Flow(_))));
    }

    #[test]
    fn a_character_cut_across_two_lines_of_a_batch_fails_both() {
        // The two halves of `é` end one line and start the next: valid together, not apart.
        let mut text = ZEEK_JSON.lines().next().unwrap().as_bytes().to_vec();
        text.extend(b"\n{\"ts\":1,\"note\":\"caf\xc3\n\xa9\"}\n");
        text.extend(ZEEK_JSON.lines().nth(1).unwrap().as_bytes());
        let mut reader = reader(text, None).unwrap();
        let mut outcomes = Vec::new();
        while let Some(batch) = reader.next_batch() {
            batch.parse(|line, result| outcomes.push((line, result)));
        }
        assert_eq!(outcomes.len(), 4);
        assert!(matches!(outcomes[0].1, Ok(LineOutcome::Flow(_))));
        for (line, result) in &outcomes[1..3] {
            let error = result.as_ref().unwrap_err();
            assert!(error.message.contains("not valid utf-8"), "line {line}: {error}");
        }
        assert!(matches!(outcomes[3].1, Ok(LineOutcome::Flow(_))));
    }

    #[test]
    fn a_long_first_line_is_replayed_after_sniffing() {
        let mut text = vec![b'y'; MAX_LINE_BYTES + 1];
        text.extend(format!("\n{ZEEK_JSON}").as_bytes());
        let items = items(text);
        assert_eq!(reason(&items[0]), Some(SkipReason::LineTooLong));
        assert_eq!(items.len(), 9);
    }

    #[test]
    fn undetectable_input_names_the_choices() {
        let error = reader(b"a,b\n1,2\n".to_vec(), None).err().unwrap();
        let message = error.to_string();
        assert!(message.contains("test-input") && message.contains("--format"), "{message}");
        assert!(message.contains("zeek-tsv, zeek-json, suricata, ecs, argus"), "{message}");
        assert!(matches!(reader(b"\n\n".to_vec(), None), Err(InputError::Empty { .. })));
        let forced = reader(b"a,b\n".to_vec(), Some(InputFormat::Argus)).unwrap();
        assert_eq!(forced.format(), InputFormat::Argus);
    }

    #[test]
    fn expands_dirs_globs_and_stdin_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("sub")).unwrap();
        fs::create_dir_all(root.join(".git")).unwrap();
        for name in ["b.log", "a.log", ".hidden.log", "sub/c.log", ".git/d.log", "e.json"] {
            fs::write(root.join(name), ZEEK_JSON).unwrap();
        }
        let arg = |path: &Path| path.display().to_string();
        let from_dir = expand_inputs(&[arg(root)], &mut Passed::default()).unwrap();
        let expected: Vec<InputSpec> = ["a.log", "b.log", "e.json", "sub/c.log"]
            .iter()
            .map(|name| InputSpec::File(root.join(name)))
            .collect();
        assert_eq!(from_dir, expected);
        let from_glob =
            expand_inputs(&["-".to_string(), arg(&root.join("*.log"))], &mut Passed::default())
                .unwrap();
        assert_eq!(from_glob[0], InputSpec::Stdin);
        assert_eq!(from_glob[0].display_name(), "<stdin>");
        assert_eq!(from_glob[1..], expected[..2]);
        let missing = arg(&root.join("nope.log"));
        let error =
            expand_inputs(std::slice::from_ref(&missing), &mut Passed::default()).unwrap_err();
        assert!(error.to_string().contains(&missing), "{error}");
        let no_match =
            expand_inputs(&[arg(&root.join("*.gz"))], &mut Passed::default()).unwrap_err();
        assert!(matches!(no_match, InputError::NoMatch { .. }), "{no_match}");
        let opened = InputReader::open(&expected[0], None).unwrap();
        assert_eq!(opened.name(), arg(&root.join("a.log")));
        assert_eq!(
            opened.filter(|item| matches!(item.result, Ok(LineOutcome::Flow(_)))).count(),
            8
        );
    }
}

#[cfg(test)]
mod regression_tests {
    use super::*;

    #[test]
    fn linked_directories_are_followed_and_what_cannot_be_read_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("logs/2026-12-01")).unwrap();
        std::fs::write(root.join("logs/2026-12-01/conn.log"), "x").unwrap();
        std::fs::write(root.join("logs/top.log"), "x").unwrap();
        // Zeek's `current` link, a dangling link and a link back up the tree.
        std::os::unix::fs::symlink(root.join("logs/2026-12-01"), root.join("logs/current"))
            .unwrap();
        std::os::unix::fs::symlink(root.join("gone"), root.join("logs/dangling.log")).unwrap();
        std::os::unix::fs::symlink(root.join("logs"), root.join("logs/2026-12-01/up")).unwrap();
        std::fs::write(root.join("logs/.conn.log.swp"), "x").unwrap();
        let mut passed = Passed::default();
        let logs = root.join("logs").display().to_string();
        let found = expand_inputs(&[logs], &mut passed).unwrap();
        let names: Vec<String> = found
            .iter()
            .map(|spec| spec.display_name().trim_start_matches(&*root.display().to_string()).into())
            .collect();
        assert_eq!(names, ["/logs/2026-12-01/conn.log", "/logs/current/conn.log", "/logs/top.log"]);
        assert_eq!(passed.hidden, [root.join("logs/.conn.log.swp")]);
        let mut problems: Vec<String> = passed.unreadable.iter().map(|e| e.to_string()).collect();
        problems.sort();
        // The loop is met through the directory and through the link to it.
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].contains("logs/2026-12-01/up`: link loops back to"));
        assert!(problems[1].contains("logs/current/up`: link loops back to"));
        assert!(problems[2].contains("logs/dangling.log`: No such file"), "{problems:?}");
    }

    #[test]
    fn a_single_line_of_another_kind_is_an_unknown_format_not_an_empty_input() {
        let input: Box<dyn Read + Send> =
            Box::new(io::Cursor::new(b"this is not a log\n".to_vec()));
        match InputReader::from_reader("notes.txt", input, None) {
            Err(InputError::UnknownFormat { path, .. }) => assert_eq!(path, "notes.txt"),
            Err(other) => panic!("wrong error: {other}"),
            Ok(_) => panic!("a sentence is not a log"),
        }
        let mut huge = vec![b'{'; MAX_LINE_BYTES + 10];
        huge.extend_from_slice(b"\n\n");
        match InputReader::from_reader("one.ndjson", Box::new(io::Cursor::new(huge)), None) {
            Err(error @ InputError::LinesTooLong { .. }) => {
                assert!(error.to_string().contains("longer than 1048576 bytes"), "{error}");
            }
            Err(other) => panic!("wrong error: {other}"),
            Ok(_) => panic!("no line could be read"),
        }
    }
}
