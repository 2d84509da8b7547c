//! Jobs: what to total, over which field, and how to judge it.
//!
//! A *job* is data, not code (SPEC §2): the function (`high_sum` of bytes sent), the *over
//! field* whose values are judged against each other (country code, region, destination IP or
//! port), the bucket span and the influencer fields. A new split field is a new [`JobConfig`]
//! value, not a new module.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Three hours: the reference job's bucket span.
pub const DEFAULT_BUCKET_SECS: i64 = 3 * 3600;

/// How long after a bucket's end a flow may still arrive and be counted in it. Sensors log a
/// connection when it ends while its timestamp is its start, so a connection that lasted an hour
/// reaches us an hour "late"; one hour keeps those in their bucket while delaying scores by no
/// more than that.
pub const DEFAULT_ALLOWED_LATENESS_SECS: i64 = 3600;

/// A field of an enriched flow that a job can split on or name as an influencer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum FlowField {
    #[serde(rename = "destination.geo.country_iso_code")]
    CountryIsoCode,
    #[serde(rename = "destination.geo.country_name")]
    CountryName,
    #[serde(rename = "destination.geo.continent_name")]
    ContinentName,
    #[serde(rename = "destination.geo.region_name")]
    RegionName,
    #[serde(rename = "destination.geo.city_name")]
    CityName,
    #[serde(rename = "destination.ip")]
    DestinationIp,
    #[serde(rename = "destination.port")]
    DestinationPort,
    #[serde(rename = "source.ip")]
    SourceIp,
    #[serde(rename = "host.name")]
    HostName,
    #[serde(rename = "user.name")]
    UserName,
    #[serde(rename = "process.name")]
    ProcessName,
}

impl FlowField {
    /// True for the fields that come from the destination's location alone, so that every
    /// flow to one place has the same value.
    pub fn is_location(self) -> bool {
        matches!(
            self,
            FlowField::CountryIsoCode
                | FlowField::CountryName
                | FlowField::ContinentName
                | FlowField::RegionName
                | FlowField::CityName
        )
    }

    /// The ECS name of the field, as it appears in alerts.
    pub fn ecs_name(self) -> &'static str {
        match self {
            FlowField::CountryIsoCode => "destination.geo.country_iso_code",
            FlowField::CountryName => "destination.geo.country_name",
            FlowField::ContinentName => "destination.geo.continent_name",
            FlowField::RegionName => "destination.geo.region_name",
            FlowField::CityName => "destination.geo.city_name",
            FlowField::DestinationIp => "destination.ip",
            FlowField::DestinationPort => "destination.port",
            FlowField::SourceIp => "source.ip",
            FlowField::HostName => "host.name",
            FlowField::UserName => "user.name",
            FlowField::ProcessName => "process.name",
        }
    }
}

impl fmt::Display for FlowField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.ecs_name())
    }
}

/// The reference influencers of the country job (SPEC §2).
const COUNTRY_INFLUENCERS: [FlowField; 8] = [
    FlowField::HostName,
    FlowField::UserName,
    FlowField::ProcessName,
    FlowField::SourceIp,
    FlowField::DestinationIp,
    FlowField::ContinentName,
    FlowField::CountryName,
    FlowField::CountryIsoCode,
];

/// One anomaly-detection job: `high_sum` of bytes sent, split over one field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobConfig {
    /// Identifier written on every record and alert.
    pub job_id: String,
    /// One line saying what the job looks for.
    pub description: String,
    /// The field whose values are judged against each other (the "over" field).
    pub over_field: FlowField,
    /// Length of one bucket.
    pub bucket_secs: i64,
    /// How long after a bucket's end late flows are still counted in it.
    pub allowed_lateness_secs: i64,
    /// Fields whose values are reported as influencers of a record.
    pub influencers: Vec<FlowField>,
}

impl JobConfig {
    /// The reference job: high_sum of bytes sent over the destination country.
    pub fn country() -> JobConfig {
        JobConfig {
            job_id: "ded_high_sent_bytes_destination_geo_country_iso_code".into(),
            description: "unusual volume of bytes sent to a destination country".into(),
            over_field: FlowField::CountryIsoCode,
            bucket_secs: DEFAULT_BUCKET_SECS,
            allowed_lateness_secs: DEFAULT_ALLOWED_LATENESS_SECS,
            influencers: COUNTRY_INFLUENCERS.to_vec(),
        }
    }

    /// Sibling job over the destination region; needs a GeoIP database with regions.
    pub fn region() -> JobConfig {
        let mut influencers = COUNTRY_INFLUENCERS.to_vec();
        influencers.extend([FlowField::RegionName, FlowField::CityName]);
        JobConfig {
            job_id: "ded_high_sent_bytes_destination_geo_region_name".into(),
            description: "unusual volume of bytes sent to a destination region".into(),
            over_field: FlowField::RegionName,
            influencers,
            ..JobConfig::country()
        }
    }

    /// Sibling job over the destination address.
    pub fn destination_ip() -> JobConfig {
        JobConfig {
            job_id: "ded_high_sent_bytes_destination_ip".into(),
            description: "unusual volume of bytes sent to a destination address".into(),
            over_field: FlowField::DestinationIp,
            ..JobConfig::country()
        }
    }

    /// Sibling job over the destination port.
    pub fn destination_port() -> JobConfig {
        let mut influencers = COUNTRY_INFLUENCERS.to_vec();
        influencers.push(FlowField::DestinationPort);
        JobConfig {
            job_id: "ded_high_sent_bytes_destination_port".into(),
            description: "unusual volume of bytes sent to a destination port".into(),
            over_field: FlowField::DestinationPort,
            influencers,
            ..JobConfig::country()
        }
    }

    /// The short names accepted by `--job`, with the job each selects.
    pub fn builtin() -> Vec<(&'static str, JobConfig)> {
        vec![
            ("country", JobConfig::country()),
            ("region", JobConfig::region()),
            ("destination-ip", JobConfig::destination_ip()),
            ("destination-port", JobConfig::destination_port()),
        ]
    }

    /// Finds a built-in job by short name or full job id.
    pub fn by_name(name: &str) -> Option<JobConfig> {
        JobConfig::builtin()
            .into_iter()
            .find(|(short, job)| *short == name || job.job_id == name)
            .map(|(_, job)| job)
    }

    /// Start of the bucket holding `secs` (floor division, so times before 1970 work too).
    pub fn bucket_start(&self, secs: i64) -> i64 {
        secs.div_euclid(self.bucket_secs) * self.bucket_secs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_job_is_found_by_short_name_and_by_id() {
        for (short, job) in JobConfig::builtin() {
            assert_eq!(JobConfig::by_name(short).as_ref(), Some(&job));
            assert_eq!(JobConfig::by_name(&job.job_id).as_ref(), Some(&job));
        }
        assert_eq!(JobConfig::by_name("nope"), None);
    }

    #[test]
    fn reference_job_matches_the_reference_parameters() {
        let job = JobConfig::country();
        assert_eq!(job.over_field.ecs_name(), "destination.geo.country_iso_code");
        assert_eq!(job.bucket_secs, 10_800);
        let names: Vec<_> = job.influencers.iter().map(|f| f.ecs_name()).collect();
        assert_eq!(
            names,
            [
                "host.name",
                "user.name",
                "process.name",
                "source.ip",
                "destination.ip",
                "destination.geo.continent_name",
                "destination.geo.country_name",
                "destination.geo.country_iso_code"
            ]
        );
    }

    #[test]
    fn bucket_start_floors_including_before_the_epoch() {
        let job = JobConfig::country();
        assert_eq!(job.bucket_start(0), 0);
        assert_eq!(job.bucket_start(10_799), 0);
        assert_eq!(job.bucket_start(10_800), 10_800);
        assert_eq!(job.bucket_start(-1), -10_800);
    }
}
