//! Reading one input on several threads, with the same result as on one.
//!
//! One *reader* thread cuts the input into [`LineBatch`]es (decompressing it if need be), a
//! pool of *workers* prepares them ([`prepare`](super::prepare): parsing, normalising,
//! filtering, GeoIP, partial aggregates), and the calling thread folds the prepared batches
//! into the [`Detector`] in input order, scoring the buckets that close. The two steps that
//! depend on what came before run in input order: normalising, for which the workers take
//! turns by batch number ([`Turnstile`]; a batch without flows to normalise passes its turn
//! without waiting), and the fold. Since batches are cut the same way
//! whatever the number of threads, the detector ends in the same state, with the same records
//! and alerts, at any thread count.
//!
//! At most [`BATCHES_IN_FLIGHT_PER_THREAD`] batches per worker are read ahead of the fold, so
//! memory does not grow with the input, even when the fold is slower than the workers.

use super::prepare::{PreparedBatch, Preparer};
use super::Detector;
use crate::enrich::LocalLocations;
use crate::normalise::Normaliser;
use crate::read::InputReader;
use crossbeam_channel::{bounded, Receiver, Sender};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Condvar, Mutex, MutexGuard};

/// Batches read ahead of the fold, per worker: enough that a worker never waits for the
/// reader while another finishes a slow batch, few enough to keep memory in megabytes
/// (a batch holds at most [`crate::read::source::BATCH_BYTES`] of text).
pub const BATCHES_IN_FLIGHT_PER_THREAD: usize = 4;

/// The number of threads to use when the user does not say: one per core.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// Lets threads run a step one at a time in order of their batch numbers.
struct Turnstile<T> {
    state: Mutex<TurnState<T>>,
    turn: Condvar,
}

struct TurnState<T> {
    next: u64,
    value: T,
    /// Batches after `next` that had nothing to do in their turn and have passed already.
    passed: BTreeSet<u64>,
    /// Set when a worker died: the batch it held will never take its turn.
    abandoned: bool,
}

impl<T> TurnState<T> {
    /// Ends the current turn, and the turns of later batches that passed already.
    fn advance(&mut self) {
        self.next += 1;
        while self.passed.remove(&self.next) {
            self.next += 1;
        }
    }
}

impl<T> Turnstile<T> {
    fn new(value: T) -> Turnstile<T> {
        let state = TurnState { next: 0, value, passed: BTreeSet::new(), abandoned: false };
        Turnstile { state: Mutex::new(state), turn: Condvar::new() }
    }

    /// Gives up batch `number`'s turn without waiting for it, for a batch with nothing to do
    /// in it: batches that do not touch the shared value may pass in any order.
    fn pass(&self, number: u64) {
        let mut state = self.lock();
        if state.next == number {
            state.advance();
            self.turn.notify_all();
        } else {
            state.passed.insert(number);
        }
    }

    fn lock(&self) -> MutexGuard<'_, TurnState<T>> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Waits for batch `number`'s turn, runs `step` on the shared value, and passes the turn.
    fn in_turn<R>(&self, number: u64, step: impl FnOnce(&mut T) -> R) -> R {
        let mut state = self.lock();
        while state.next != number {
            assert!(!state.abandoned, "a pipeline worker failed; stopping");
            state = self.turn.wait(state).unwrap_or_else(|poisoned| poisoned.into_inner());
        }
        let result = step(&mut state.value);
        state.advance();
        self.turn.notify_all();
        result
    }

    fn abandon(&self) {
        self.lock().abandoned = true;
        self.turn.notify_all();
    }

    fn into_value(self) -> T {
        self.state.into_inner().unwrap_or_else(|poisoned| poisoned.into_inner()).value
    }
}

/// Marks the turnstile abandoned if the worker holding it unwinds, so that the others stop
/// waiting for a turn that will never come.
struct AbandonOnPanic<'a, T>(&'a Turnstile<T>);

impl<T> Drop for AbandonOnPanic<'_, T> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.abandon();
        }
    }
}

/// Prepares and folds every batch of `reader` into `detector` on `threads` threads (the
/// calling thread alone when 1), calling `after_fold` after each batch is folded, in input
/// order; an error from it stops the input.
pub fn run_input<E>(
    reader: &mut InputReader,
    detector: &mut Detector,
    threads: usize,
    mut after_fold: impl FnMut(&mut Detector, &PreparedBatch) -> Result<(), E>,
) -> Result<(), E> {
    let preparer = detector.preparer();
    if threads <= 1 {
        let mut locations = LocalLocations::default();
        while let Some(batch) = reader.next_batch() {
            let mut parsed = preparer.parse(batch);
            parsed.normalise(&mut detector.normaliser);
            let mut prepared = preparer.aggregate(parsed, &mut locations);
            detector.fold(&mut prepared);
            after_fold(detector, &prepared)?;
        }
        return Ok(());
    }
    let turnstile = Turnstile::new(std::mem::take(&mut detector.normaliser));
    let result = std::thread::scope(|scope| {
        let window = threads * BATCHES_IN_FLIGHT_PER_THREAD;
        let (slot_tx, slot_rx) = bounded::<()>(window);
        for _ in 0..window {
            slot_tx.send(()).expect("the channel has room for every slot");
        }
        let (batch_tx, batch_rx) = bounded(window);
        let (prepared_tx, prepared_rx) = bounded(window);
        scope.spawn(move || read_batches(reader, &slot_rx, &batch_tx));
        for _ in 0..threads {
            let (batch_rx, prepared_tx) = (batch_rx.clone(), prepared_tx.clone());
            let (preparer, turnstile) = (&preparer, &turnstile);
            scope.spawn(move || {
                let _guard = AbandonOnPanic(turnstile);
                let mut locations = LocalLocations::default();
                for (number, batch) in batch_rx {
                    let mut parsed = preparer.parse(batch);
                    // Most logs have no flows the normaliser looks at; their batches need not
                    // wait for the batches before them.
                    if parsed.needs_normalising() {
                        turnstile.in_turn(number, |normaliser| parsed.normalise(normaliser));
                    } else {
                        turnstile.pass(number);
                    }
                    let prepared = preparer.aggregate(parsed, &mut locations);
                    if prepared_tx.send((number, prepared)).is_err() {
                        break;
                    }
                }
            });
        }
        drop((batch_rx, prepared_tx));
        fold_in_order(detector, &prepared_rx, &slot_tx, &mut after_fold)
    });
    detector.normaliser = turnstile.into_value();
    result
}

/// The reader thread: one batch per free slot, numbered in input order.
fn read_batches(
    reader: &mut InputReader,
    slots: &Receiver<()>,
    batches: &Sender<(u64, crate::read::source::LineBatch)>,
) {
    let mut number = 0;
    while slots.recv().is_ok() {
        let Some(batch) = reader.next_batch() else { break };
        if batches.send((number, batch)).is_err() {
            break;
        }
        number += 1;
    }
}

/// The calling thread: folds prepared batches as soon as all earlier ones are folded.
fn fold_in_order<E>(
    detector: &mut Detector,
    prepared: &Receiver<(u64, PreparedBatch)>,
    slots: &Sender<()>,
    after_fold: &mut impl FnMut(&mut Detector, &PreparedBatch) -> Result<(), E>,
) -> Result<(), E> {
    let mut waiting: BTreeMap<u64, PreparedBatch> = BTreeMap::new();
    let mut next = 0;
    for (number, batch) in prepared {
        waiting.insert(number, batch);
        while let Some(mut batch) = waiting.remove(&next) {
            detector.fold(&mut batch);
            after_fold(detector, &batch)?;
            next += 1;
            // The reader may have stopped already; a slot nobody takes is harmless.
            let _ = slots.send(());
        }
    }
    Ok(())
}

// `Preparer` and `Normaliser` cross threads: keep them shareable.
const _: fn() = || {
    fn shareable<T: Sync + Send>() {}
    shareable::<Preparer>();
    shareable::<Normaliser>();
};

#[cfg(test)]
mod tests {
    use super::Turnstile;

    /// Batches that take their turn do so in batch order, whatever order the threads come in
    /// and however many batches between them pass.
    #[test]
    fn turns_are_taken_in_order_while_passing_batches_need_not_wait() {
        let passing = |number: u64| number % 3 == 1;
        for arrival in [[5u64, 4, 3, 2, 1, 0, 6, 7], [1, 4, 7, 0, 6, 2, 5, 3]] {
            let turnstile = Turnstile::new(Vec::new());
            std::thread::scope(|scope| {
                for number in arrival {
                    let turnstile = &turnstile;
                    scope.spawn(move || {
                        if passing(number) {
                            turnstile.pass(number);
                        } else {
                            turnstile.in_turn(number, |taken: &mut Vec<u64>| taken.push(number));
                        }
                    });
                }
            });
            assert_eq!(turnstile.into_value(), [0, 2, 3, 5, 6]);
        }
        // A passing batch returns at once even when the batches before it have not come.
        let turnstile = Turnstile::new(0);
        turnstile.pass(3);
        turnstile.pass(1);
        turnstile.in_turn(0, |count| *count += 1);
        turnstile.in_turn(2, |count| *count += 1);
        turnstile.in_turn(4, |count| *count += 1);
        assert_eq!(turnstile.into_value(), 3);
    }
}
