//! Criterion benchmarks of the pipeline's hot paths, one group per step.
//!
//! Inputs are made in memory by `geoexfil generate` (the evaluation's synthetic organisation:
//! 1,000 hosts, 100,000 destination addresses in about 190 countries), so every reader parses
//! the same flows in its own format:
//! - `read`: each format's reader over 20,000 flows, from bytes to flows (batching included);
//! - `filter`: the internal/external check of 20,000 parsed flows;
//! - `geoip`: the raw database lookup, and the enricher with a cold and a warm cache;
//! - `aggregate`: turning one parsed batch into per-bucket partial totals, and merging partial
//!   aggregates into a bucket;
//! - `model`: scoring and learning the busiest closed bucket of two generated days, for the
//!   country job and for the destination-address job (the value counts are in the names).
//!
//! Run with `cargo bench --bench pipeline`; add `-- --warm-up-time 1 --measurement-time 3` for
//! a quicker pass, or a group name (`-- read`) for one step.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use geoexfil::bucket::BucketAggregate;
use geoexfil::detect::prepare::{ParsedBatch, Preparer};
use geoexfil::enrich::{Enricher, GeoDb, LocalLocations};
use geoexfil::filter::{FlowFilter, NetworkSet};
use geoexfil::flow::Flow;
use geoexfil::generate::{generate, Amount, GenerateOptions};
use geoexfil::job::JobConfig;
use geoexfil::model::{ModelConfig, ModelSet};
use geoexfil::normalise::Normaliser;
use geoexfil::read::{InputFormat, InputReader};
use std::hint::black_box;
use std::io::Cursor;

/// Flows per generated input: a few megabytes in every format, enough that one measurement
/// covers many batches and little enough to keep the benchmark quick.
const FLOWS: u64 = 20_000;

fn generated(format: InputFormat, flows: u64) -> Vec<u8> {
    let options = GenerateOptions { format, amount: Amount::Flows(flows), ..Default::default() };
    let mut out = Vec::new();
    generate(&options, &mut out).expect("the generator writes to memory");
    out
}

fn preparer(job: JobConfig) -> Preparer {
    Preparer {
        filter: FlowFilter::new(NetworkSet::default_internal(), true),
        enricher: Enricher::new(GeoDb::embedded().expect("the embedded database opens")),
        job,
        latest_plausible_secs: None,
    }
}

/// Every batch of `bytes`, parsed.
fn parse_all(preparer: &Preparer, bytes: &[u8], format: InputFormat) -> Vec<ParsedBatch> {
    let input = Box::new(Cursor::new(bytes.to_vec()));
    let mut reader = InputReader::from_reader("bench", input, Some(format)).expect("opens");
    std::iter::from_fn(|| reader.next_batch()).map(|batch| preparer.parse(batch)).collect()
}

fn flows_of(batches: Vec<ParsedBatch>) -> Vec<Flow> {
    batches.into_iter().flat_map(|batch| batch.flows).collect()
}

fn read(c: &mut Criterion) {
    let mut group = c.benchmark_group("read");
    let preparer = preparer(JobConfig::country());
    for format in [
        InputFormat::ZeekTsv,
        InputFormat::ZeekJson,
        InputFormat::SuricataEve,
        InputFormat::Ecs,
        InputFormat::Argus,
    ] {
        let bytes = generated(format, FLOWS);
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_function(format.as_str(), |b| {
            b.iter(|| {
                let batches = parse_all(&preparer, &bytes, format);
                assert_eq!(batches.iter().map(|b| b.flows.len()).sum::<usize>(), FLOWS as usize);
                black_box(batches)
            })
        });
    }
    group.finish();
}

fn filter(c: &mut Criterion) {
    let preparer = preparer(JobConfig::country());
    let bytes = generated(InputFormat::ZeekTsv, FLOWS);
    let flows = flows_of(parse_all(&preparer, &bytes, InputFormat::ZeekTsv));
    let mut group = c.benchmark_group("filter");
    group.throughput(Throughput::Elements(flows.len() as u64));
    group.bench_function("internal_to_external", |b| {
        b.iter(|| flows.iter().filter(|flow| preparer.filter.check(flow).is_ok()).count())
    });
    group.finish();
}

fn geoip(c: &mut Criterion) {
    let preparer = preparer(JobConfig::country());
    let bytes = generated(InputFormat::ZeekTsv, FLOWS);
    let flows = flows_of(parse_all(&preparer, &bytes, InputFormat::ZeekTsv));
    let db = GeoDb::embedded().expect("the embedded database opens");
    let mut group = c.benchmark_group("geoip");
    group.throughput(Throughput::Elements(flows.len() as u64));
    group.bench_function("database_lookup", |b| {
        b.iter(|| flows.iter().filter_map(|f| db.try_lookup(f.destination_ip).ok()).count())
    });
    group.bench_function("enricher_cold_cache", |b| {
        b.iter_batched(
            || Enricher::new(GeoDb::embedded().expect("opens")),
            |enricher| flows.iter().filter(|flow| enricher.locate(flow).is_unknown()).count(),
            BatchSize::LargeInput,
        )
    });
    let warm = Enricher::new(GeoDb::embedded().expect("opens"));
    flows.iter().for_each(|flow| drop(warm.locate(flow)));
    group.bench_function("enricher_warm_cache", |b| {
        b.iter(|| flows.iter().filter(|flow| warm.locate(flow).is_unknown()).count())
    });
    group.finish();
}

fn aggregate(c: &mut Criterion) {
    let preparer = preparer(JobConfig::country());
    let bytes = generated(InputFormat::ZeekTsv, FLOWS);
    let batches = parse_all(&preparer, &bytes, InputFormat::ZeekTsv);
    let flows: usize = batches.iter().map(|batch| batch.flows.len()).sum();
    let mut group = c.benchmark_group("aggregate");
    group.throughput(Throughput::Elements(flows as u64));
    group.bench_function("partial_totals", |b| {
        b.iter_batched(
            || batches.iter().map(clone_batch).collect::<Vec<_>>(),
            |batches| {
                let mut normaliser = Normaliser::default();
                let mut locations = LocalLocations::default();
                batches
                    .into_iter()
                    .map(|mut batch| {
                        batch.normalise(&mut normaliser);
                        preparer.aggregate(batch, &mut locations)
                    })
                    .collect::<Vec<_>>()
            },
            BatchSize::LargeInput,
        )
    });
    let partials: Vec<BucketAggregate> = batches
        .iter()
        .map(|batch| preparer.aggregate(clone_batch(batch), &mut LocalLocations::default()))
        .flat_map(|prepared| prepared.partials.into_values().map(|p| p.aggregate))
        .collect();
    group.throughput(Throughput::Elements(partials.len() as u64));
    group.bench_function("merge_partials", |b| {
        b.iter(|| {
            let mut merged = BucketAggregate::new(0);
            for partial in &partials {
                // Every partial lands in one bucket, as if all came from the same 3 hours.
                let mut partial = partial.clone();
                partial.bucket_start_secs = 0;
                merged.merge(&partial);
            }
            merged.total_bytes()
        })
    });
    group.finish();
}

fn clone_batch(batch: &ParsedBatch) -> ParsedBatch {
    ParsedBatch { flows: batch.flows.clone(), ..ParsedBatch::default() }
}

/// Closed buckets of a job over the generated flows, oldest first.
fn closed_buckets(job: JobConfig, flows: u64, destinations: u64) -> Vec<BucketAggregate> {
    let options = GenerateOptions {
        amount: Amount::Flows(flows),
        destinations,
        days: 2,
        ..Default::default()
    };
    let mut bytes = Vec::new();
    generate(&options, &mut bytes).expect("the generator writes to memory");
    let preparer = preparer(job);
    let mut buckets: std::collections::BTreeMap<i64, BucketAggregate> = Default::default();
    let mut locations = LocalLocations::default();
    for batch in parse_all(&preparer, &bytes, InputFormat::ZeekTsv) {
        for (start, partial) in preparer.aggregate(batch, &mut locations).partials {
            buckets.entry(start).or_insert_with(|| BucketAggregate::new(start));
            buckets.get_mut(&start).expect("inserted").merge(&partial.aggregate);
        }
    }
    buckets.into_values().collect()
}

fn model(c: &mut Criterion) {
    let mut group = c.benchmark_group("model");
    for (name, job, destinations) in [
        ("country_job", JobConfig::country(), 100_000),
        ("destination_ip_job", JobConfig::destination_ip(), 200_000),
    ] {
        let buckets = closed_buckets(job.clone(), 200_000, destinations);
        // The busiest bucket is judged, after learning every bucket before it.
        let busiest = (0..buckets.len())
            .max_by_key(|&i| buckets[i].partitions.len())
            .expect("two days hold buckets");
        let (history, judged) = (&buckets[..busiest], &buckets[busiest]);
        let mut trained = ModelSet::new(ModelConfig::default());
        for bucket in history {
            drop(trained.process_bucket(&job, bucket, bucket.bucket_start_secs + 3 * 10_800));
        }
        group.throughput(Throughput::Elements(judged.partitions.len() as u64));
        group.bench_function(format!("{name}_{}_values", judged.partitions.len()), |b| {
            b.iter_batched(
                || trained.clone(),
                |mut models| {
                    let available = judged.bucket_start_secs + 3 * 10_800;
                    models.process_bucket(&job, judged, available).len()
                },
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, read, filter, geoip, aggregate, model);
criterion_main!(benches);
