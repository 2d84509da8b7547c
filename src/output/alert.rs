//! Alert and record documents.

use super::units::{human_bytes, iso_time, iso_time_micros};
use crate::enrich::country::country_info;
use crate::enrich::GeoDbInfo;
use crate::job::FlowField;
use crate::model::window::WindowEvidence;
use crate::rule::{Alerted, RuleConfig};
use crate::score::record::AnomalyRecord;
use serde_json::{json, Map, Value};

/// The reference rule's identity (SPEC §2); our alerts carry it so existing triage applies.
pub const RULE_NAME: &str = "Potential Data Exfiltration Activity to an Unusual ISO Code";
pub const RULE_ID: &str = "e1db8899-97c1-4851-8993-3a3265353601";
pub const RULE_SEVERITY: &str = "low";
pub const RULE_RISK_SCORE: u32 = 21;
pub const RULE_TAGS: [&str; 3] =
    ["Use Case: Data Exfiltration Detection", "Rule Type: ML", "Tactic: Exfiltration"];

/// What every document says about where it came from.
#[derive(Debug, Clone)]
pub struct Provenance {
    pub geoip: GeoDbInfo,
    pub rule: RuleConfig,
}

fn mitre_threat() -> Value {
    json!([{
        "framework": "MITRE ATT&CK",
        "tactic": {
            "id": "TA0010",
            "name": "Exfiltration",
            "reference": "https://attack.mitre.org/tactics/TA0010/"
        },
        "technique": [{
            "id": "T1041",
            "name": "Exfiltration Over C2 Channel",
            "reference": "https://attack.mitre.org/techniques/T1041/"
        }]
    }])
}

/// A stable identifier for the alert of one record: the same record always gets the same id,
/// so a re-run or a second export can be de-duplicated downstream. Two FNV-1a hashes with
/// different offsets, laid out like a UUID.
pub fn alert_id(record: &AnomalyRecord) -> String {
    let key =
        format!("{}\u{1f}{}\u{1f}{}", record.job_id, record.bucket_start_secs, record.over_value);
    let fnv = |offset: u64| {
        key.bytes()
            .fold(offset, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x100_0000_01b3))
    };
    let (a, b) = (fnv(0xcbf2_9ce4_8422_2325), fnv(0x8422_2325_cbf2_9ce4));
    // Version 8 ("custom") and the RFC 9562 variant, so that strict UUID parsers accept it.
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        0x8000 | (a & 0x0fff),
        0x8000 | ((b >> 48) & 0x3fff),
        b & 0xffff_ffff_ffff
    )
}

/// How an over value reads in a sentence: `Russia (RU)`, `destination port 4444`.
pub fn over_value_label(record: &AnomalyRecord) -> String {
    match record.over_field {
        FlowField::CountryIsoCode => {
            let name = record
                .influencers_of(FlowField::CountryName)
                .next()
                .map(|i| i.value.clone())
                .or_else(|| country_info(&record.over_value).map(|c| c.name.to_string()));
            match name {
                Some(name) => format!("{name} ({})", record.over_value),
                None => record.over_value.clone(),
            }
        }
        FlowField::DestinationIp => format!("address {}", record.over_value),
        FlowField::DestinationPort => format!("port {}", record.over_value),
        _ => record.over_value.clone(),
    }
}

/// The sender to name first: the most influential host name, else source address.
fn top_sender(record: &AnomalyRecord) -> Option<&str> {
    record
        .influencers_of(FlowField::HostName)
        .next()
        .or_else(|| record.influencers_of(FlowField::SourceIp).next())
        .map(|i| i.value.as_str())
}

/// One sentence an analyst can act on: who sent how much where, against what is normal, and
/// what to check next.
pub fn explanation(record: &AnomalyRecord) -> String {
    let sender = top_sender(record).unwrap_or("an internal host");
    let hours = record.bucket_secs as f64 / 3600.0;
    let mut sentence = format!(
        "{sender} sent {} to {} in the {hours} h from {} ({} flows), against a typical {} for a \
         bucket",
        human_bytes(record.actual_bytes as f64),
        over_value_label(record),
        iso_time(record.bucket_start_secs),
        record.flow_count,
        human_bytes(record.typical_bytes),
    );
    let context = &record.context;
    if context.first_seen {
        sentence += &format!(
            "; nothing had been sent there before, and destinations seen for the first time \
             usually receive about {}",
            human_bytes(context.first_seen_median_bytes)
        );
    } else {
        sentence += &format!(
            "; it received traffic in {} of {} buckets since {}",
            context.active_buckets,
            context.observed_buckets,
            iso_time(context.first_seen_secs)
        );
    }
    if let Some(host) = &record.host_evidence {
        if host.first_time {
            sentence += &format!("; {} had never sent anything there before", host.host);
        } else if host.ordinary_weight < 1.0 {
            sentence += &format!(
                "; {} sent there in {} earlier buckets, none of them ordinary, so it has no usual \
                 volume there",
                host.host, host.active_buckets
            );
        } else {
            sentence += &format!(
                "; {} usually sends about {} there when it sends anything ({} buckets so far)",
                host.host,
                human_bytes(host.typical_bytes),
                host.active_buckets
            );
        }
    }
    for window in notable_windows(record) {
        sentence += &format!(
            "; over the last {} it received {}, against a typical {}",
            span_label(window.span_secs),
            human_bytes(window.total_bytes as f64),
            human_bytes(window.typical_bytes)
        );
    }
    if let Some(destination) = record.influencers_of(FlowField::DestinationIp).next() {
        let share = 100.0 * destination.bytes_sent as f64 / record.actual_bytes.max(1) as f64;
        sentence += &format!("; {share:.0}% went to {}", destination.value);
    }
    if let Some(process) = record.influencers_of(FlowField::ProcessName).next() {
        let share = 100.0 * process.bytes_sent as f64 / record.actual_bytes.max(1) as f64;
        sentence += &format!("; {share:.0}% was sent by the process {}", process.value);
    }
    sentence += &format!(
        " (probability {:.1e}); check what {sender} uploaded there and whether that destination \
         is expected.",
        record.probability
    );
    sentence
}

/// A window's verdict is worth a clause in the explanation when, corrected for the number of
/// windows, it would have been unusual on its own (probability below 5%).
const NOTABLE_WINDOW_PROBABILITY: f64 = 0.05;

/// The low-and-slow windows that were unusual on their own, longest last.
fn notable_windows(record: &AnomalyRecord) -> impl Iterator<Item = &WindowEvidence> + '_ {
    let tests = record.windows.len() as f64;
    // A window holding nothing but this bucket would repeat the bucket's figures.
    record.windows.iter().filter(move |w| {
        w.probability * tests < NOTABLE_WINDOW_PROBABILITY && w.total_bytes > record.actual_bytes
    })
}

/// True when a window, not the bucket alone, gave the record its score.
fn window_led(record: &AnomalyRecord) -> Option<&WindowEvidence> {
    let tests = record.windows.len() as f64;
    record
        .windows
        .iter()
        .filter(|w| w.probability * tests < record.bucket_probability)
        .min_by(|a, b| a.probability.total_cmp(&b.probability))
}

/// `day`, `week`, or the span in hours.
fn span_label(span_secs: i64) -> String {
    match span_secs {
        86_400 => "day".to_string(),
        604_800 => "week".to_string(),
        _ => format!("{} h", span_secs / 3600),
    }
}

/// The values of one influencer field, most influential first.
fn values_of(record: &AnomalyRecord, field: FlowField) -> Vec<String> {
    record.influencers_of(field).map(|i| i.value.clone()).collect()
}

/// The anomaly record's own fields, as the reference's record results name them.
fn record_fields(record: &AnomalyRecord) -> Map<String, Value> {
    let mut influencers = Vec::new();
    let mut fields: Vec<FlowField> = record.influencers.iter().map(|i| i.field).collect();
    fields.dedup();
    for field in fields {
        influencers.push(json!({
            "influencer_field_name": field.ecs_name(),
            "influencer_field_values": values_of(record, field),
        }));
    }
    let value = json!({
        "job_id": record.job_id,
        "result_type": "record",
        "detector_index": 0,
        "timestamp": record.bucket_start_secs * 1000,
        "bucket_span": record.bucket_secs,
        "function": "high_sum",
        "function_description": "sum",
        "field_name": "source.bytes",
        "over_field_name": record.over_field.ecs_name(),
        "over_field_value": record.over_value,
        "actual": [record.actual_bytes as f64],
        "typical": [record.typical_bytes],
        "probability": record.probability,
        "record_score": record.record_score,
        "initial_record_score": record.record_score,
        "is_interim": false,
        "influencers": influencers,
    });
    match value {
        Value::Object(map) => map,
        _ => unreachable!("json! of an object literal"),
    }
}

/// Our own evidence for a record.
fn geoexfil_fields(record: &AnomalyRecord, provenance: &Provenance) -> Value {
    let top_flows: Vec<Value> = record
        .top_flows
        .iter()
        .map(|f| {
            json!({
                "@timestamp": iso_time_micros(f.start_micros),
                "source.ip": f.source_ip.to_string(),
                "destination.ip": f.destination_ip.to_string(),
                "destination.port": f.destination_port,
                "network.transport": f.transport,
                "source.bytes": f.bytes_sent,
                "host.name": f.host_name,
                "process.name": f.process_name,
            })
        })
        .collect();
    let influencers: Vec<Value> = record
        .influencers
        .iter()
        .map(|i| {
            json!({
                "field": i.field.ecs_name(),
                "value": i.value,
                "influence": i.influence,
                "bytes_sent": i.bytes_sent,
            })
        })
        .collect();
    let context = &record.context;
    json!({
        "version": env!("CARGO_PKG_VERSION"),
        "explanation": explanation(record),
        "bucket_start": iso_time(record.bucket_start_secs),
        "bucket_end": iso_time(record.bucket_start_secs + record.bucket_secs),
        "flow_count": record.flow_count,
        "influencers": influencers,
        "top_flows": top_flows,
        "baseline": {
            "first_seen": context.first_seen,
            "first_seen_time": iso_time(context.first_seen_secs),
            "active_buckets": context.active_buckets,
            "observed_buckets": context.observed_buckets,
            "active_share": context.active_share,
            "first_seen_median_bytes": context.first_seen_median_bytes,
            "learning": record.learning,
        },
        "host": record.host_evidence,
        "bucket_probability": record.bucket_probability,
        "windows": record.windows.iter().map(|w| json!({
            "span_secs": w.span_secs,
            "total_bytes": w.total_bytes,
            "typical_bytes": w.typical_bytes,
            "probability": w.probability,
        })).collect::<Vec<Value>>(),
        "geoip": {
            "database_type": provenance.geoip.database_type,
            "build_date": provenance.geoip.build_date,
            "source": provenance.geoip.source,
        },
    })
}

/// Sets `path` (dotted) in a nested JSON object, creating objects on the way.
fn set_nested(target: &mut Map<String, Value>, path: &str, value: Value) {
    let mut parts = path.split('.').peekable();
    let mut node = target;
    while let Some(part) = parts.next() {
        if parts.peek().is_none() {
            node.insert(part.to_string(), value);
            return;
        }
        let child = node.entry(part.to_string()).or_insert_with(|| Value::Object(Map::new()));
        if !child.is_object() {
            *child = Value::Object(Map::new());
        }
        node = child.as_object_mut().expect("made an object above");
    }
}

/// One anomaly record as written by `--records`.
pub fn record_document(record: &AnomalyRecord, provenance: &Provenance) -> Value {
    let mut doc = record_fields(record);
    doc.insert("geoexfil".into(), geoexfil_fields(record, provenance));
    Value::Object(doc)
}

/// One alert, shaped like an Elastic Security alert of the reference rule.
pub fn alert_document(alerted: &Alerted, provenance: &Provenance) -> Value {
    let record = &alerted.record;
    let rule = &provenance.rule;
    let mut doc = Map::new();
    doc.insert("@timestamp".into(), json!(iso_time(alerted.rule_run_secs)));
    let kibana = [
        ("kibana.alert.uuid", json!(alert_id(record))),
        ("kibana.alert.rule.name", json!(RULE_NAME)),
        ("kibana.alert.rule.rule_id", json!(RULE_ID)),
        ("kibana.alert.rule.type", json!("machine_learning")),
        ("kibana.alert.rule.tags", json!(RULE_TAGS)),
        ("kibana.alert.rule.threat", mitre_threat()),
        (
            "kibana.alert.rule.parameters",
            json!({
                "anomaly_threshold": rule.score_threshold,
                "machine_learning_job_id": [record.job_id],
                "interval_secs": rule.interval_secs,
                "lookback_secs": rule.lookback_secs,
                "max_signals": rule.max_alerts_per_run,
            }),
        ),
        ("kibana.alert.severity", json!(RULE_SEVERITY)),
        ("kibana.alert.risk_score", json!(RULE_RISK_SCORE)),
        ("kibana.alert.workflow_status", json!("open")),
        ("kibana.alert.original_time", json!(iso_time(record.bucket_start_secs))),
        ("kibana.alert.reason", json!(reason(record))),
    ];
    for (key, value) in kibana {
        doc.insert(key.into(), value);
    }
    doc.extend(record_fields(record));
    copy_influencers_to_ecs(record, &mut doc);
    let mut evidence = geoexfil_fields(record, provenance);
    evidence["episode"] = json!({
        "start": iso_time(alerted.episode_start_secs),
        "escalation": alerted.escalation,
    });
    doc.insert("geoexfil".into(), evidence);
    Value::Object(doc)
}

/// The short reason line Elastic shows in its alert table.
fn reason(record: &AnomalyRecord) -> String {
    if let Some(window) = window_led(record) {
        return format!(
            "machine learning alert: {} sent to {} over the last {} (typical {}), record score \
             {:.1}",
            human_bytes(window.total_bytes as f64),
            over_value_label(record),
            span_label(window.span_secs),
            human_bytes(window.typical_bytes),
            record.record_score
        );
    }
    format!(
        "machine learning alert: {} sent to {} in one bucket (typical {}), record score {:.1}",
        human_bytes(record.actual_bytes as f64),
        over_value_label(record),
        human_bytes(record.typical_bytes),
        record.record_score
    )
}

/// Copies influencer values onto their ECS fields, as the reference's alerts do. Every copied
/// field is an array, whatever the number of values, so that its type never varies between
/// alerts. The over value is always copied onto its own field.
fn copy_influencers_to_ecs(record: &AnomalyRecord, doc: &mut Map<String, Value>) {
    for field in [
        FlowField::CountryIsoCode,
        FlowField::CountryName,
        FlowField::ContinentName,
        FlowField::RegionName,
        FlowField::CityName,
        FlowField::HostName,
        FlowField::SourceIp,
        FlowField::DestinationIp,
        FlowField::UserName,
        FlowField::ProcessName,
        FlowField::DestinationPort,
    ] {
        let mut values = values_of(record, field);
        if values.is_empty() && field == record.over_field {
            values.push(record.over_value.clone());
        }
        if values.is_empty() {
            continue;
        }
        let value = if field == FlowField::DestinationPort {
            // ECS ports are numbers.
            json!(values.iter().filter_map(|v| v.parse::<u16>().ok()).collect::<Vec<_>>())
        } else {
            json!(values)
        };
        set_nested(doc, field.ecs_name(), value);
    }
}
