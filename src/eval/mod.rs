//! Evaluation: evidence that geoexfil finds exfiltration and stays quiet otherwise.
//!
//! An *evaluation* replays a *background* (real traffic arranged on a timeline of weeks, or a
//! synthetic organisation) with and without *injected* exfiltration whose ground truth is known,
//! and measures *recall* (injections alerted for the right country, in a bucket overlapping
//! them, with the sending host among the influencers), *time to detection* and *false alerts*
//! per day and per 1,000 host-days, for the model and for simple comparators. [`nab`] scores the
//! model on the Numenta Anomaly Benchmark.

pub mod nab;
