//! geoexfil finds data exfiltration to unusual destinations in network telemetry.
pub mod enrich;
pub mod filter;
pub mod flow;
pub mod job;
pub mod read;
pub mod skip;
pub mod bucket;
pub mod model;
pub mod rule;
pub mod score;
pub mod detect;
pub mod normalise;
pub mod output;
