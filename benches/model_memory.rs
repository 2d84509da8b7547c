//! Model memory per over value, measured by counting what the allocator hands out.
//!
//! A counting global allocator wraps the system one; the model state of a job is built
//! through the real learning path ([`ModelSet::process_bucket`]) from synthetic closed
//! buckets, and the bytes still allocated afterwards, the inputs dropped, are the model's.
//! Two jobs: the reference country job with every country active in every 3-hour bucket for
//! two weeks (each value's day and week windows full, the most a value holds), and a
//! destination-address job with many addresses, each seen in a few buckets, as a large
//! network's would be. Each sender toward a value becomes a (host, over value) pair, which
//! counts toward its value. Beside the measurement the model's own estimate
//! ([`ModelSet::footprint`]) is printed, since the memory limit is enforced on it.
//!
//! Run with `cargo bench --bench model_memory` (add `-- 1000000` for the address count).

use geoexfil::bucket::{BucketAggregate, FlowEvidence};
use geoexfil::job::{FlowField, JobConfig};
use geoexfil::model::{ModelConfig, ModelSet};
use std::alloc::{GlobalAlloc, Layout, System};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;

static ALLOCATED: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATED.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller's layout is passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        ALLOCATED.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: `ptr` was allocated by `System` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATED.fetch_add(new_size, Ordering::Relaxed);
        ALLOCATED.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: as for `dealloc`, and `new_size` comes from the caller.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const BUCKET_SECS: i64 = 3 * 3600;

/// A small deterministic generator of bucket totals.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 =
            self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
}

fn evidence(bytes: u64, source: Ipv4Addr, destination: Ipv4Addr) -> FlowEvidence {
    FlowEvidence {
        start_micros: 0,
        source_ip: IpAddr::V4(source),
        destination_ip: IpAddr::V4(destination),
        destination_port: Some(443),
        transport: Some("tcp".into()),
        bytes_sent: bytes,
        host_name: None,
        process_name: None,
    }
}

/// Adds `senders` flows toward `over_value` to `bucket`, one per sending host.
fn add(bucket: &mut BucketAggregate, over_value: &str, senders: u8, rng: &mut Lcg) {
    for host in 1..=senders {
        let source = Ipv4Addr::new(10, 0, 0, host);
        let bytes = 100_000 + rng.next() % 1_000_000;
        let influencers = [(FlowField::SourceIp, source.to_string())];
        bucket
            .partition_mut(geoexfil::bucket::FieldValueRef::text(over_value))
            .add(evidence(bytes, source, Ipv4Addr::new(203, 0, 113, 1)), &influencers);
    }
}

struct Measured {
    over_values: usize,
    pairs: usize,
    allocated_bytes: usize,
    estimated_bytes: usize,
}

fn measure(
    job: &JobConfig,
    config: ModelConfig,
    buckets: impl Iterator<Item = BucketAggregate>,
) -> Measured {
    let before = ALLOCATED.load(Ordering::Relaxed);
    let mut models = ModelSet::new(config);
    let fixed = ALLOCATED.load(Ordering::Relaxed) - before;
    for bucket in buckets {
        let available = bucket.bucket_start_secs + 2 * BUCKET_SECS;
        drop(models.process_bucket(job, &bucket, available));
    }
    let allocated_bytes = ALLOCATED.load(Ordering::Relaxed) - before - fixed;
    let footprint = models.footprint();
    let measured = Measured {
        over_values: footprint.over_values,
        pairs: footprint.pairs,
        allocated_bytes,
        estimated_bytes: footprint.total_bytes(),
    };
    drop(models);
    measured
}

fn print(name: &str, m: &Measured) {
    println!(
        "{name:<44} {:>9} {:>9} {:>13} {:>9.0} {:>9.0}",
        m.over_values,
        m.pairs,
        m.allocated_bytes,
        m.allocated_bytes as f64 / m.over_values.max(1) as f64,
        m.estimated_bytes as f64 / m.over_values.max(1) as f64,
    );
}

fn main() {
    let addresses: usize =
        std::env::args().skip(1).find_map(|arg| arg.parse().ok()).unwrap_or(200_000);
    println!(
        "{:<44} {:>9} {:>9} {:>13} {:>9} {:>9}",
        "job", "values", "pairs", "allocated", "B/value", "estimate"
    );
    let country = JobConfig::country();
    let countries: Vec<String> = (0..250)
        .map(|i| format!("{}{}", (b'A' + (i / 26) as u8) as char, (b'A' + (i % 26) as u8) as char))
        .collect();
    // Every country in every bucket of two weeks, the same totals for both runs.
    let two_weeks = || {
        let mut rng = Lcg(1);
        let countries = countries.clone();
        (0..14 * 8).map(move |index| {
            let mut bucket = BucketAggregate::new(index * BUCKET_SECS);
            for code in &countries {
                add(&mut bucket, code, 3, &mut rng);
            }
            bucket
        })
    };
    let measured = measure(&country, ModelConfig::default(), two_weeks());
    print("country, 250 values active every bucket, 3 hosts", &measured);
    // The same without (host, over value) pairs: the over values' own baselines.
    let no_pairs = ModelConfig { max_pairs: 0, ..ModelConfig::default() };
    let measured = measure(&country, no_pairs, two_weeks());
    print("country, as above, pairs not kept", &measured);

    let job = JobConfig::destination_ip();
    let config = ModelConfig { max_partitions: usize::MAX, ..ModelConfig::default() };
    // Each address is seen in two buckets a day apart, by one host; a bucket holds a sixteenth
    // of the addresses, so the run spans sixteen buckets plus a day.
    let per_bucket = addresses.div_ceil(16);
    let mut rng = Lcg(2);
    let buckets = (0..16 + 8).map(|index: usize| {
        let mut bucket = BucketAggregate::new(index as i64 * BUCKET_SECS);
        for round in [index, index.wrapping_sub(8)] {
            if round >= 16 {
                continue;
            }
            for n in round * per_bucket..((round + 1) * per_bucket).min(addresses) {
                let address = Ipv4Addr::from(0x0B00_0000_u32 + n as u32);
                add(&mut bucket, &address.to_string(), 1, &mut rng);
            }
        }
        bucket
    });
    let measured = measure(&job, config, buckets);
    print(&format!("destination address, {addresses} values, 1 host each"), &measured);
}
