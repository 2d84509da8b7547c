//! Elastic Common Schema (ECS) events as NDJSON: Elastic Defend network events, Packetbeat
//! flows and the Filebeat zeek / suricata modules.
//!
//! An ECS *event* names its fields with dotted paths (`source.ip`, `destination.geo.
//! country_iso_code`); exporters write them as nested objects, dotted keys or a mix, and
//! [`json::lookup`] reads all three. The *source* is the side that opened the connection and
//! `source.bytes` what it sent. An event with neither `source.ip` nor `destination.ip` is some
//! other kind of event (a process start, a login) and is not a flow. `event.start` is when the
//! flow began; `@timestamp` is used when it is absent, since many shippers only set that.
//! Packetbeat reports long flows several times under one `flow.id`, with `flow.final: false`
//! on the interim reports.

use crate::flow::{Direction, Flow, GeoFields};
use crate::read::json::{self, get_bool, get_count, get_ip, get_port, get_str, get_text};
use crate::read::json::{get_time, Record};
use crate::read::value::{missing, require, transport_name};
use crate::read::{LineOutcome, ParseError, RecordParser};
use crate::skip::SkipReason;

const SOURCE_IP: &str = "source.ip";
const DESTINATION_IP: &str = "destination.ip";
const TIMESTAMP: &str = "@timestamp";

/// Every path [`EcsParser`] looks up; a line is parsed for these alone (see
/// [`json::WantedPaths`]). In debug builds each line is also read whole and the two flows are
/// compared, so a path missing here fails the tests.
const READ_PATHS: [&str; 26] = [
    SOURCE_IP,
    DESTINATION_IP,
    TIMESTAMP,
    "event.start",
    "event.end",
    "event.duration",
    "source.bytes",
    "source.port",
    "destination.port",
    "destination.bytes",
    "network.transport",
    "network.direction",
    "network.community_id",
    "host.name",
    "host.hostname",
    "user.name",
    "process.name",
    "observer.name",
    "observer.hostname",
    "destination.geo.country_iso_code",
    "destination.geo.country_name",
    "destination.geo.continent_name",
    "destination.geo.region_name",
    "destination.geo.city_name",
    "flow.id",
    "flow.final",
];

static WANTED: std::sync::LazyLock<json::WantedPaths> =
    std::sync::LazyLock::new(|| json::WantedPaths::new(&READ_PATHS));

/// Reads ECS NDJSON lines; it keeps no state between lines.
#[derive(Debug, Default, Clone)]
pub struct EcsParser;

impl EcsParser {
    pub fn new() -> EcsParser {
        EcsParser
    }
}

fn get_string(event: &impl Record, path: &str) -> Result<Option<String>, ParseError> {
    Ok(get_str(event, path)?.map(str::to_string))
}

/// The first of several paths that holds a string (`host.name`, then `host.hostname`).
fn first_string(event: &impl Record, paths: &[&str]) -> Result<Option<String>, ParseError> {
    for path in paths {
        if let Some(text) = get_string(event, path)? {
            return Ok(Some(text));
        }
    }
    Ok(None)
}

fn destination_geo(event: &impl Record) -> Result<Option<GeoFields>, ParseError> {
    let geo = GeoFields {
        country_iso_code: get_string(event, "destination.geo.country_iso_code")?,
        country_name: get_string(event, "destination.geo.country_name")?,
        continent_name: get_string(event, "destination.geo.continent_name")?,
        region_name: get_string(event, "destination.geo.region_name")?,
        city_name: get_string(event, "destination.geo.city_name")?,
    };
    Ok((geo != GeoFields::default()).then_some(geo))
}

impl RecordParser for EcsParser {
    fn fork(&self) -> Box<dyn RecordParser> {
        Box::new(self.clone())
    }

    fn parse_line(&mut self, line: &str) -> Result<LineOutcome, ParseError> {
        json::read_wanted(line, &WANTED, |event| flow_of(event), |whole| flow_of(whole))
    }
}

/// The flow an event describes.
fn flow_of(event: &impl Record) -> Result<LineOutcome, ParseError> {
    let (source_ip, destination_ip) =
        match (get_ip(event, SOURCE_IP)?, get_ip(event, DESTINATION_IP)?) {
            (Some(source), Some(destination)) => (source, destination),
            (None, None) => return Ok(LineOutcome::NotAFlow),
            (Some(_), None) => return Err(missing(DESTINATION_IP)),
            (None, Some(_)) => return Err(missing(SOURCE_IP)),
        };
    let start_micros = match ecs_time(event, "event.start")? {
        Some(start) => start,
        None => require(ecs_time(event, TIMESTAMP)?, TIMESTAMP)?,
    };
    let bytes_sent = get_count(event, "source.bytes")?;
    let mut flow = Flow::new(start_micros, source_ip, destination_ip, bytes_sent);
    flow.end_micros = match ecs_time(event, "event.end")? {
        Some(end) => Some(end),
        // ECS durations are nanoseconds.
        None => get_count(event, "event.duration")?
            .map(|nanos| start_micros.saturating_add((nanos / 1000) as i64)),
    };
    flow.source_port = get_port(event, "source.port")?;
    flow.destination_port = get_port(event, "destination.port")?;
    flow.transport = get_str(event, "network.transport")?.and_then(transport_name);
    flow.bytes_received = get_count(event, "destination.bytes")?;
    flow.host_name = first_string(event, &["host.name", "host.hostname"])?;
    flow.user_name = get_string(event, "user.name")?;
    flow.process_name = get_string(event, "process.name")?;
    flow.observer = first_string(event, &["observer.name", "observer.hostname"])?;
    flow.direction = get_str(event, "network.direction")?.and_then(Direction::from_ecs);
    flow.destination_geo = destination_geo(event)?;
    flow.community_id = get_string(event, "network.community_id")?;
    flow.flow_id = get_text(event, "flow.id")?;
    flow.flow_final = get_bool(event, "flow.final")?;
    Ok(LineOutcome::Flow(flow))
}

/// An ECS date: an ISO 8601 string, or epoch milliseconds, as a number or as a string of
/// digits, which is how Elasticsearch reads a date field (unlike Zeek's epoch seconds).
fn ecs_time(event: &impl Record, path: &str) -> Result<Option<i64>, ParseError> {
    let bad = |text: &str| {
        let message = "not a timestamp; expected epoch milliseconds (1676851329767) or iso \
                       8601 with offset (2021-06-06T15:59:46.457984+02:00)";
        ParseError::field(SkipReason::BadTimestamp, path, text, message)
    };
    let millis_text = match event.find(path) {
        Some(json::Value::Number(number)) => number.to_string(),
        Some(json::Value::String(text)) if looks_numeric(text) => text.to_string(),
        Some(json::Value::String(text)) => {
            // An ISO string; without an offset, the shared reader's error says what to add.
            return match get_time(event, path) {
                Err(error) if error.message.starts_with("not a timestamp") => Err(bad(text)),
                other => other,
            };
        }
        _ => return get_time(event, path),
    };
    let micros = crate::read::time::epoch_millis_to_micros(&millis_text);
    micros.map(Some).ok_or_else(|| bad(&millis_text))
}

fn looks_numeric(text: &str) -> bool {
    let text = text.trim();
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b))
}

#[cfg(test)]
mod epoch_millis_tests {
    use super::*;

    #[test]
    fn a_numeric_timestamp_is_epoch_milliseconds() {
        let line =
            r#"{"@timestamp":1768039206000,"source.ip":"10.0.0.5","destination.ip":"8.8.8.8"}"#;
        let Ok(LineOutcome::Flow(flow)) = EcsParser::new().parse_line(line) else {
            panic!("a flow")
        };
        assert_eq!(flow.start_micros, 1_768_039_206_000_000);
        // A fraction of a millisecond, and digits in a string, are read the same way.
        for time in ["1768039206000.25", "\"1768039206000.25\""] {
            let line = format!(
                r#"{{"@timestamp":{time},"source.ip":"10.0.0.5","destination.ip":"8.8.8.8"}}"#
            );
            let Ok(LineOutcome::Flow(flow)) = EcsParser::new().parse_line(&line) else {
                panic!("a flow from {time}")
            };
            assert_eq!(flow.start_micros, 1_768_039_206_000_250, "{time}");
        }
        for time in ["\"17680x\"", "\"01/01/2024\""] {
            let line = format!(
                r#"{{"@timestamp":{time},"source.ip":"10.0.0.5","destination.ip":"8.8.8.8"}}"#
            );
            let error = EcsParser::new().parse_line(&line).unwrap_err();
            assert_eq!(error.reason, SkipReason::BadTimestamp);
            assert!(error.message.contains("expected epoch milliseconds"), "{}", error.message);
        }
        // The year 5138: still a time (refused later as lying in the future), not garbage.
        let line =
            r#"{"@timestamp":99999999999999,"source.ip":"10.0.0.5","destination.ip":"8.8.8.8"}"#;
        let Ok(LineOutcome::Flow(flow)) = EcsParser::new().parse_line(line) else {
            panic!("a flow")
        };
        assert_eq!(flow.start_micros, 99_999_999_999_999_000);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read::test_support::{assert_error, flows, ip, parse_all};
    use crate::skip::SkipReason;

    const FIXTURE: &str = include_str!("../../fixtures/read/ecs-hand-written.ndjson");

    fn parse(line: &str) -> Result<LineOutcome, ParseError> {
        EcsParser::new().parse_line(line)
    }

    fn fixture_flows() -> Vec<Flow> {
        flows(&parse_all(&mut EcsParser::new(), FIXTURE))
    }

    #[test]
    fn reads_a_nested_packetbeat_flow() {
        let interim = &fixture_flows()[0];
        // event.start wins over @timestamp.
        assert_eq!(interim.start_micros, 1_709_633_670_125_000);
        assert_eq!((interim.source_ip, interim.source_port), (ip("10.1.2.3"), Some(51544)));
        assert_eq!(interim.destination_ip, ip("203.0.113.9"));
        assert_eq!(interim.destination_port, Some(443));
        assert_eq!((interim.bytes_sent, interim.bytes_received), (Some(120_443), Some(5120)));
        assert_eq!(interim.transport.as_deref(), Some("tcp"));
        assert_eq!(interim.community_id.as_deref(), Some("1:LQU9qZlK+B5F3KDmev6m5PMibrg="));
        assert_eq!(interim.host_name.as_deref(), Some("ws-finance-07"));
        assert_eq!(interim.flow_id.as_deref(), Some("EQQA////DP//////FP8BAAEAUAAAAAAAAAAAAAAA"));
        assert_eq!(interim.flow_final, Some(false));
        assert_eq!((interim.observer.as_ref(), interim.direction), (None, None));
        assert_eq!((interim.user_name.as_ref(), interim.process_name.as_ref()), (None, None));
        let geo = GeoFields {
            country_iso_code: Some("NL".into()),
            country_name: Some("Netherlands".into()),
            continent_name: Some("Europe".into()),
            ..GeoFields::default()
        };
        assert_eq!(interim.destination_geo, Some(geo));
        assert_eq!(fixture_flows()[1].flow_final, Some(true));
        assert_eq!(fixture_flows()[1].bytes_sent, Some(240_886));
    }

    #[test]
    fn reads_a_dotted_defend_event_with_numeric_strings() {
        let defend = &fixture_flows()[2];
        assert_eq!(defend.start_micros, 1_709_636_527_651_000);
        assert_eq!((defend.source_ip, defend.source_port), (ip("10.1.2.44"), Some(49822)));
        assert_eq!(defend.destination_ip, ip("198.51.100.23"));
        assert_eq!(defend.destination_port, Some(8443));
        assert_eq!((defend.bytes_sent, defend.bytes_received), (Some(7_340_032), Some(2048)));
        assert_eq!(defend.transport.as_deref(), Some("tcp"));
        assert_eq!(defend.direction, Some(Direction::Outbound));
        assert_eq!(defend.process_name.as_deref(), Some("rclone.exe"));
        assert_eq!(defend.user_name.as_deref(), Some("jdoe"));
        assert_eq!(defend.host_name.as_deref(), Some("LAPTOP-JD"));
        assert_eq!(defend.observer.as_deref(), Some("edr-fleet-1"));
        assert_eq!((defend.destination_geo.as_ref(), defend.flow_final), (None, None));
    }

    #[test]
    fn odd_json_in_members_that_are_not_read_does_not_lose_the_flow() {
        // A lone surrogate escape, a number beyond a float and deep nesting are valid JSON
        // syntax that a whole-line reader refuses; in a member nobody reads they cost nothing.
        let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
        for odd in [r#""\ud800""#, "1e400", deep.as_str()] {
            let line = format!(
                r#"{{"@timestamp":"2024-03-05T10:00:00Z","agent":{{"x":{odd}}},{}}}"#,
                r#""source":{"ip":"10.1.2.3","bytes":9},"destination":{"ip":"198.51.100.7"}"#
            );
            assert!(json::parse_object(&line).is_err(), "{odd}");
            let Ok(LineOutcome::Flow(flow)) = parse(&line) else { panic!("a flow with {odd}") };
            assert_eq!((flow.bytes_sent, flow.destination_ip), (Some(9), ip("198.51.100.7")));
        }
    }

    #[test]
    fn reads_mixed_spelling_and_fallback_names() {
        let flows = fixture_flows();
        let mixed = &flows[3];
        assert_eq!(mixed.start_micros, 1_709_636_580_000_000);
        assert_eq!((mixed.source_ip, mixed.source_port), (ip("2001:db8:10::5"), Some(40001)));
        assert_eq!(mixed.destination_ip, ip("2001:db8:ffff::1"));
        assert_eq!((mixed.destination_port, mixed.bytes_sent), (Some(53), None));
        assert_eq!(mixed.direction, Some(Direction::Outbound));
        assert_eq!(mixed.observer.as_deref(), Some("sensor-2"));
        let geo = mixed.destination_geo.as_ref().unwrap();
        assert_eq!(geo.country_iso_code.as_deref(), Some("DE"));
        assert_eq!(geo.city_name.as_deref(), Some("Frankfurt am Main"));
        assert_eq!(geo.region_name.as_deref(), Some("Hesse"));
        assert_eq!(geo.country_name, None);
        let zeek = &flows[4];
        assert_eq!(zeek.start_micros, 1_709_636_700_500_000);
        assert_eq!(zeek.host_name.as_deref(), Some("zeek-sensor-1"));
        assert_eq!(zeek.observer.as_deref(), Some("zeek-sensor-1"));
        assert_eq!(zeek.direction, Some(Direction::Internal));
        assert_eq!((zeek.bytes_sent, zeek.bytes_received), (Some(900), Some(1500)));
    }

    #[test]
    fn events_without_addresses_are_not_flows() {
        let process_event = FIXTURE.lines().nth(4).unwrap();
        assert_eq!(parse(process_event), Ok(LineOutcome::NotAFlow));
    }

    #[test]
    fn each_bad_field_is_named() {
        let only_source = r#"{"@timestamp":"2024-03-05T11:00:00Z","source":{"ip":"10.0.0.1"}}"#;
        assert_error(parse(only_source), SkipReason::MissingField, Some("destination.ip"));
        let only_destination = r#"{"@timestamp":"2024-03-05T11:00:00Z","destination.ip":"::1"}"#;
        assert_error(parse(only_destination), SkipReason::MissingField, Some("source.ip"));
        let base = r#"{"@timestamp":"2024-03-05T11:00:00Z","source.ip":"10.0.0.1","#;
        let with = |rest: &str| format!("{base}{rest}}}");
        let no_time = r#"{"source.ip":"10.0.0.1","destination.ip":"192.0.2.1"}"#;
        assert_error(parse(no_time), SkipReason::MissingField, Some("@timestamp"));
        let bad_address = with(r#""destination.ip":"192.0.2""#);
        assert_error(parse(&bad_address), SkipReason::BadAddress, Some("destination.ip"));
        let numeric_address = with(r#""destination.ip":3221225985"#);
        assert_error(parse(&numeric_address), SkipReason::BadValue, Some("destination.ip"));
        let bad_port = with(r#""destination.ip":"192.0.2.1","destination.port":"https""#);
        assert_error(parse(&bad_port), SkipReason::BadValue, Some("destination.port"));
        let bad_bytes = with(r#""destination.ip":"192.0.2.1","source.bytes":1.5"#);
        assert_error(parse(&bad_bytes), SkipReason::BadValue, Some("source.bytes"));
        let bad_start = with(r#""destination.ip":"192.0.2.1","event":{"start":"5 May"}"#);
        assert_error(parse(&bad_start), SkipReason::BadTimestamp, Some("event.start"));
        let bad_final = with(r#""destination.ip":"192.0.2.1","flow.final":"yes""#);
        assert_error(parse(&bad_final), SkipReason::BadValue, Some("flow.final"));
        assert_error(parse("not json"), SkipReason::MalformedLine, None);
    }
}
