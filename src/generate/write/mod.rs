//! Writing generated flows in each input format geoexfil reads, one file per format as in
//! [`crate::read`].
//!
//! A *record* ([`FlowRecord`]) is one generated flow with everything a format may print. A
//! *format writer* appends the file's *header* (Zeek's `#` lines, the Argus column line), one
//! line per record, and a *footer* (Zeek's `#close`) to a byte buffer. Numbers, addresses and
//! times are formatted by hand into that buffer: the generator writes gigabytes, and going
//! through `format!` for every field would allocate on every line.

mod argus;
mod ecs;
mod suricata;
mod zeek_json;
mod zeek_tsv;

use crate::read::InputFormat;
use chrono::{DateTime, Datelike};
use std::net::Ipv4Addr;

const MICROS_PER_SEC: i64 = crate::flow::MICROS_PER_SEC;
const SECS_PER_DAY: i64 = 86_400;

/// One generated flow, ready to be written.
#[derive(Debug, Clone, Copy)]
pub struct FlowRecord<'a> {
    /// 0-based position in the output: the seed of per-flow identifiers (Zeek `uid`).
    pub sequence: u64,
    pub start_micros: i64,
    pub duration_micros: i64,
    pub source_ip: Ipv4Addr,
    pub source_port: u16,
    pub destination_ip: Ipv4Addr,
    pub destination_port: u16,
    /// `tcp` or `udp`.
    pub transport: &'static str,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub host_name: &'a str,
    /// Where the embedded GeoIP database places the destination.
    pub country_iso_code: &'a str,
}

impl FlowRecord<'_> {
    pub fn end_micros(&self) -> i64 {
        self.start_micros + self.duration_micros
    }

    pub fn is_tcp(&self) -> bool {
        self.transport == "tcp"
    }

    /// Packets each side sent: full-size segments plus, for TCP, the handshake and teardown.
    pub fn packets(&self) -> (u64, u64) {
        let control = if self.is_tcp() { TCP_CONTROL_PACKETS } else { 0 };
        let count = |bytes: u64| bytes.div_ceil(SEGMENT_PAYLOAD_BYTES).max(1) + control;
        (count(self.bytes_sent), count(self.bytes_received))
    }

    /// Bytes each side sent counted with IP and transport headers.
    pub fn ip_bytes(&self) -> (u64, u64) {
        let header = if self.is_tcp() { TCP_IP_HEADER_BYTES } else { UDP_IP_HEADER_BYTES };
        let (sent_packets, received_packets) = self.packets();
        (self.bytes_sent + sent_packets * header, self.bytes_received + received_packets * header)
    }

    /// The application protocol a sensor would name from the port (Zeek `service`, Suricata
    /// `app_proto`); `None` where it would not recognise one.
    pub fn service(&self) -> Option<&'static str> {
        match self.destination_port {
            443 | 993 | 5228 => Some("ssl"),
            80 | 8080 => Some("http"),
            53 => Some("dns"),
            123 => Some("ntp"),
            22 => Some("ssh"),
            _ => None,
        }
    }
}

/// Payload of one full TCP segment on Ethernet (1500 bytes less 52 of IP and TCP headers with
/// timestamps).
const SEGMENT_PAYLOAD_BYTES: u64 = 1_448;
/// SYN, FIN and a final ACK: the packets of a TCP connection that carry no payload.
const TCP_CONTROL_PACKETS: u64 = 3;
/// IPv4 (20) and TCP with the timestamp option (32).
const TCP_IP_HEADER_BYTES: u64 = 52;
/// IPv4 (20) and UDP (8).
const UDP_IP_HEADER_BYTES: u64 = 28;

/// Writes one format; see the module documentation.
pub trait FormatWriter {
    /// Lines before the first record; `first_secs` is when the log was opened.
    fn header(&mut self, _first_secs: i64, _out: &mut Vec<u8>) {}
    fn record(&mut self, record: &FlowRecord<'_>, out: &mut Vec<u8>);
    /// Lines after the last record; `last_secs` is when the log was closed.
    fn footer(&mut self, _last_secs: i64, _out: &mut Vec<u8>) {}
}

/// The writer of `format`; `seed` makes per-flow identifiers differ between seeds.
pub fn writer_for(format: InputFormat, seed: u64) -> Box<dyn FormatWriter> {
    match format {
        InputFormat::ZeekTsv => Box::new(zeek_tsv::ZeekTsvWriter::new(seed)),
        InputFormat::ZeekJson => Box::new(zeek_json::ZeekJsonWriter::new(seed)),
        InputFormat::SuricataEve => Box::new(suricata::SuricataWriter::new(seed)),
        InputFormat::Ecs => Box::new(ecs::EcsWriter::default()),
        InputFormat::Argus => Box::new(argus::ArgusWriter::default()),
    }
}

/// Appends `value` in decimal.
pub fn push_u64(out: &mut Vec<u8>, mut value: u64) {
    let mut digits = [0u8; 20];
    let mut position = digits.len();
    loop {
        position -= 1;
        digits[position] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[position..]);
}

/// Appends `value` in decimal, padded with zeros to `width` digits.
fn push_padded(out: &mut Vec<u8>, value: u64, width: usize) {
    let mut digits = [b'0'; 20];
    let mut rest = value;
    let mut position = digits.len();
    while rest > 0 || digits.len() - position < width {
        position -= 1;
        digits[position] = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    out.extend_from_slice(&digits[position..]);
}

pub fn push_ipv4(out: &mut Vec<u8>, ip: Ipv4Addr) {
    let [a, b, c, d] = ip.octets();
    for (index, octet) in [a, b, c, d].into_iter().enumerate() {
        if index > 0 {
            out.push(b'.');
        }
        push_u64(out, u64::from(octet));
    }
}

/// Appends microseconds as decimal seconds with all six digits of the fraction, the way Zeek
/// writes `ts` and `duration`, so that readers get back the exact microsecond.
pub fn push_seconds(out: &mut Vec<u8>, micros: i64) {
    if micros < 0 {
        out.push(b'-');
    }
    let magnitude = micros.unsigned_abs();
    push_u64(out, magnitude / MICROS_PER_SEC as u64);
    out.push(b'.');
    push_padded(out, magnitude % MICROS_PER_SEC as u64, 6);
}

/// How a calendar time is spelt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeStyle {
    /// ISO 8601 with `Z`: `2024-01-01T09:30:00.123456Z` (ECS).
    IsoZulu,
    /// ISO 8601 with a numeric offset: `2024-01-01T09:30:00.123456+0000` (Suricata EVE).
    IsoOffset,
    /// Argus `ra`'s default: `2024/01/01 09:30:00.123456`, UTC without a zone.
    Argus,
}

/// Turns epoch microseconds into calendar text. The date part is remembered for the last day
/// seen, since consecutive flows nearly always share their day.
#[derive(Debug, Clone, Default)]
pub struct CalendarClock {
    day: Option<i64>,
    /// Year, month and day of `day`.
    date: (u64, u64, u64),
}

impl CalendarClock {
    pub fn push(&mut self, out: &mut Vec<u8>, micros: i64, style: TimeStyle) {
        let secs = micros.div_euclid(MICROS_PER_SEC);
        let fraction = micros.rem_euclid(MICROS_PER_SEC) as u64;
        let day = secs.div_euclid(SECS_PER_DAY);
        let second_of_day = secs.rem_euclid(SECS_PER_DAY) as u64;
        if self.day != Some(day) {
            let date = DateTime::from_timestamp(day * SECS_PER_DAY, 0)
                .map(|time| time.date_naive())
                .unwrap_or_default();
            self.date = (date.year().max(0) as u64, u64::from(date.month()), u64::from(date.day()));
            self.day = Some(day);
        }
        let (year, month, day_of_month) = self.date;
        let (date_separator, time_separator) = match style {
            TimeStyle::Argus => (b'/', b' '),
            TimeStyle::IsoZulu | TimeStyle::IsoOffset => (b'-', b'T'),
        };
        push_padded(out, year, 4);
        out.push(date_separator);
        push_padded(out, month, 2);
        out.push(date_separator);
        push_padded(out, day_of_month, 2);
        out.push(time_separator);
        push_padded(out, second_of_day / 3_600, 2);
        out.push(b':');
        push_padded(out, second_of_day / 60 % 60, 2);
        out.push(b':');
        push_padded(out, second_of_day % 60, 2);
        out.push(b'.');
        push_padded(out, fraction, 6);
        match style {
            TimeStyle::IsoZulu => out.push(b'Z'),
            TimeStyle::IsoOffset => out.extend_from_slice(b"+0000"),
            TimeStyle::Argus => {}
        }
    }
}

/// A well-mixed 64-bit value from a counter (SplitMix64's finaliser), for identifiers that
/// must look random and stay reproducible without a random generator per line.
pub fn mix64(value: u64) -> u64 {
    let mut z = value.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(write: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut out = Vec::new();
        write(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn numbers_addresses_and_times_are_spelt_as_readers_expect() {
        assert_eq!(text(|o| push_u64(o, 0)), "0");
        assert_eq!(text(|o| push_u64(o, u64::MAX)), u64::MAX.to_string());
        assert_eq!(text(|o| push_padded(o, 7, 3)), "007");
        assert_eq!(text(|o| push_ipv4(o, Ipv4Addr::new(10, 0, 255, 1))), "10.0.255.1");
        assert_eq!(text(|o| push_seconds(o, 1_704_067_196_054_708)), "1704067196.054708");
        assert_eq!(text(|o| push_seconds(o, 5)), "0.000005");
        assert_eq!(text(|o| push_seconds(o, -1_500_000)), "-1.500000");
        let mut clock = CalendarClock::default();
        let micros = 1_709_636_527_651_000;
        let iso = text(|o| clock.push(o, micros, TimeStyle::IsoZulu));
        assert_eq!(iso, "2024-03-05T11:02:07.651000Z");
        let iso_offset = text(|o| clock.push(o, micros, TimeStyle::IsoOffset));
        assert_eq!(iso_offset, "2024-03-05T11:02:07.651000+0000");
        let argus = text(|o| clock.push(o, 1_554_394_980_325_010, TimeStyle::Argus));
        assert_eq!(argus, "2019/04/04 16:23:00.325010");
        assert_eq!(crate::read::time::iso8601_to_micros(&iso), Some(micros));
        assert_eq!(crate::read::time::iso8601_to_micros(&iso_offset), Some(micros));
    }
}
