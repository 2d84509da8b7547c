//! Model memory: how many bytes the model state of a job holds, and the limit on it.
//!
//! The *footprint* of a piece of model state is an estimate of the heap and inline bytes it
//! holds: the struct itself, its map key, what its vectors have allocated, and a share of the
//! map's node space. Ordered maps keep up to eleven entries per node; keys that arrive in
//! order, as over values of one bucket do, leave nodes about half full, so an entry is charged
//! twice its inline size. The estimate is checked against the bytes the
//! allocator really handed out in `benches/model_memory.rs`.
//!
//! The *model memory limit* ([`ModelConfig::max_model_bytes`](super::ModelConfig)) bounds the
//! sum over all over values and all (host, over value) pairs. Once it is reached, new over
//! values are judged against the population prior without a baseline of their own and new
//! pairs are judged as new without being remembered; both are counted and the first few over
//! values turned away are named in the run summary. State already learned is never dropped.

use super::host::PairModel;
use super::PartitionModel;
use std::mem::size_of;

/// An ordered map's entry is charged this many times its inline size (see the module doc).
const MAP_SLACK: usize = 2;

fn map_entry<K, V>() -> usize {
    (size_of::<K>() + size_of::<V>()) * MAP_SLACK
}

/// Window history charged to every over value from the start, so that values admitted under
/// the limit stay under it as their history fills: a week of 3-hour buckets at seven bytes
/// each (see the window module). Shorter buckets can hold more, up to four times as much.
pub const WINDOW_HISTORY_RESERVE_BYTES: usize = 56 * 7;

/// Bytes held by one over value's baseline under its key.
pub fn over_value_bytes(key: &str, model: &PartitionModel) -> usize {
    let history = model.windows.heap_bytes().max(WINDOW_HISTORY_RESERVE_BYTES);
    map_entry::<String, PartitionModel>() + key.len() + history
}

/// Bytes a new over value's baseline is charged.
pub fn new_over_value_bytes(key: &str) -> usize {
    map_entry::<String, PartitionModel>() + key.len() + WINDOW_HISTORY_RESERVE_BYTES
}

/// Bytes held by one (host, over value) pair under its over value key.
pub fn pair_bytes(over_value: &str) -> usize {
    map_entry::<String, PairModel>() + over_value.len()
}

/// Bytes held by one host's entry in the pair map, its pairs aside.
pub fn host_bytes(host: &str) -> usize {
    map_entry::<String, std::collections::BTreeMap<String, PairModel>>() + host.len()
}

/// The model state's footprint, by part.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ModelFootprint {
    pub over_values: usize,
    pub over_value_bytes: usize,
    pub pairs: usize,
    pub pair_bytes: usize,
}

impl ModelFootprint {
    pub fn total_bytes(&self) -> usize {
        self.over_value_bytes + self.pair_bytes
    }

    /// Mean bytes per over value, its pairs included.
    pub fn bytes_per_over_value(&self) -> f64 {
        self.total_bytes() as f64 / self.over_values.max(1) as f64
    }
}
