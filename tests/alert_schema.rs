//! The alert documents match `schema/alert.schema.json`, and the schema is strict enough to
//! reject a renamed field, a changed constant or a wrongly typed value.

mod common;

use geoexfil::run::run_detect;
use jsonschema::Validator;
use serde_json::Value;
use std::path::Path;
use std::sync::OnceLock;

const SAMPLE: &str = "fixtures/sample/ctu-sme-11-ubuntu.conn.log.gz";

/// The top-level keys every alert carries.
const REQUIRED_TOP_LEVEL: [&str; 31] = [
    "@timestamp",
    "kibana.alert.uuid",
    "kibana.alert.rule.name",
    "kibana.alert.rule.rule_id",
    "kibana.alert.rule.type",
    "kibana.alert.rule.tags",
    "kibana.alert.rule.threat",
    "kibana.alert.rule.parameters",
    "kibana.alert.severity",
    "kibana.alert.risk_score",
    "kibana.alert.workflow_status",
    "kibana.alert.original_time",
    "kibana.alert.reason",
    "job_id",
    "result_type",
    "detector_index",
    "timestamp",
    "bucket_span",
    "function",
    "function_description",
    "field_name",
    "over_field_name",
    "over_field_value",
    "actual",
    "typical",
    "probability",
    "record_score",
    "initial_record_score",
    "is_interim",
    "influencers",
    "geoexfil",
];

fn schema() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/alert.schema.json");
    let text = std::fs::read_to_string(&path).expect("read the alert schema");
    serde_json::from_str(&text).expect("the alert schema is JSON")
}

/// A validator that also checks `format` (date-time, date, ipv4, ipv6), which draft 2020-12
/// treats as an annotation only by default.
fn validator() -> Validator {
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema())
        .unwrap_or_else(|error| panic!("the alert schema does not compile: {error}"))
}

/// The alerts of the shipped sample, computed once for all tests.
fn sample_alerts() -> &'static [Value] {
    static ALERTS: OnceLock<Vec<Value>> = OnceLock::new();
    ALERTS.get_or_init(|| {
        let outcome =
            run_detect(&common::alerting_from_start(common::default_options(&[&Path::new(env!(
                "CARGO_MANIFEST_DIR"
            ))
            .join(SAMPLE)])))
            .expect("detect runs on the sample");
        outcome.alerts
    })
}

fn errors_of(validator: &Validator, document: &Value) -> Vec<String> {
    validator
        .iter_errors(document)
        .map(|error| format!("{}: {error}", error.instance_path))
        .collect()
}

#[test]
fn every_alert_of_the_shipped_sample_matches_the_schema() {
    let alerts = sample_alerts();
    assert!(!alerts.is_empty(), "the sample should produce at least one alert");
    let validator = validator();
    let mut failures = Vec::new();
    for (index, alert) in alerts.iter().enumerate() {
        for error in errors_of(&validator, alert) {
            failures.push(format!("alert {index}: {error}"));
        }
    }
    assert!(failures.is_empty(), "alerts violate the schema:\n{}", failures.join("\n"));
}

#[test]
fn an_alert_with_a_renamed_field_a_changed_constant_or_a_wrong_type_is_rejected() {
    let validator = validator();
    let valid = sample_alerts().first().expect("the sample should produce an alert").clone();
    assert!(validator.is_valid(&valid), "the unmodified alert should be valid");

    let mut renamed = valid.clone();
    let fields = renamed.as_object_mut().expect("an alert is an object");
    let score = fields.remove("record_score").expect("alerts carry record_score");
    fields.insert("score".into(), score);

    let mut severity = valid.clone();
    severity["kibana.alert.severity"] = Value::from("high");

    let mut actual = valid.clone();
    actual["actual"] = Value::from("3624036");

    let mut nested = valid.clone();
    nested["geoexfil"]["baseline"]["first_seen"] = Value::from("yes");

    let mut time = valid.clone();
    time["@timestamp"] = Value::from("yesterday");

    let mutations = [
        ("record_score renamed to score", renamed),
        ("kibana.alert.severity set to high", severity),
        ("actual made a string", actual),
        ("geoexfil.baseline.first_seen made a string", nested),
        ("@timestamp not a date-time", time),
    ];
    for (what, document) in mutations {
        let errors = errors_of(&validator, &document);
        assert!(!errors.is_empty(), "the schema should reject an alert with {what}");
    }
}

#[test]
fn the_schema_is_valid_draft_2020_12_and_requires_the_chosen_top_level_keys() {
    let schema = schema();
    assert_eq!(schema["$schema"], "https://json-schema.org/draft/2020-12/schema");
    if let Err(error) = jsonschema::meta::validate(&schema) {
        panic!("the schema does not conform to its meta-schema: {error}");
    }
    validator();

    let required: Vec<&str> = schema["required"]
        .as_array()
        .expect("the schema lists required keys")
        .iter()
        .map(|key| key.as_str().expect("required keys are strings"))
        .collect();
    assert_eq!(required, REQUIRED_TOP_LEVEL);
    assert_eq!(schema["additionalProperties"], false);
    let properties = schema["properties"].as_object().expect("the schema lists properties");
    for key in REQUIRED_TOP_LEVEL {
        assert!(properties.contains_key(key), "{key} is required but not described");
    }
}
