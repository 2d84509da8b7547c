//! Timestamps as the formats write them, turned into [`EpochMicros`].
//!
//! An *epoch timestamp* is a decimal count of seconds since 1970-01-01 UTC with an optional
//! fraction (`1676851329.767505`, Zeek `ts`). An *ISO timestamp* is an ISO 8601 date and time
//! with a UTC offset (`2021-06-06T15:59:46.457984+0200`, `+02:00` or `Z`). A *naive
//! timestamp* has no offset at all (Argus `StartTime`); the caller says how to read it.

use crate::flow::{EpochMicros, MICROS_PER_SEC};
use crate::read::ParseError;
use crate::skip::SkipReason;
use chrono::format::{Item, Parsed, StrftimeItems};
use chrono::{DateTime, FixedOffset, NaiveDateTime};
use std::sync::LazyLock;

/// Digits of a fraction of a second that fit in microseconds; finer digits are dropped, since
/// no sensor we read is more precise than that.
const MICRO_DIGITS: usize = 6;

/// Reads decimal epoch seconds exactly, without passing through a float, so that
/// `1676851329.767505` gives `1676851329767505` and not a neighbour one microsecond away.
pub fn epoch_seconds_to_micros(text: &str) -> Option<EpochMicros> {
    decimal_to_micros(text, MICROS_PER_SEC, MICRO_DIGITS)
        .or_else(|| scientific_to_micros(text, MICROS_PER_SEC))
}

/// Reads seconds written as a plain decimal, digits with at most six places after the point
/// (`3.766036`, `12`), exactly; `None` for anything else (signs, exponents, finer fractions),
/// which the caller reads its own way.
pub fn plain_seconds_to_micros(text: &str) -> Option<EpochMicros> {
    let places = memchr::memchr(b'.', text.as_bytes()).map_or(0, |dot| text.len() - dot - 1);
    let starts_with_digit = text.as_bytes().first().is_some_and(u8::is_ascii_digit);
    if !starts_with_digit || places > MICRO_DIGITS {
        return None;
    }
    decimal_to_micros(text, MICROS_PER_SEC, MICRO_DIGITS)
}

/// Reads decimal epoch milliseconds exactly (Elasticsearch's numeric dates).
pub fn epoch_millis_to_micros(text: &str) -> Option<EpochMicros> {
    const MICROS_PER_MILLI: i64 = 1_000;
    decimal_to_micros(text, MICROS_PER_MILLI, 3)
        .or_else(|| scientific_to_micros(text, MICROS_PER_MILLI))
}

/// A decimal count of units of `unit_micros` microseconds, its fraction read to
/// `fraction_digits` places (to the microsecond).
fn decimal_to_micros(text: &str, unit_micros: i64, fraction_digits: usize) -> Option<i64> {
    // One pass over the bytes: every Zeek line has a timestamp and a duration to read.
    let bytes = crate::read::value::trim(text).as_bytes();
    let (negative, unsigned) = match bytes.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, bytes),
    };
    let whole_digits = unsigned.iter().take_while(|b| b.is_ascii_digit()).count();
    let mut whole_units: i64 = 0;
    for &digit in &unsigned[..whole_digits] {
        whole_units = whole_units.checked_mul(10)?.checked_add(i64::from(digit - b'0'))?;
    }
    let fraction = match &unsigned[whole_digits..] {
        [] => &[][..],
        [b'.', fraction @ ..] => fraction,
        _ => return None,
    };
    if (whole_digits == 0 && fraction.is_empty()) || !fraction.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut fraction_micros: i64 = 0;
    for position in 0..fraction_digits {
        let digit = fraction.get(position).map_or(0, |b| i64::from(b - b'0'));
        fraction_micros = fraction_micros * 10 + digit;
    }
    let micros = whole_units.checked_mul(unit_micros)?.checked_add(fraction_micros)?;
    Some(if negative { -micros } else { micros })
}

/// Exponent notation only shows up when a JSON writer formats a float that way; a float has
/// enough precision for it to be read to the nearest microsecond.
fn scientific_to_micros(text: &str, unit_micros: i64) -> Option<EpochMicros> {
    if !text.contains(['e', 'E']) {
        return None;
    }
    let units: f64 = text.trim().parse().ok()?;
    let micros = (units * unit_micros as f64).round();
    // The bounds keep the cast below from saturating silently.
    if micros.is_finite() && micros.abs() < i64::MAX as f64 {
        Some(micros as i64)
    } else {
        None
    }
}

/// Reads an ISO 8601 timestamp that carries a UTC offset. A timestamp without an offset is
/// refused: guessing the zone would shift every bucket by hours without anyone noticing.
pub fn iso8601_to_micros(text: &str) -> Option<EpochMicros> {
    let text = text.trim();
    DateTime::parse_from_rfc3339(text)
        .ok()
        .or_else(|| with_offset(text, &WITH_T))
        .or_else(|| with_offset(text, &WITH_SPACE))
        .map(|time| time.timestamp_micros())
}

/// The two formats with an offset that RFC 3339 does not cover (`+0000`, Suricata's), as
/// `chrono` items read once: taking a format string apart costs more than the parse itself,
/// and Suricata writes two such timestamps per flow.
static WITH_T: LazyLock<Vec<Item<'static>>> =
    LazyLock::new(|| StrftimeItems::new("%Y-%m-%dT%H:%M:%S%.f%z").collect());
static WITH_SPACE: LazyLock<Vec<Item<'static>>> =
    LazyLock::new(|| StrftimeItems::new("%Y-%m-%d %H:%M:%S%.f%z").collect());

/// What `DateTime::parse_from_str` does with the format already taken apart.
fn with_offset(text: &str, items: &[Item<'static>]) -> Option<DateTime<FixedOffset>> {
    let mut parsed = Parsed::new();
    chrono::format::parse(&mut parsed, text, items.iter()).ok()?;
    parsed.to_datetime().ok()
}

/// Reads a timestamp without an offset in the given `chrono` format, as UTC.
pub fn naive_utc_to_micros(text: &str, format: &str) -> Option<EpochMicros> {
    NaiveDateTime::parse_from_str(text.trim(), format)
        .ok()
        .map(|time| time.and_utc().timestamp_micros())
}

/// Reads either an epoch timestamp or an ISO timestamp, for fields that hold one or the other
/// depending on how the sensor was configured (Zeek JSON `ts`).
pub fn any_to_micros(text: &str) -> Option<EpochMicros> {
    epoch_seconds_to_micros(text).or_else(|| iso8601_to_micros(text))
}

/// The error for a timestamp field that did not parse, with the accepted shapes as a hint.
pub fn bad_timestamp(field: &str, value: &str) -> ParseError {
    let message = if looks_like_iso_without_offset(value) {
        "timestamp has no utc offset; add `Z` or `+hh:mm` so that its zone is known"
    } else {
        "not a timestamp; expected epoch seconds (1676851329.767505) or iso 8601 with offset \
         (2021-06-06T15:59:46.457984+02:00)"
    };
    ParseError::field(SkipReason::BadTimestamp, field, value, message)
}

fn looks_like_iso_without_offset(value: &str) -> bool {
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
        .iter()
        .any(|format| naive_utc_to_micros(value, format).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_seconds_are_exact_to_the_microsecond() {
        assert_eq!(epoch_seconds_to_micros("1676851329.767505"), Some(1_676_851_329_767_505));
        assert_eq!(epoch_seconds_to_micros("22.335172"), Some(22_335_172));
        assert_eq!(epoch_seconds_to_micros("22.3"), Some(22_300_000));
        assert_eq!(epoch_seconds_to_micros("22"), Some(22_000_000));
        assert_eq!(epoch_seconds_to_micros("1.12345678"), Some(1_123_456));
        assert_eq!(epoch_seconds_to_micros("-1.5"), Some(-1_500_000));
        assert_eq!(epoch_seconds_to_micros("1.6768513297675e9"), Some(1_676_851_329_767_500));
        assert_eq!(epoch_seconds_to_micros(" +7. "), Some(7_000_000));
        assert_eq!(epoch_seconds_to_micros(".25"), Some(250_000));
        for bad in ["", ".", "abc", "1.2.3", "1,5", "nan", "inf", "99999999999999999999"]
            .into_iter()
            .chain(["-", "+", "-+5", "+-5", "5-", "1.5x", "1. 5", "\u{e9}"])
        {
            assert_eq!(epoch_seconds_to_micros(bad), None, "{bad}");
        }
    }

    #[test]
    fn formats_read_once_parse_as_chrono_parses_the_format_string() {
        let texts = [
            "2024-01-01T00:00:30.278384+0000",
            "2024-01-01 00:00:30.278384-0530",
            "2024-01-01T00:00:30+0100",
            "2024-01-01T00:00:30.1+00:00",
            "2024-02-30T00:00:30+0000",
            "2024-01-01T00:00:30",
            "2024-01-01T25:00:30+0000",
            "x",
        ];
        for text in texts {
            for (items, format) in
                [(&WITH_T, "%Y-%m-%dT%H:%M:%S%.f%z"), (&WITH_SPACE, "%Y-%m-%d %H:%M:%S%.f%z")]
            {
                let expected = DateTime::parse_from_str(text, format).ok();
                assert_eq!(with_offset(text, items), expected, "{text} as {format}");
            }
        }
    }

    #[test]
    fn iso_timestamps_need_an_offset() {
        let expected = Some(1_622_987_986_457_984);
        assert_eq!(iso8601_to_micros("2021-06-06T15:59:46.457984+0200"), expected);
        assert_eq!(iso8601_to_micros("2021-06-06T15:59:46.457984+02:00"), expected);
        assert_eq!(iso8601_to_micros("2021-06-06T13:59:46.457984Z"), expected);
        assert_eq!(iso8601_to_micros("2021-06-06 13:59:46.457984Z"), expected);
        assert_eq!(iso8601_to_micros("2021-06-06T13:59:46Z"), Some(1_622_987_986_000_000));
        assert_eq!(iso8601_to_micros("2021-06-06T13:59:46.457984"), None);
        let error = bad_timestamp("ts", "2021-06-06T13:59:46.457984");
        assert_eq!(error.reason, SkipReason::BadTimestamp);
        assert!(error.message.contains("no utc offset"), "{}", error.message);
    }

    #[test]
    fn naive_timestamps_are_read_as_utc() {
        let micros = naive_utc_to_micros("2019/04/04 16:23:00.325010", "%Y/%m/%d %H:%M:%S%.f");
        assert_eq!(micros, Some(1_554_394_980_325_010));
    }
}
