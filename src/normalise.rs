//! Normalising: making each flow's byte count mean "new bytes sent", exactly once.
//!
//! Readers report what sensors wrote; sensors do not always write each byte once. Two cases are
//! corrected here before anything is counted:
//! - *Interim reports.* Packetbeat reports a long flow periodically with running totals under
//!   the same `flow.id`, marking all but the last with `flow.final: false`. Only the increase
//!   since the previous report of that flow is new.
//! - *Duplicates.* Overlapping sensors log the same flow more than once. Two flows with the same
//!   `network.community_id` that start within [`DUPLICATE_WINDOW_MICROS`] of each other are one
//!   flow. An empty or placeholder id (`""`, `-`) identifies nothing and is ignored.
//!
//! Both need memory of recent flows, bounded by [`MAX_TRACKED_FLOWS`]; entries older than
//! [`TRACKING_HORIZON_SECS`] of event time are forgotten first.

use crate::flow::{Flow, MICROS_PER_SEC};
use crate::skip::SkipReason;
use std::collections::{HashMap, VecDeque};

/// Flow identities remembered for each correction. One million entries (about 100 MB at worst)
/// covers hours of flows at a busy site; past it the oldest are forgotten, and a duplicate of a
/// forgotten flow is then counted twice.
pub const MAX_TRACKED_FLOWS: usize = 1_000_000;

/// How long a flow identity is remembered in event time. Packetbeat's default reporting period
/// is 10 s and sensors log the same flow within seconds of each other; a day leaves margin for
/// long connections.
pub const TRACKING_HORIZON_SECS: i64 = 24 * 3600;

/// Two sightings of one community id this close in start time are one flow seen twice. Sensors'
/// clocks and their first-packet times differ by milliseconds; a new connection with the same
/// five-tuple needs a fresh source port or at least seconds (TIME_WAIT).
pub const DUPLICATE_WINDOW_MICROS: i64 = 2_000_000;

/// A bounded map from flow identity to a value, forgetting the oldest first.
#[derive(Debug, Default)]
struct RecentMap<V> {
    entries: HashMap<String, (i64, V)>,
    order: VecDeque<(i64, String)>,
}

impl<V> RecentMap<V> {
    fn get(&self, key: &str) -> Option<&V> {
        self.entries.get(key).map(|(_, v)| v)
    }

    fn insert(&mut self, key: String, seen_secs: i64, value: V) {
        if self.entries.insert(key.clone(), (seen_secs, value)).is_none() {
            self.order.push_back((seen_secs, key));
        }
        while self.order.len() > MAX_TRACKED_FLOWS
            || self.order.front().is_some_and(|(t, _)| *t < seen_secs - TRACKING_HORIZON_SECS)
        {
            let Some((_, old)) = self.order.pop_front() else { break };
            self.entries.remove(&old);
        }
    }
}

/// Applies the corrections to a stream of flows.
#[derive(Debug, Default)]
pub struct Normaliser {
    bytes_reported: RecentMap<u64>,
    /// Start time of the last flow seen with each community id.
    seen: RecentMap<i64>,
}

impl Normaliser {
    /// Corrects `flow` in place, or says why it must not be counted.
    pub fn normalise(&mut self, flow: &mut Flow) -> Result<(), SkipReason> {
        let start_secs = flow.start_micros.div_euclid(MICROS_PER_SEC);
        let community_id =
            flow.community_id.as_deref().map(str::trim).filter(|id| !id.is_empty() && *id != "-");
        if let Some(community_id) = community_id {
            let is_report_of_known_flow =
                flow.flow_id.as_ref().is_some_and(|id| self.bytes_reported.get(id).is_some());
            let seen_close = self.seen.get(community_id).is_some_and(|&previous_start| {
                (flow.start_micros - previous_start).abs() <= DUPLICATE_WINDOW_MICROS
            });
            if seen_close && !is_report_of_known_flow {
                return Err(SkipReason::Duplicate);
            }
            self.seen.insert(community_id.to_string(), start_secs, flow.start_micros);
        }
        if let Some(flow_id) = &flow.flow_id {
            let is_running_total = flow.flow_final.is_some();
            if is_running_total {
                let total = flow.bytes_sent.unwrap_or(0);
                let previous = self.bytes_reported.get(flow_id).copied().unwrap_or(0);
                // A total below the previous one means the sensor restarted the flow's count.
                let increase = if total >= previous { total - previous } else { total };
                self.bytes_reported.insert(flow_id.clone(), start_secs, total);
                if flow.bytes_sent.is_some() {
                    flow.bytes_sent = Some(increase);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;

    fn flow(start_secs: i64, bytes: u64) -> Flow {
        Flow::new(
            start_secs * MICROS_PER_SEC,
            IpAddr::from([10, 0, 0, 1]),
            IpAddr::from([8, 8, 8, 8]),
            Some(bytes),
        )
    }

    #[test]
    fn interim_reports_count_only_the_increase() {
        let mut normaliser = Normaliser::default();
        let mut sent = Vec::new();
        for (total, is_final) in [(1000, false), (2500, false), (2500, false), (4000, true)] {
            let mut f = flow(100, total);
            f.flow_id = Some("EQA".into());
            f.flow_final = Some(is_final);
            normaliser.normalise(&mut f).unwrap();
            sent.push(f.bytes_sent.unwrap());
        }
        assert_eq!(sent, vec![1000, 1500, 0, 1500]);
        assert_eq!(sent.iter().sum::<u64>(), 4000);
    }

    #[test]
    fn the_same_flow_from_a_second_sensor_is_a_duplicate() {
        let mut normaliser = Normaliser::default();
        let mut a = flow(100, 500);
        a.community_id = Some("1:abc=".into());
        let mut b = a.clone();
        b.observer = Some("sensor-2".into());
        b.start_micros += 300_000;
        assert_eq!(normaliser.normalise(&mut a), Ok(()));
        assert_eq!(normaliser.normalise(&mut b), Err(SkipReason::Duplicate));
        // The same five-tuple a minute later is a new flow.
        let mut c = a.clone();
        c.start_micros += 60 * MICROS_PER_SEC;
        assert_eq!(normaliser.normalise(&mut c), Ok(()));
    }

    #[test]
    fn sightings_across_a_second_boundary_are_still_one_flow() {
        let mut normaliser = Normaliser::default();
        let mut a = flow(100, 500);
        a.start_micros += 900_000;
        a.community_id = Some("1:abc=".into());
        let mut b = a.clone();
        b.start_micros += 200_000;
        assert_eq!(normaliser.normalise(&mut a), Ok(()));
        assert_eq!(normaliser.normalise(&mut b), Err(SkipReason::Duplicate));
    }

    #[test]
    fn empty_and_placeholder_community_ids_identify_nothing() {
        let mut normaliser = Normaliser::default();
        for id in ["", " ", "-", "", "-"] {
            let mut f = flow(100, 5);
            f.community_id = Some(id.into());
            assert_eq!(normaliser.normalise(&mut f), Ok(()), "id {id:?}");
        }
    }

    #[test]
    fn flows_without_identity_pass_unchanged() {
        let mut normaliser = Normaliser::default();
        let mut f = flow(5, 42);
        let before = f.clone();
        normaliser.normalise(&mut f).unwrap();
        normaliser.normalise(&mut f).unwrap();
        assert_eq!(f, before);
    }

    #[test]
    fn old_identities_are_forgotten_after_the_horizon() {
        let mut normaliser = Normaliser::default();
        let mut a = flow(0, 1);
        a.community_id = Some("1:x".into());
        normaliser.normalise(&mut a).unwrap();
        let mut later = flow(TRACKING_HORIZON_SECS + 10, 1);
        later.community_id = Some("1:y".into());
        normaliser.normalise(&mut later).unwrap();
        assert!(normaliser.seen.get("1:x").is_none());
    }
}
