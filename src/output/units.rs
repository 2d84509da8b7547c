//! Human units for bytes and times in summaries and explanations.

use chrono::{DateTime, Utc};

/// Bytes in decimal units with three significant digits: `512 B`, `1.50 kB`, `200 MB`.
pub fn human_bytes(bytes: f64) -> String {
    const UNITS: [&str; 6] = ["B", "kB", "MB", "GB", "TB", "PB"];
    let mut value = bytes.max(0.0);
    let mut unit = 0;
    while value >= 999.5 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{value:.0} B")
    } else if value >= 99.95 {
        format!("{value:.0} {}", UNITS[unit])
    } else if value >= 9.995 {
        format!("{value:.1} {}", UNITS[unit])
    } else {
        format!("{value:.2} {}", UNITS[unit])
    }
}

/// An epoch time as RFC 3339 UTC with second precision.
pub fn iso_time(secs: i64) -> String {
    DateTime::<Utc>::from_timestamp(secs, 0)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|| format!("epoch+{secs}s"))
}

/// An epoch time in microseconds as RFC 3339 UTC with microseconds.
pub fn iso_time_micros(micros: i64) -> String {
    DateTime::<Utc>::from_timestamp_micros(micros)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string())
        .unwrap_or_else(|| format!("epoch+{micros}us"))
}

/// A short UTC time for tables: `2023-02-20 15:00`.
pub fn short_time(secs: i64) -> String {
    DateTime::<Utc>::from_timestamp(secs, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_else(|| format!("epoch+{secs}s"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_in_human_units() {
        assert_eq!(human_bytes(0.0), "0 B");
        assert_eq!(human_bytes(999.0), "999 B");
        assert_eq!(human_bytes(1500.0), "1.50 kB");
        assert_eq!(human_bytes(20_000_000.0), "20.0 MB");
        assert_eq!(human_bytes(200_000_000.0), "200 MB");
        assert_eq!(human_bytes(2_000_000_000.0), "2.00 GB");
    }

    #[test]
    fn times_in_utc() {
        assert_eq!(iso_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso_time(1_676_851_200), "2023-02-20T00:00:00Z");
        assert_eq!(iso_time_micros(1_500_000), "1970-01-01T00:00:01.500000Z");
        assert_eq!(short_time(10_800), "1970-01-01 03:00");
    }
}

/// Reads a size such as `500MB`, `10GB` or `1GiB`: decimal units are powers of 1,000 and
/// binary ones (KiB, MiB, GiB) powers of 1,024; a plain number is bytes.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let size: bytesize::ByteSize = text
        .trim()
        .parse()
        .map_err(|e| format!("size {text:?}: {e}; write a size such as 500MB, 10GB or 1GiB"))?;
    match size.as_u64() {
        0 => Err(format!("size {text:?} is zero; give at least one byte")),
        bytes => Ok(bytes),
    }
}

#[cfg(test)]
mod size_tests {
    use super::parse_size;

    #[test]
    fn sizes_read_in_decimal_and_binary_units() {
        assert_eq!(parse_size("1GB"), Ok(1_000_000_000));
        assert_eq!(parse_size("10 GB"), Ok(10_000_000_000));
        assert_eq!(parse_size("1.5 MiB"), Ok(1_572_864));
        assert_eq!(parse_size("512"), Ok(512));
        assert!(parse_size("10 parsecs").unwrap_err().contains("\"10 parsecs\""));
        assert!(parse_size("0").unwrap_err().contains("zero"));
    }
}
