//! Times one training step (forward + backward + Adam) of a preset on a
//! backend: compile once, warm up, then the median of repeated steps,
//! timed in slices that alternate with the other backends measured.

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
            max_steps: 1_000_000,
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

/// Timing slices per backend, alternating between the backends.
const SLICES: u32 = 5;

/// Measures `preset` on `backend`.
pub fn measure(
    preset: &Preset,
    backend: BackendKind,
    options: &MeasureOptions,
) -> Result<BenchResult, TrainError> {
    let mut results = measure_alternating(preset, &[backend], options)?;
    Ok(results.remove(0))
}

/// Measures `preset` on each of `backends` (results in the same order):
/// all are compiled and warmed up first, then timed in `SLICES`
/// alternating slices of `options.budget / SLICES` each. On a shared
/// machine every backend then sees the same swings of load, and their
/// ratio moves less than when each is timed in one block.
pub fn measure_alternating(
    preset: &Preset,
    backends: &[BackendKind],
    options: &MeasureOptions,
) -> Result<Vec<BenchResult>, TrainError> {
    let mut measurements = backends
        .iter()
        .map(|&backend| Measurement::prepare(preset, backend, options))
        .collect::<Result<Vec<_>, _>>()?;
    for _ in 0..SLICES {
        for m in &mut measurements {
            m.time_for(options.budget / SLICES, options.max_steps)?;
        }
    }
    Ok(measurements.into_iter().map(Measurement::result).collect())
}

/// A compiled, warmed-up training step on one backend, timed in slices.
struct Measurement {
    trainer: Trainer,
    /// The parameters the timed steps start from.
    initial: Vec<Vec<f32>>,
    /// Timed steps between resets of the parameters.
    reset_every: usize,
    samples: Vec<f64>,
    first_loss: f32,
    diverges: bool,
}

impl Measurement {
    /// Compiles `preset` for `backend`, runs its first step and the
    /// warm-up steps.
    fn prepare(
        preset: &Preset,
        backend: BackendKind,
        options: &MeasureOptions,
    ) -> Result<Measurement, TrainError> {
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
        // Some presets diverge at once: the recurrent one's spike counts
        // feed back without bound and its first gradient is not finite, in
        // Rockpool exactly as here. Its steps are then all timed from the
        // initial parameters, so that each one does the work of a real step
        // (with non-finite parameters every neuron falls silent).
        let diverges = trainer.grads().iter().flatten().any(|g| !g.is_finite());
        // Otherwise Adam at lr 1e-3 drives the 20 ms time constants through
        // zero after about 20 steps; the parameters go back to their
        // initial values every few steps, outside the timed region.
        let reset_every = if diverges { 1 } else { RESET_EVERY };
        trainer.set_params(&initial)?;
        for _ in 1..options.warmup {
            trainer.step()?;
        }
        Ok(Measurement {
            trainer,
            initial,
            reset_every,
            samples: Vec::new(),
            first_loss,
            diverges,
        })
    }

    /// Times steps until `budget` is spent (after at least 3 steps in
    /// all, and at least one in this slice) or until `max_steps` are timed
    /// in all (one step is always timed in all).
    fn time_for(&mut self, budget: Duration, max_steps: usize) -> Result<(), TrainError> {
        let started = Instant::now();
        let mut timed = 0;
        while self.samples.is_empty()
            || (self.samples.len() < max_steps
                && (timed == 0 || self.samples.len() < 3 || started.elapsed() < budget))
        {
            if self.samples.len().is_multiple_of(self.reset_every) {
                self.trainer.set_params(&self.initial)?;
            }
            let t = Instant::now();
            self.trainer.step()?;
            self.samples.push(t.elapsed().as_secs_f64());
            timed += 1;
        }
        Ok(())
    }

    /// The median step and the rest of the report.
    fn result(mut self) -> BenchResult {
        self.samples.sort_by(f64::total_cmp);
        BenchResult {
            step_s: self.samples[self.samples.len() / 2],
            compile_s: self.trainer.compile_seconds(),
            samples: self.samples.len(),
            tape_bytes_per_step: self.trainer.tape_bytes_per_step(),
            first_loss: self.first_loss,
            diverges: self.diverges,
            threads: self.trainer.threads(),
        }
    }
}
