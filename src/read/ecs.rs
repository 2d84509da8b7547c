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
use crate::read::json::{get_time, Object};
use crate::read::value::{missing, require, transport_name};
use crate::read::{LineOutcome, ParseError, RecordParser};

const SOURCE_IP: &str = "source.ip";
const DESTINATION_IP: &str = "destination.ip";
const TIMESTAMP: &str = "@timestamp";

/// Reads ECS NDJSON lines; it keeps no state between lines.
#[derive(Debug, Default)]
pub struct EcsParser;

impl EcsParser {
    pub fn new() -> EcsParser {
        EcsParser
    }
}

fn get_string(event: &Object, path: &str) -> Result<Option<String>, ParseError> {
    Ok(get_str(event, path)?.map(str::to_string))
}

/// The first of several paths that holds a string (`host.name`, then `host.hostname`).
fn first_string(event: &Object, paths: &[&str]) -> Result<Option<String>, ParseError> {
    for path in paths {
        if let Some(text) = get_string(event, path)? {
            return Ok(Some(text));
        }
    }
    Ok(None)
}

fn destination_geo(event: &Object) -> Result<Option<GeoFields>, ParseError> {
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
    fn parse_line(&mut self, line: &str) -> Result<LineOutcome, ParseError> {
        if line.trim().is_empty() {
            return Ok(LineOutcome::Ignored);
        }
        let event = json::parse_object(line)?;
        let (source_ip, destination_ip) =
            match (get_ip(&event, SOURCE_IP)?, get_ip(&event, DESTINATION_IP)?) {
                (Some(source), Some(destination)) => (source, destination),
                (None, None) => return Ok(LineOutcome::NotAFlow),
                (Some(_), None) => return Err(missing(DESTINATION_IP)),
                (None, Some(_)) => return Err(missing(SOURCE_IP)),
            };
        let start_micros = match get_time(&event, "event.start")? {
            Some(start) => start,
            None => require(get_time(&event, TIMESTAMP)?, TIMESTAMP)?,
        };
        let bytes_sent = get_count(&event, "source.bytes")?;
        let mut flow = Flow::new(start_micros, source_ip, destination_ip, bytes_sent);
        flow.source_port = get_port(&event, "source.port")?;
        flow.destination_port = get_port(&event, "destination.port")?;
        flow.transport = get_str(&event, "network.transport")?.and_then(transport_name);
        flow.bytes_received = get_count(&event, "destination.bytes")?;
        flow.host_name = first_string(&event, &["host.name", "host.hostname"])?;
        flow.user_name = get_string(&event, "user.name")?;
        flow.process_name = get_string(&event, "process.name")?;
        flow.observer = first_string(&event, &["observer.name", "observer.hostname"])?;
        flow.direction = get_str(&event, "network.direction")?.and_then(Direction::from_ecs);
        flow.destination_geo = destination_geo(&event)?;
        flow.community_id = get_string(&event, "network.community_id")?;
        flow.flow_id = get_text(&event, "flow.id")?;
        flow.flow_final = get_bool(&event, "flow.final")?;
        Ok(LineOutcome::Flow(Box::new(flow)))
    }
}
