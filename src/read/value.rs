//! Single field values shared by every format: addresses, ports, byte counts, flags.
//!
//! A *field* is one named value of a record in the input's own naming (`id.orig_h`,
//! `SrcBytes`, `source.port`). Each helper takes the field name so that its error says which
//! field held the bad value.

use crate::read::ParseError;
use crate::skip::SkipReason;
use std::borrow::Cow;
use std::net::IpAddr;

/// `str::trim`, answered from the first and last bytes when neither can be part of white
/// space, which is nearly always: values are read several times per line, and the general
/// trim decodes a character at each end to find out.
pub fn trim(text: &str) -> &str {
    let plain = |byte: u8| byte.is_ascii() && !byte.is_ascii_whitespace() && byte != 0x0b;
    match text.as_bytes() {
        [first, .., last] if plain(*first) && plain(*last) => text,
        [only] if plain(*only) => text,
        _ => text.trim(),
    }
}

/// Reads an IPv4 or IPv6 address.
pub fn parse_ip(field: &str, text: &str) -> Result<IpAddr, ParseError> {
    trim(text).parse().map_err(|_| {
        let message = "not an ip address; expected dotted ipv4 (192.0.2.1) or ipv6 (2001:db8::1)";
        ParseError::field(SkipReason::BadAddress, field, text, message)
    })
}

/// Reads a non-negative count such as a byte total.
pub fn parse_count(field: &str, text: &str) -> Result<u64, ParseError> {
    trim(text).parse().map_err(|error: std::num::ParseIntError| {
        let message = match error.kind() {
            std::num::IntErrorKind::PosOverflow => "too large for any count (above 2^64 - 1)",
            _ => "not a whole non-negative number",
        };
        ParseError::field(SkipReason::BadValue, field, text, message)
    })
}

#[cfg(test)]
mod count_tests {
    #[test]
    fn a_count_too_large_says_so() {
        let error = super::parse_count("orig_bytes", "99999999999999999999999").unwrap_err();
        assert_eq!(error.message, "too large for any count (above 2^64 - 1)");
        let error = super::parse_count("orig_bytes", "-5").unwrap_err();
        assert_eq!(error.message, "not a whole non-negative number");
        assert_eq!(super::parse_count("orig_bytes", " 42 "), Ok(42));
    }
}

/// Reads a duration in seconds (decimal fraction allowed) as microseconds.
pub fn parse_duration_micros(field: &str, text: &str) -> Result<i64, ParseError> {
    let trimmed = trim(text);
    // Sensors write plain decimals with at most six places (Zeek `3.766036`), which are read
    // exactly; through a float they come out the same, only slower.
    if let Some(micros) = crate::read::time::plain_seconds_to_micros(trimmed) {
        if micros < MAX_DURATION_MICROS {
            return Ok(micros);
        }
    }
    match trimmed.parse::<f64>() {
        Ok(secs) if secs.is_finite() && (0.0..1e12).contains(&secs) => {
            Ok((secs * 1e6).round() as i64)
        }
        _ => {
            let message = "not a duration; expected non-negative seconds such as 1.25";
            Err(ParseError::field(SkipReason::BadValue, field, text, message))
        }
    }
}

/// Durations from 10^12 seconds (31,000 years) up are refused as garbage.
const MAX_DURATION_MICROS: i64 = 1_000_000_000_000 * 1_000_000;

/// Reads a port in decimal or in `0x` hexadecimal (Argus writes ICMP type and code that way).
pub fn parse_port(field: &str, text: &str) -> Result<u16, ParseError> {
    let trimmed = trim(text);
    let parsed = match trimmed.strip_prefix("0x").or_else(|| trimmed.strip_prefix("0X")) {
        Some(hex) => u16::from_str_radix(hex, 16),
        None => trimmed.parse(),
    };
    parsed.map_err(|_| {
        let message = "not a port; expected a number from 0 to 65535";
        ParseError::field(SkipReason::BadValue, field, text, message)
    })
}

/// Reads a Zeek-style flag, `T` or `F`.
pub fn parse_flag(field: &str, text: &str) -> Result<bool, ParseError> {
    match trim(text) {
        "T" => Ok(true),
        "F" => Ok(false),
        _ => Err(ParseError::field(SkipReason::BadValue, field, text, "expected `T` or `F`")),
    }
}

/// The error for a required field that the record does not have.
pub fn missing(field: &str) -> ParseError {
    ParseError {
        reason: SkipReason::MissingField,
        field: Some(field.to_string()),
        value: None,
        message: "required field is absent or unset".to_string(),
    }
}

/// The column names of a header line (Zeek's `#fields`, Argus's first line), to find where
/// each mapped field sits.
pub struct HeaderColumns<'a> {
    /// How the header is named in errors, such as "the `#fields` header".
    pub header: &'a str,
    pub names: &'a [&'a str],
}

impl HeaderColumns<'_> {
    /// Position of an optional column.
    pub fn find(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|column| *column == name)
    }

    /// Position of a required column, or an error naming the header and the column.
    pub fn require(&self, name: &str) -> Result<usize, ParseError> {
        self.find(name).ok_or_else(|| {
            let message = format!("{} has no `{name}` column", self.header);
            ParseError { message, ..missing(name) }
        })
    }
}

/// Turns an absent required value into a [`missing`] error.
pub fn require<T>(value: Option<T>, field: &str) -> Result<T, ParseError> {
    value.ok_or_else(|| missing(field))
}

/// Transport names are compared in lower case everywhere after reading.
/// The usual names are shared, not copied for every flow.
pub fn transport_name(text: &str) -> Option<Cow<'static, str>> {
    const USUAL: [&str; 4] = ["tcp", "udp", "icmp", "ipv6-icmp"];
    let trimmed = trim(text);
    if let Some(usual) = USUAL.iter().find(|name| name.eq_ignore_ascii_case(trimmed)) {
        return Some(Cow::Borrowed(usual));
    }
    (!trimmed.is_empty()).then(|| Cow::Owned(trimmed.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_durations_read_exactly_as_through_a_float() {
        // Plain decimals take the exact path; the float reading is what they must agree with.
        let through_float = |text: &str| (text.trim().parse::<f64>().unwrap() * 1e6).round() as i64;
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..10_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let micros = state % 10_000_000_000_000;
            let places = (state >> 50) as usize % 7;
            let text = format!("{}.{:06}", micros / 1_000_000, micros % 1_000_000);
            let text = &text[..text.len() - (6 - places)];
            let text = text.strip_suffix('.').unwrap_or(text);
            assert_eq!(parse_duration_micros("duration", text), Ok(through_float(text)), "{text}");
        }
        for text in [" 1.5 ", "0", "0.000001", "1e3", "+2.5", "1.2345678", "-0"] {
            assert_eq!(parse_duration_micros("duration", text), Ok(through_float(text)), "{text}");
        }
        for bad in ["-1", "nan", "inf", "1e12", "", "x"] {
            assert!(parse_duration_micros("duration", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn trimming_agrees_with_the_standard_trim() {
        for text in
            ["", " ", "a", " a", "a ", "\u{3000}a\u{3000}", "\u{b}x", "x\u{c}", "\u{e9}", "tcp"]
        {
            assert_eq!(trim(text), text.trim(), "{text:?}");
        }
    }

    #[test]
    fn usual_transport_names_are_shared() {
        assert!(matches!(transport_name("TCP"), Some(Cow::Borrowed("tcp"))));
        assert!(matches!(transport_name(" udp"), Some(Cow::Borrowed("udp"))));
        assert_eq!(transport_name("SCTP").as_deref(), Some("sctp"));
        assert_eq!(transport_name("  "), None);
    }

    #[test]
    fn ports_take_decimal_and_hex() {
        assert_eq!(parse_port("Sport", "443"), Ok(443));
        assert_eq!(parse_port("Sport", "0x0303"), Ok(0x0303));
        let error = parse_port("Sport", "70000").unwrap_err();
        assert_eq!((error.reason, error.field.as_deref()), (SkipReason::BadValue, Some("Sport")));
    }

    #[test]
    fn counts_and_flags_name_their_field() {
        assert_eq!(parse_count("orig_bytes", "592"), Ok(592));
        let error = parse_count("orig_bytes", "-5").unwrap_err();
        assert_eq!(error.field.as_deref(), Some("orig_bytes"));
        assert_eq!(error.value.as_deref(), Some("-5"));
        assert_eq!(parse_flag("local_orig", "T"), Ok(true));
        assert_eq!(parse_flag("local_orig", "x").unwrap_err().reason, SkipReason::BadValue);
        assert_eq!(parse_ip("id.orig_h", "10.0.0.300").unwrap_err().reason, SkipReason::BadAddress);
    }
}
