//! Output: alerts and records as NDJSON, and the run summary for the terminal.
//!
//! An *alert document* is shaped like an Elastic Security alert of the reference rule, so that
//! tools that ingest those can ingest ours: the rule's identity and MITRE mapping under
//! `kibana.alert.*`, the anomaly record's fields at the top level as the reference's machine
//! learning alerts carry them, influencer values copied onto their ECS fields, and our own
//! evidence under `geoexfil.*`. `schema/alert.schema.json` is the machine-readable contract.

pub mod alert;
pub mod summary;
pub mod units;
