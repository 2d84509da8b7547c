//! geoexfil finds data exfiltration to unusual destinations in network telemetry.
pub mod bucket;
pub mod detect;
pub mod enrich;
pub mod eval;
pub mod filter;
pub mod flow;
pub mod generate;
pub mod job;
pub mod model;
pub mod normalise;
pub mod output;
pub mod read;
pub mod rule;
pub mod run;
pub mod score;
pub mod skip;
pub mod state;
