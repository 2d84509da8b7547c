//! `geoexfil generate`: realistic flow logs of any size, in every input format geoexfil reads,
//! for benchmarks and for trying the tool.
//!
//! The traffic is the evaluation's *synthetic organisation* ([`crate::eval::synthetic`]):
//! hosts with roles, usual countries, an office rhythm and flow sizes from a real traffic
//! profile, grown to the requested *flows* (or output *size*), *hosts*, *destinations* (distinct
//! public addresses, each in the country the embedded GeoIP database gives it) and *days*.
//! The pipeline is: [`plan`] deals the flows out over hosts and time, slice by slice;
//! [`destinations`] gives each country its addresses; [`write`] spells each flow in the chosen
//! format. Flows come out in non-decreasing order of end time, the time the detector counts
//! them at. Memory does not grow with the number of flows: one slice is held at a time. The
//! same options and seed give byte-identical output, and the same flows in every format.

pub mod destinations;
pub mod plan;
pub mod write;

use crate::eval::profile::TrafficProfile;
use crate::eval::synthetic::{port_and_transport, OrgConfig, SyntheticOrg, DEFAULT_START_SECS};
use crate::flow::MICROS_PER_SEC;
use crate::read::InputFormat;
use anyhow::Context;
use destinations::DestinationPools;
use plan::{PlannedFlow, Planner};
use std::io::Write;
use write::FlowRecord;

/// A thousand hosts: a mid-sized organisation, and enough to exercise per-host state.
pub const DEFAULT_HOSTS: usize = 1_000;
/// A hundred thousand distinct destinations: what a mid-sized organisation reaches in a month.
pub const DEFAULT_DESTINATIONS: u64 = 100_000;
/// A million flows: a file of a couple of hundred megabytes, quick to write and to read.
pub const DEFAULT_FLOWS: u64 = 1_000_000;
/// The hosts' addresses come from the synthetic organisation's /16, 250 to each /24 after the
/// first: room for about 64,000.
pub const MAX_HOSTS: usize = 60_000;
/// Ten years; the random streams number slices in 32 bits, which this leaves room for.
pub const MAX_DAYS: u32 = 3_660;
/// Distinct destinations seen are counted in a bitmap of this many bits (12.5 MB).
pub const MAX_DESTINATIONS: u64 = 100_000_000;
/// Output is handed to the sink in pieces of about this size: large enough that system calls
/// and compression see big blocks, small enough to stay in cache.
const FLUSH_BYTES: usize = 1 << 20;
/// Flows written (and thrown away) to measure a format's bytes per flow for `--bytes`: enough
/// for the mean line length to be known to a fraction of a percent.
const SIZE_SAMPLE_FLOWS: u64 = 20_000;
/// `--bytes` plans this share more flows than the sample's line length says, so that output
/// reaches the size before the flows run out; the plan's last days are then not written.
const SIZE_MARGIN: f64 = 0.02;

/// How much to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Amount {
    /// Exactly this many flows.
    Flows(u64),
    /// Whole lines up to this many bytes of (uncompressed) output, footer included.
    Bytes(u64),
}

/// Settings of `geoexfil generate`.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerateOptions {
    pub format: InputFormat,
    pub amount: Amount,
    pub hosts: usize,
    /// Distinct destination addresses to spread flows over (about; at least one per country).
    pub destinations: u64,
    pub days: u32,
    /// The first day's 00:00 UTC.
    pub start_secs: i64,
    pub seed: u64,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        GenerateOptions {
            format: InputFormat::ZeekTsv,
            amount: Amount::Flows(DEFAULT_FLOWS),
            hosts: DEFAULT_HOSTS,
            destinations: DEFAULT_DESTINATIONS,
            days: crate::eval::synthetic::DEFAULT_DAYS,
            start_secs: DEFAULT_START_SECS,
            seed: 1,
        }
    }
}

impl GenerateOptions {
    fn validate(&self) -> anyhow::Result<()> {
        if self.hosts == 0 || self.hosts > MAX_HOSTS {
            anyhow::bail!("hosts {} out of range; give 1 to {MAX_HOSTS}", self.hosts);
        }
        if self.days == 0 || self.days > MAX_DAYS {
            anyhow::bail!("days {} out of range; give 1 to {MAX_DAYS}", self.days);
        }
        if self.destinations == 0 || self.destinations > MAX_DESTINATIONS {
            let wanted = self.destinations;
            anyhow::bail!("destinations {wanted} out of range; give 1 to {MAX_DESTINATIONS}");
        }
        if self.start_secs < 0 {
            anyhow::bail!("start {} is before 1970; give a later date", self.start_secs);
        }
        // detect rejects flows dated after the wall clock (a sensor with a wrong clock), so
        // traffic that ends in the future could not be read back.
        let end_secs = self.start_secs + i64::from(self.days) * 86_400;
        let now_secs = chrono::Utc::now().timestamp();
        if end_secs > now_secs {
            let end = crate::output::units::iso_time(end_secs);
            anyhow::bail!(
                "the traffic would end at {end}, in the future, where detect refuses it; give \
                 an earlier --start or fewer --days"
            );
        }
        Ok(())
    }
}

/// What was written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GenerateSummary {
    pub flows: u64,
    /// Output bytes before compression.
    pub output_bytes: u64,
    /// The sum of every flow's bytes sent (`orig_bytes`, `source.bytes`, ...).
    pub bytes_sent: u64,
    pub hosts: u64,
    pub destinations: u64,
    pub countries: u64,
    /// Of `flows`, those of the nightly backups.
    pub backup_flows: u64,
    pub first_end_micros: Option<i64>,
    pub last_end_micros: Option<i64>,
}

impl std::fmt::Display for GenerateSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "generated {} flows, {} bytes of output, {} bytes sent, from {} hosts to {} \
             destinations in {} countries",
            self.flows,
            self.output_bytes,
            self.bytes_sent,
            self.hosts,
            self.destinations,
            self.countries
        )
    }
}

/// The organisation, its destination pools and the writer of one run.
struct Generator {
    org: SyntheticOrg,
    pools: DestinationPools,
}

impl Generator {
    fn new(options: &GenerateOptions) -> anyhow::Result<Generator> {
        options.validate()?;
        let profile = TrafficProfile::fixture()?;
        let config = OrgConfig {
            hosts: options.hosts,
            days: options.days,
            start_secs: options.start_secs,
            ..OrgConfig::default()
        };
        let org = SyntheticOrg::new(&profile, config, options.seed);
        let weights: Vec<(&str, f64)> =
            org.country_models().iter().map(|c| (c.code.as_str(), c.flow_weight)).collect();
        let pools = DestinationPools::new(&weights, options.destinations);
        if let Some(empty) = (0..weights.len()).find(|&c| pools.pool_size(c) == 0) {
            anyhow::bail!("the embedded geoip database has no address for {}", weights[empty].0);
        }
        Ok(Generator { org, pools })
    }

    /// Writes `flows` planned flows in `format` to `sink`, stopping early at `byte_limit`.
    fn run(
        &self,
        format: InputFormat,
        flows: u64,
        byte_limit: Option<u64>,
        sink: &mut dyn Write,
    ) -> anyhow::Result<GenerateSummary> {
        let org = &self.org;
        let mut planner = Planner::new(org, &self.pools, flows);
        let mut writer = write::writer_for(format, org.seed());
        let mut summary =
            GenerateSummary { backup_flows: planner.backup_flows(), ..Default::default() };
        let mut buffer: Vec<u8> = Vec::with_capacity(FLUSH_BYTES + (FLUSH_BYTES >> 4));
        writer.header(org.config().start_secs, &mut buffer);
        let mut last_secs = org.config().start_secs;
        let footer_bytes = {
            let mut footer = Vec::new();
            writer.footer(last_secs, &mut footer);
            footer.len() as u64
        };
        let line_limit = byte_limit.map(|limit| limit.saturating_sub(footer_bytes));
        let mut seen = Seen::new(org.hosts().len(), org.country_models().len(), &self.pools);
        let mut planned: Vec<PlannedFlow> = Vec::new();
        let mut full = false;
        'days: for day in 0..org.config().days {
            for slice in 0..planner.slices_per_day() {
                planner.plan_slice(day, slice, &mut planned);
                for flow in &planned {
                    let mark = buffer.len();
                    writer.record(&self.record(summary.flows, flow), &mut buffer);
                    let written = summary.output_bytes + buffer.len() as u64;
                    if line_limit.is_some_and(|limit| written > limit) {
                        buffer.truncate(mark);
                        full = true;
                        break;
                    }
                    summary.flows += 1;
                    summary.bytes_sent += flow.bytes_sent;
                    summary.first_end_micros.get_or_insert(flow.end_micros);
                    summary.last_end_micros = Some(flow.end_micros);
                    seen.mark(flow);
                    if buffer.len() >= FLUSH_BYTES {
                        summary.output_bytes += buffer.len() as u64;
                        sink.write_all(&buffer).context("writing the generated flows")?;
                        buffer.clear();
                    }
                }
                if full {
                    break 'days;
                }
            }
        }
        if let Some(last) = summary.last_end_micros {
            last_secs = last.div_euclid(MICROS_PER_SEC);
        }
        writer.footer(last_secs, &mut buffer);
        summary.output_bytes += buffer.len() as u64;
        sink.write_all(&buffer).context("writing the generated flows")?;
        sink.flush().context("writing the generated flows")?;
        (summary.hosts, summary.destinations, summary.countries) = seen.counts();
        Ok(summary)
    }

    fn record(&self, sequence: u64, flow: &PlannedFlow) -> FlowRecord<'_> {
        let host = &self.org.hosts()[flow.host as usize];
        let (destination_port, transport) = port_and_transport(flow.port_choice);
        FlowRecord {
            sequence,
            start_micros: flow.end_micros - flow.duration_micros,
            duration_micros: flow.duration_micros,
            source_ip: host.ip,
            source_port: flow.source_port,
            destination_ip: flow.destination_ip,
            destination_port,
            transport,
            bytes_sent: flow.bytes_sent,
            bytes_received: flow.bytes_received,
            host_name: &host.name,
            country_iso_code: &self.org.country_models()[usize::from(flow.country)].code,
        }
    }

    /// Flows to plan so that `format` fills `bytes`: the bytes per flow of a small plan of
    /// the same organisation, plus a margin.
    fn flows_for_bytes(&self, format: InputFormat, bytes: u64) -> anyhow::Result<u64> {
        let mut sample = CountingSink::default();
        let summary = self.run(format, SIZE_SAMPLE_FLOWS, None, &mut sample)?;
        let mut empty = CountingSink::default();
        let overhead = self.run(format, 0, None, &mut empty)?.output_bytes;
        let per_flow = (summary.output_bytes - overhead) as f64 / summary.flows.max(1) as f64;
        let flows = bytes.saturating_sub(overhead) as f64 / per_flow * (1.0 + SIZE_MARGIN);
        Ok(flows.ceil() as u64)
    }
}

/// Which hosts, destinations and countries have had a flow.
struct Seen {
    hosts: Vec<bool>,
    countries: Vec<bool>,
    destinations: Vec<u64>,
}

impl Seen {
    fn new(hosts: usize, countries: usize, pools: &DestinationPools) -> Seen {
        let words = pools.total_pool_size().div_ceil(64) as usize;
        Seen {
            hosts: vec![false; hosts],
            countries: vec![false; countries],
            destinations: vec![0; words],
        }
    }

    fn mark(&mut self, flow: &PlannedFlow) {
        self.hosts[flow.host as usize] = true;
        self.countries[usize::from(flow.country)] = true;
        let number = flow.destination_number as usize;
        self.destinations[number / 64] |= 1 << (number % 64);
    }

    fn counts(&self) -> (u64, u64, u64) {
        let count = |flags: &[bool]| flags.iter().filter(|&&seen| seen).count() as u64;
        let destinations = self.destinations.iter().map(|w| u64::from(w.count_ones())).sum();
        (count(&self.hosts), destinations, count(&self.countries))
    }
}

/// A sink that only counts, for measuring output size.
#[derive(Default)]
struct CountingSink {
    bytes: u64,
}

impl Write for CountingSink {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.bytes += data.len() as u64;
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Generates flows as `options` say and writes them to `sink`.
pub fn generate(
    options: &GenerateOptions,
    sink: &mut dyn Write,
) -> anyhow::Result<GenerateSummary> {
    let generator = Generator::new(options)?;
    match options.amount {
        Amount::Flows(flows) => generator.run(options.format, flows, None, sink),
        Amount::Bytes(bytes) => {
            let flows = generator.flows_for_bytes(options.format, bytes)?;
            generator.run(options.format, flows, Some(bytes), sink)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::enrich::GeoDb;
    use crate::flow::Flow;
    use crate::read::{parser_for, LineOutcome};
    use std::collections::BTreeSet;

    fn small(format: InputFormat, amount: Amount) -> GenerateOptions {
        GenerateOptions {
            format,
            amount,
            hosts: 40,
            destinations: 300,
            days: 3,
            ..GenerateOptions::default()
        }
    }

    fn generate_text(options: &GenerateOptions) -> (Vec<u8>, GenerateSummary) {
        let mut out = Vec::new();
        let summary = generate(options, &mut out).unwrap();
        assert_eq!(summary.output_bytes, out.len() as u64);
        (out, summary)
    }

    /// Reads generated output back with the project's own reader; every line must be a flow,
    /// a header or a footer.
    fn read_back(format: InputFormat, text: &[u8]) -> Vec<Flow> {
        let mut parser = parser_for(format);
        let mut flows = Vec::new();
        for line in std::str::from_utf8(text).unwrap().lines() {
            match parser.parse_line(line) {
                Ok(LineOutcome::Flow(flow)) => flows.push(flow),
                Ok(LineOutcome::Ignored) => {}
                other => panic!("{format}: {other:?} for {line}"),
            }
        }
        flows
    }

    /// The facts every format carries.
    fn essentials(flow: &Flow) -> (i64, Option<i64>, String, String, Option<u16>, Option<u64>) {
        (
            flow.start_micros,
            flow.end_micros,
            flow.source_ip.to_string(),
            flow.destination_ip.to_string(),
            flow.destination_port,
            flow.bytes_sent,
        )
    }

    #[test]
    fn every_format_reads_back_exactly_with_the_same_flows() {
        let mut reference = None;
        for format in InputFormat::ALL {
            let (text, summary) = generate_text(&small(format, Amount::Flows(3_000)));
            let flows = read_back(format, &text);
            assert_eq!((summary.flows, flows.len()), (3_000, 3_000), "{format}");
            let bytes_sent: u64 = flows.iter().map(|f| f.bytes_sent.unwrap()).sum();
            assert_eq!(bytes_sent, summary.bytes_sent, "{format}");
            let received: u64 = flows.iter().map(|f| f.bytes_received.unwrap()).sum();
            assert!(received > 0, "{format}");
            let ends: Vec<i64> = flows.iter().map(|f| f.end_micros.unwrap()).collect();
            assert!(ends.windows(2).all(|w| w[0] <= w[1]), "{format}: out of order");
            assert_eq!(ends.first().copied(), summary.first_end_micros);
            assert_eq!(ends.last().copied(), summary.last_end_micros);
            let start = DEFAULT_START_SECS * MICROS_PER_SEC;
            assert!(ends[0] >= start && ends[2_999] < start + 3 * 86_400 * MICROS_PER_SEC);
            let destinations: BTreeSet<String> =
                flows.iter().map(|f| f.destination_ip.to_string()).collect();
            assert_eq!(destinations.len() as u64, summary.destinations, "{format}");
            let hosts: BTreeSet<String> = flows.iter().map(|f| f.source_ip.to_string()).collect();
            assert_eq!(hosts.len() as u64, summary.hosts, "{format}");
            let facts: Vec<_> = flows.iter().map(essentials).collect();
            match &reference {
                None => reference = Some(facts),
                Some(expected) => assert!(expected == &facts, "{format} has other flows"),
            }
        }
    }

    #[test]
    fn same_options_same_bytes_other_seed_other_bytes() {
        for format in InputFormat::ALL {
            let options = small(format, Amount::Flows(2_000));
            let (first, _) = generate_text(&options);
            let (second, _) = generate_text(&options);
            assert!(first == second, "{format} differs between runs");
            let (other, _) = generate_text(&GenerateOptions { seed: 2, ..options });
            assert!(first != other, "{format} ignores the seed");
        }
    }

    #[test]
    fn destinations_are_about_as_many_as_asked_and_located_in_their_country() {
        let options = GenerateOptions {
            format: InputFormat::Ecs,
            amount: Amount::Flows(20_000),
            hosts: 200,
            destinations: 2_000,
            days: 2,
            ..GenerateOptions::default()
        };
        let (text, summary) = generate_text(&options);
        assert!((1_800..=2_100).contains(&summary.destinations), "{summary}");
        assert!(summary.countries >= 40, "{summary}");
        let db = GeoDb::embedded().unwrap();
        for flow in read_back(InputFormat::Ecs, &text).iter().step_by(97) {
            let written = flow.destination_geo.as_ref().unwrap().country_iso_code.clone();
            let located = db.lookup(flow.destination_ip).map(|l| l.country_iso_code);
            assert_eq!(written, located, "{}", flow.destination_ip);
            assert!(crate::filter::is_public(flow.destination_ip));
        }
    }

    #[test]
    fn a_size_is_filled_to_within_one_line() {
        for format in [InputFormat::ZeekTsv, InputFormat::Argus] {
            let limit = 400_000;
            let (text, summary) = generate_text(&small(format, Amount::Bytes(limit)));
            assert!(summary.output_bytes <= limit, "{summary}");
            assert!(summary.output_bytes > limit - 1_000, "{summary}");
            assert_eq!(read_back(format, &text).len() as u64, summary.flows);
        }
    }

    #[test]
    fn no_flows_gives_header_and_footer_only() {
        let (text, summary) = generate_text(&small(InputFormat::ZeekTsv, Amount::Flows(0)));
        assert_eq!((summary.flows, summary.hosts, summary.destinations), (0, 0, 0));
        assert!(read_back(InputFormat::ZeekTsv, &text).is_empty());
    }

    #[test]
    fn bad_options_name_the_value() {
        let mut sink = Vec::new();
        let error =
            generate(&GenerateOptions { hosts: 0, ..GenerateOptions::default() }, &mut sink);
        assert!(error.unwrap_err().to_string().contains("hosts 0 out of range"));
        let days = GenerateOptions { days: MAX_DAYS + 1, ..GenerateOptions::default() };
        assert!(generate(&days, &mut sink).unwrap_err().to_string().contains("days 3661"));
        let future = GenerateOptions {
            start_secs: chrono::Utc::now().timestamp(),
            ..GenerateOptions::default()
        };
        let error = generate(&future, &mut sink).unwrap_err().to_string();
        assert!(error.contains("in the future, where detect refuses it"), "{error}");
    }
}
