//! Single field values shared by every format: addresses, ports, byte counts, flags.
//!
//! A *field* is one named value of a record in the input's own naming (`id.orig_h`,
//! `SrcBytes`, `source.port`). Each helper takes the field name so that its error says which
//! field held the bad value.

use crate::read::ParseError;
use crate::skip::SkipReason;
use std::net::IpAddr;

/// Reads an IPv4 or IPv6 address.
pub fn parse_ip(field: &str, text: &str) -> Result<IpAddr, ParseError> {
    text.trim().parse().map_err(|_| {
        let message = "not an ip address; expected dotted ipv4 (192.0.2.1) or ipv6 (2001:db8::1)";
        ParseError::field(SkipReason::BadAddress, field, text, message)
    })
}

/// Reads a non-negative count such as a byte total.
pub fn parse_count(field: &str, text: &str) -> Result<u64, ParseError> {
    text.trim().parse().map_err(|error: std::num::ParseIntError| {
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
    match text.trim().parse::<f64>() {
        Ok(secs) if secs.is_finite() && (0.0..1e12).contains(&secs) => {
            Ok((secs * 1e6).round() as i64)
        }
        _ => {
            let message = "not a duration; expected non-negative seconds such as 1.25";
            Err(ParseError::field(SkipReason::BadValue, field, text, message))
        }
    }
}

/// Reads a port in decimal or in `0x` hexadecimal (Argus writes ICMP type and code that way).
pub fn parse_port(field: &str, text: &str) -> Result<u16, ParseError> {
    let trimmed = text.trim();
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
    match text.trim() {
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
pub fn transport_name(text: &str) -> Option<String> {
    let trimmed = text.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

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
