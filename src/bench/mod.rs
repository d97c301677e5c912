//! Benchmarks: the presets of `neurojit bench` (the same networks as
//! Rockpool's anchor benchmark) and the measurement of one training step
//! (forward + backward through time + Adam) on a backend.

mod measure;
mod presets;

pub use measure::{measure, measure_alternating, BenchResult, MeasureOptions};
pub use presets::{Preset, PRESETS};
