//! The `geoexfil` command line: a thin layer over the library's `run` module.

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use geoexfil::detect::pipeline::default_threads;
use geoexfil::filter::NetworkSet;
use geoexfil::job::JobConfig;
use geoexfil::model::{ModelConfig, DEFAULT_MAX_PARTITIONS, DEFAULT_MIN_ANOMALOUS_BYTES};
use geoexfil::output::units::parse_size;
use geoexfil::read::InputFormat;
use geoexfil::rule::RuleConfig;
use geoexfil::run::{run_detect, DetectOptions, Sink};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// jemalloc instead of the system allocator. A run's batches are allocated on the worker
/// threads and freed on the folding one; glibc's per-thread arenas fragment under that pattern,
/// and a 5 GB run peaked 16% above a 1 GB run of the same traffic, where with jemalloc the
/// 10 GB run stays within 9% (BENCHMARKS.md). mimalloc was also tried: as fast, but it doubled
/// the peak.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

const LONG_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    "\nembedded GeoIP: DB-IP IP to Country Lite, CC BY 4.0. IP Geolocation by DB-IP \
     (https://db-ip.com)"
);

/// Finds data exfiltration to unusual countries in network telemetry.
#[derive(Parser)]
#[command(name = "geoexfil", version, long_version = LONG_VERSION)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log detail on standard error: error, warn, info, debug or trace.
    #[arg(long, global = true, default_value = "warn")]
    log_level: String,
}

#[derive(Subcommand)]
enum Command {
    /// Learn normal outbound volume per destination and alert on unusual buckets.
    Detect(Box<DetectArgs>),
    /// Measure detection on real and synthetic traffic with injected exfiltration.
    Eval(EvalArgs),
    /// Write realistic synthetic flow logs of any size, for benchmarks and for trying geoexfil.
    Generate(GenerateArgs),
}

#[derive(Args)]
#[command(group(clap::ArgGroup::new("amount").args(["flows", "bytes"])))]
struct GenerateArgs {
    /// Output format: zeek-tsv, zeek-json, suricata, ecs or argus.
    #[arg(long, value_parser = parse_format)]
    format: InputFormat,
    /// Write exactly this many flows.
    #[arg(long, default_value_t = geoexfil::generate::DEFAULT_FLOWS)]
    flows: u64,
    /// Instead of --flows: write whole lines up to this much output before compression,
    /// such as 500MB, 10GB or 1GiB. The file then covers most of the days.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    bytes: Option<u64>,
    /// Internal hosts that send the flows (workstations, servers and backup hosts).
    #[arg(long, default_value_t = geoexfil::generate::DEFAULT_HOSTS)]
    hosts: usize,
    /// Distinct public destination addresses to spread flows over, shared among countries by
    /// their traffic, at least one per country (so about 190 at the least). Every one is
    /// reached once the flows are about twice as many.
    #[arg(long, default_value_t = geoexfil::generate::DEFAULT_DESTINATIONS)]
    destinations: u64,
    /// Days of traffic, from --start.
    #[arg(long, default_value_t = geoexfil::eval::synthetic::DEFAULT_DAYS)]
    days: u32,
    /// First day (UTC), as YYYY-MM-DD.
    #[arg(long, value_name = "DATE", default_value = "2024-01-01", value_parser = parse_date_secs)]
    start: i64,
    /// Seed of every random choice: the same options and seed give the same bytes, and the
    /// same flows in every format.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Where to write; a path ending in .gz is compressed. Standard output by default.
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Print no summary.
    #[arg(long, short)]
    quiet: bool,
}

fn parse_date_secs(text: &str) -> Result<i64, String> {
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map(|date| date.and_time(chrono::NaiveTime::MIN).and_utc().timestamp())
        .map_err(|e| format!("date {text:?} is not YYYY-MM-DD: {e}"))
}

/// Gzip level 1: several times faster than the default level for about a tenth more bytes,
/// which matters when writing files of gigabytes.
const GENERATE_GZIP_LEVEL: u32 = 1;

fn run_generate(args: &GenerateArgs) -> anyhow::Result<()> {
    use geoexfil::generate::{generate, Amount, GenerateOptions};
    use std::io::Write;
    let options = GenerateOptions {
        format: args.format,
        amount: args.bytes.map_or(Amount::Flows(args.flows), Amount::Bytes),
        hosts: args.hosts,
        destinations: args.destinations,
        days: args.days,
        start_secs: args.start,
        seed: args.seed,
    };
    let summary = match &args.output {
        None => generate(&options, &mut std::io::stdout().lock())?,
        Some(path) => {
            let file = std::fs::File::create(path)
                .with_context(|| format!("creating {}", path.display()))?;
            if path.extension().is_some_and(|e| e == "gz") {
                let level = flate2::Compression::new(GENERATE_GZIP_LEVEL);
                let mut encoder = flate2::write::GzEncoder::new(file, level);
                let summary = generate(&options, &mut encoder)?;
                encoder.finish()?.flush().with_context(|| format!("writing {}", path.display()))?;
                summary
            } else {
                generate(&options, &mut std::io::BufWriter::new(file))
                    .with_context(|| format!("writing {}", path.display()))?
            }
        }
    };
    if !args.quiet {
        write_stderr(&format!("{summary}\n"));
    }
    Ok(())
}

#[derive(Args)]
struct EvalArgs {
    /// The shared data folder with the real captures.
    #[arg(long, default_value = "../shared/data")]
    data: PathBuf,
    /// Seed of the timeline layout and the injections.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Virtual hosts of the real timeline.
    #[arg(long, default_value_t = 4)]
    hosts: usize,
    /// Hosts of the synthetic organisation.
    #[arg(long, default_value_t = 200)]
    synthetic_hosts: usize,
    /// Where to write the report (Markdown); it is also printed.
    #[arg(long, default_value = "EVALUATION.md")]
    out: PathBuf,
    /// Days of the timeline.
    #[arg(long, default_value_t = 28)]
    days: u32,
    /// Seeded repetitions of every scenario.
    #[arg(long, default_value_t = 1)]
    repeats: u32,
}

fn parse_duration_secs(text: &str) -> Result<i64, String> {
    let duration: Duration = humantime::parse_duration(text)
        .map_err(|e| format!("{e}; write a duration such as 3h, 15m or 90s"))?;
    // Every duration here is compared with bucket starts, which are whole seconds: a fraction
    // would be cut silently, and 500ms would mean 0s.
    if duration.subsec_nanos() != 0 {
        return Err(format!("{text} is not a whole number of seconds; durations count seconds"));
    }
    i64::try_from(duration.as_secs()).map_err(|_| "duration too long".to_string())
}

fn parse_threads(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("give at least 1 thread (the default is one per core)".to_string()),
        Ok(threads) => Ok(threads),
        Err(e) => Err(format!("{e}; give a number of threads such as 2")),
    }
}

/// A size as [`parse_size`] reads it, or 0.
fn parse_size_or_zero(text: &str) -> Result<u64, String> {
    if text.trim() == "0" {
        return Ok(0);
    }
    parse_size(text)
}

fn parse_format(text: &str) -> Result<InputFormat, String> {
    InputFormat::from_name(text).ok_or_else(|| {
        let names: Vec<&str> = InputFormat::ALL.iter().map(|f| f.as_str()).collect();
        format!("unknown format {text:?}; choose one of {}", names.join(", "))
    })
}

fn parse_job(text: &str) -> Result<JobConfig, String> {
    JobConfig::by_name(text).ok_or_else(|| {
        let names: Vec<&str> = JobConfig::builtin().iter().map(|(n, _)| *n).collect();
        format!("unknown job {text:?}; choose one of {} or a full job id", names.join(", "))
    })
}

fn parse_sink(text: &str) -> Result<Sink, String> {
    Ok(if text == "-" { Sink::Stdout } else { Sink::File(PathBuf::from(text)) })
}

#[derive(Args)]
struct DetectArgs {
    /// Input files, directories, glob patterns, or - for standard input. Gzip is read
    /// transparently. Give files in time order: the clock runs on the data's timestamps.
    #[arg(required = true)]
    inputs: Vec<String>,
    /// Input format, when it cannot be detected from the content:
    /// zeek-tsv, zeek-json, suricata, ecs or argus.
    #[arg(long, value_parser = parse_format)]
    format: Option<InputFormat>,
    /// Job: country (the reference job), region, destination-ip or destination-port.
    #[arg(long, default_value = "country", value_parser = parse_job)]
    job: JobConfig,
    /// Bucket span.
    #[arg(long, value_name = "DURATION", default_value = "3h", value_parser = parse_duration_secs)]
    bucket_span: i64,
    /// How long after a bucket ends late flows are still counted in it.
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = parse_duration_secs)]
    allowed_lateness: i64,
    /// GeoIP2/GeoLite2 Country or City file, or a DB-IP City/Country file (.mmdb), instead
    /// of the embedded DB-IP country database.
    #[arg(long, value_name = "FILE")]
    geoip: Option<PathBuf>,
    /// Look every destination up in the GeoIP database even when the event carries geo fields.
    #[arg(long)]
    reresolve_geo: bool,
    /// Internal networks, comma-separated CIDRs (replaces the default RFC 1918, CGNAT,
    /// fc00::/7 and fe80::/10). Use it when monitored hosts have public addresses.
    #[arg(long, value_name = "CIDRS", value_delimiter = ',')]
    internal: Vec<String>,
    /// Ignore the sensor's own direction (Zeek local_orig/local_resp, ECS network.direction)
    /// and decide from the internal networks alone.
    #[arg(long)]
    ignore_sensor_direction: bool,
    /// State database (SQLite). With it, a later run continues where this one stopped and
    /// input already processed is not counted again.
    #[arg(long, value_name = "FILE")]
    state: Option<PathBuf>,
    /// Close and score every open bucket at the end of input. This is the default without
    /// --state; with --state, open buckets wait for the next run unless this is given.
    #[arg(long)]
    flush: bool,
    /// Where to write alerts as NDJSON; - for standard output.
    #[arg(long, value_name = "FILE", default_value = "-", value_parser = parse_sink)]
    alerts: Sink,
    /// Also write every anomaly record with a score above 0 as NDJSON.
    #[arg(long, value_name = "FILE", value_parser = parse_sink)]
    records: Option<Sink>,
    /// Record score at or above which the rule alerts.
    #[arg(long, default_value_t = 75.0)]
    threshold: f64,
    /// How often the rule runs on the data's clock.
    #[arg(long, value_name = "DURATION", default_value = "15m", value_parser = parse_duration_secs)]
    rule_interval: i64,
    /// How far back each rule run looks.
    #[arg(long, value_name = "DURATION", default_value = "6h", value_parser = parse_duration_secs)]
    lookback: i64,
    /// At most this many alerts per rule run.
    #[arg(long, default_value_t = 100)]
    max_alerts_per_run: usize,
    /// From the first bucket of a new job, how long records are scored and written but do not
    /// alert, while baselines and daily patterns are learned. 0s alerts from the start.
    #[arg(long, value_name = "DURATION", default_value = "72h", value_parser = parse_duration_secs)]
    learning_period: i64,
    /// Bucket and day/week window totals smaller than this are never anomalous, whatever the
    /// destination: a few hundred kilobytes to an unusual place is browsing, not a leak.
    #[arg(long, value_name = "SIZE", default_value_t = DEFAULT_MIN_ANOMALOUS_BYTES,
          value_parser = parse_size_or_zero)]
    min_anomalous_bytes: u64,
    /// At most this many over values (countries, addresses, ports) are modelled.
    #[arg(long, default_value_t = DEFAULT_MAX_PARTITIONS)]
    max_over_values: usize,
    /// Memory for all baselines and (host, destination) pairs, e.g. 512MiB or 4GiB. Past it,
    /// new over values are judged without a baseline of their own, and the summary says so.
    #[arg(long, value_name = "SIZE", default_value = "1GiB", value_parser = parse_size)]
    max_model_memory: u64,
    /// A (host, destination) pair that carries nothing for this long is forgotten, so that
    /// memory does not grow with the job's age; seen again, it counts as first-time. 0s keeps
    /// every pair.
    #[arg(long, value_name = "DURATION", default_value = "42d", value_parser = parse_duration_secs)]
    pair_retention: i64,
    /// Threads that read and prepare input (parsing, filtering, GeoIP, bucket totals); the
    /// default is one per core. Results are identical at any number.
    #[arg(long, default_value_t = default_threads(),
          value_parser = parse_threads)]
    threads: usize,
    /// Print no summary.
    #[arg(long, short)]
    quiet: bool,
}

impl DetectArgs {
    fn into_options(self) -> anyhow::Result<DetectOptions> {
        let internal = if self.internal.is_empty() {
            NetworkSet::default_internal()
        } else {
            NetworkSet::parse(&self.internal).context("--internal")?
        };
        if self.bucket_span <= 0 {
            anyhow::bail!("--bucket-span must be longer than zero");
        }
        let mut job = self.job;
        job.bucket_secs = self.bucket_span;
        job.allowed_lateness_secs = self.allowed_lateness;
        Ok(DetectOptions {
            inputs: self.inputs,
            format: self.format,
            job,
            model: ModelConfig {
                max_partitions: self.max_over_values,
                max_model_bytes: self.max_model_memory,
                learning_period_secs: self.learning_period,
                min_anomalous_bytes: self.min_anomalous_bytes,
                pair_retention_secs: self.pair_retention,
                ..ModelConfig::default()
            },
            rule: RuleConfig {
                interval_secs: self.rule_interval,
                lookback_secs: self.lookback,
                score_threshold: self.threshold,
                max_alerts_per_run: self.max_alerts_per_run,
            },
            geoip: self.geoip,
            use_event_geo: !self.reresolve_geo,
            internal,
            trust_sensor_direction: !self.ignore_sensor_direction,
            flush: self.flush || self.state.is_none(),
            state: self.state,
            alerts: Some(self.alerts),
            records: self.records,
            threads: self.threads,
        })
    }
}

/// Writes to standard error, ignoring a closed pipe (`geoexfil detect ... 2>&1 | head`): the
/// summary is a courtesy, and losing it must not turn a finished run into a crash.
fn write_stderr(text: &str) {
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// An error with its causes, each cause said once: many errors already quote their cause in
/// their own message (a SQLite failure names the file, then SQLite says it again), and
/// repeating it buries the one line that matters.
fn error_text(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain() {
        let said = cause.to_string();
        if !text.contains(&said) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&said);
        }
    }
    text
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            // Help and version are not errors; every usage error exits 1, keeping 2 for "the
            // run completed but some input was skipped".
            let code = if error.use_stderr() { 1 } else { 0 };
            let _ = error.print();
            return ExitCode::from(code);
        }
    };
    let filter = tracing_subscriber::EnvFilter::try_new(&cli.log_level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .without_time()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .init();
    if let Command::Eval(args) = &cli.command {
        let options = geoexfil::eval::EvalOptions {
            data_dir: args.data.clone(),
            seed: args.seed,
            real_hosts: args.hosts,
            synthetic_hosts: args.synthetic_hosts,
            days: args.days,
            repeats: args.repeats,
        };
        let command = format!(
            "geoexfil eval --data {} --seed {} --hosts {} --synthetic-hosts {} --days {} \
             --repeats {}",
            args.data.display(),
            args.seed,
            args.hosts,
            args.synthetic_hosts,
            args.days,
            args.repeats
        );
        let written = geoexfil::eval::evaluate_all(&options, &command).and_then(|report| {
            std::fs::write(&args.out, &report)
                .with_context(|| format!("writing {}", args.out.display()))?;
            Ok(report)
        });
        return match written {
            Ok(report) => {
                let _ = std::io::stdout().lock().write_all(report.as_bytes());
                ExitCode::SUCCESS
            }
            Err(error) => {
                write_stderr(&format!("error: {}\n", error_text(&error)));
                ExitCode::FAILURE
            }
        };
    }
    if let Command::Generate(args) = &cli.command {
        return match run_generate(args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                write_stderr(&format!("error: {}\n", error_text(&error)));
                ExitCode::FAILURE
            }
        };
    }
    let result = match cli.command {
        Command::Eval(_) | Command::Generate(_) => unreachable!("handled above"),
        Command::Detect(args) => {
            let quiet = args.quiet;
            args.into_options()
                .and_then(|options| run_detect(&options))
                .map(|outcome| (outcome, quiet))
        }
    };
    match result {
        Ok((outcome, quiet)) => {
            if !quiet {
                write_stderr(&outcome.summary);
            }
            ExitCode::from(outcome.exit_code as u8)
        }
        Err(error) => {
            write_stderr(&format!("error: {}\n", error_text(&error)));
            ExitCode::FAILURE
        }
    }
}
