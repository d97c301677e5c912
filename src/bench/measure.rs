//! Times one training step (forward + backward + Adam) of a preset on a
//! backend: compile once, warm up, then the median of repeated steps.

use super::Preset;
use crate::optim::Adam;
use crate::trace::TraceError;
use crate::train::{TrainError, Trainer, TrainerOptions};
use neurojit_runtime::BackendKind;
use serde::Serialize;
use std::time::{Duration, Instant};

/// Timed steps between resets of the parameters to their initial values.
const RESET_EVERY: usize = 10;

#[derive(Clone, Debug)]
pub struct MeasureOptions {
    pub threads: usize,
    /// Steps run before timing starts.
    pub warmup: usize,
    /// Timing stops after this many steps (at least one is timed)...
    pub max_steps: usize,
    /// ...or once this much time has been spent (after at least 3 steps).
    pub budget: Duration,
    pub seed: u64,
}

impl Default for MeasureOptions {
    fn default() -> MeasureOptions {
        MeasureOptions {
            threads: 1,
            warmup: 3,
            max_steps: 100_000,
            budget: Duration::from_secs(3),
            seed: 0,
        }
    }
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct BenchResult {
    /// Median seconds per training step after warm-up.
    pub step_s: f64,
    /// Seconds to trace, differentiate, simplify and compile every program.
    pub compile_s: f64,
    /// Timed steps.
    pub samples: usize,
    /// Bytes the tape stores per timestep (per shard).
    pub tape_bytes_per_step: usize,
    /// Loss at the first step (the same on every backend).
    pub first_loss: f32,
    /// Whether the first step's gradient was not finite (see [`measure`]).
    pub diverges: bool,
    /// Threads the step ran on: those requested, at most one per sample of
    /// the batch (see [`Trainer`]).
    pub threads: usize,
}

/// Measures `preset` on `backend`.
pub fn measure(
    preset: &Preset,
    backend: BackendKind,
    options: &MeasureOptions,
) -> Result<BenchResult, TrainError> {
    let network = preset.network(options.seed).map_err(TraceError::from)?;
    let trace = preset.trace_options(&network);
    let run = TrainerOptions {
        backend,
        threads: options.threads,
        // Timed steps run like other frameworks run them: a step whose
        // gradient is not finite still updates (see `diverges` below).
        check_finite: false,
        ..TrainerOptions::default()
    };
    let mut trainer = Trainer::new(&network, &trace, Box::new(Adam::new(1e-3)), None, &run)?;
    let (inputs, targets) = preset.data(options.seed);
    trainer.set_data(&inputs, &targets)?;
    let initial = trainer.params().to_vec();
    let first_loss = trainer.step()?.total();
    // Some presets diverge at once: the recurrent one's spike counts feed
    // back without bound and its first gradient is not finite, in Rockpool
    // exactly as here. Its steps are then all timed from the initial
    // parameters, so that each one does the work of a real step (with
    // non-finite parameters every neuron falls silent).
    let diverges = trainer.grads().iter().flatten().any(|g| !g.is_finite());
    // Otherwise Adam at lr 1e-3 drives the 20 ms time constants through zero
    // after about 20 steps; the parameters go back to their initial values
    // every few steps, outside the timed region.
    let reset_every = if diverges { 1 } else { RESET_EVERY };
    trainer.set_params(&initial)?;
    for _ in 1..options.warmup {
        trainer.step()?;
    }
    let mut samples = Vec::new();
    let started = Instant::now();
    while samples.is_empty()
        || (samples.len() < options.max_steps
            && (samples.len() < 3 || started.elapsed() < options.budget))
    {
        if samples.len() % reset_every == 0 {
            trainer.set_params(&initial)?;
        }
        let t = Instant::now();
        trainer.step()?;
        samples.push(t.elapsed().as_secs_f64());
    }
    samples.sort_by(f64::total_cmp);
    Ok(BenchResult {
        step_s: samples[samples.len() / 2],
        compile_s: trainer.compile_seconds(),
        samples: samples.len(),
        tape_bytes_per_step: trainer.tape_bytes_per_step(),
        first_loss,
        diverges,
        threads: trainer.threads(),
    })
}
