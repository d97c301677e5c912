//! The built-in tutorial task, after Rockpool's "training a spiking network
//! with Jax" tutorial: a frozen pattern of Poisson input spikes is to be
//! turned into a smooth target signal.
//!
//! - Input: one pattern `(T, n_in)` of independent spikes (1.0) with
//!   probability `input_prob` per channel and timestep, drawn once from
//!   `seed` ("frozen noise") and repeated for every sample, so every sample
//!   is the same single trial and the network learns a fixed mapping.
//! - Target: for output channel `j`, a sum of two sinusoids spanning the
//!   trial, offset to stay in [0, 1]:
//!   `y_j(s) = 0.5 + 0.3 sin(2 pi s / T + phi_j) + 0.2 sin(4 pi s / T + 2 phi_j + 1)`
//!   at step `s` of `T`, with `phi_j = 2 pi j / n_out`: one slow and one
//!   faster cycle per trial, whatever the timestep.
//!
//! Same seed and sizes, same data: nothing here depends on global state.

use super::{Dataset, Targets};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Sizes and options of the tutorial task.
#[derive(Clone, Debug, PartialEq)]
pub struct TutorialTask {
    pub samples: usize,
    /// Timesteps per sample.
    pub t: usize,
    /// Input channels (the network's first layer's `n_in`).
    pub n_in: usize,
    /// Target channels (the network's last layer's `n_out`).
    pub n_out: usize,
    /// Spike probability per input channel and timestep, in [0, 1].
    pub input_prob: f32,
    pub seed: u64,
}

/// The target value of channel `j` of `n_out` at step `step` of `t`.
pub fn target_value(step: usize, t: usize, j: usize, n_out: usize) -> f32 {
    use std::f64::consts::PI;
    let phase = step as f64 / t as f64; // fraction of the trial
    let phi = 2.0 * PI * j as f64 / n_out as f64;
    let y = 0.5
        + 0.3 * (2.0 * PI * phase + phi).sin()
        + 0.2 * (4.0 * PI * phase + 2.0 * phi + 1.0).sin();
    y as f32
}

/// Generates the tutorial dataset. `input_prob` is clamped into [0, 1]
/// (NaN counts as 0).
///
/// # Panics
/// When `samples x T x` channels floats cannot be allocated; the `train`
/// command checks the sizes first (at most 2^28 floats per array).
pub fn tutorial_task(task: &TutorialTask) -> Dataset {
    let mut rng = StdRng::seed_from_u64(task.seed);
    let prob = if task.input_prob.is_nan() {
        0.0
    } else {
        task.input_prob
    };
    let p = f64::from(prob.clamp(0.0, 1.0));
    let pattern: Vec<f32> = (0..task.t * task.n_in)
        .map(|_| if rng.random_bool(p) { 1.0 } else { 0.0 })
        .collect();
    let mut signal = Vec::with_capacity(task.t * task.n_out);
    for step in 0..task.t {
        for j in 0..task.n_out {
            signal.push(target_value(step, task.t, j, task.n_out));
        }
    }
    let mut inputs = Vec::with_capacity(task.samples * pattern.len());
    let mut targets = Vec::with_capacity(task.samples * signal.len());
    for _ in 0..task.samples {
        inputs.extend_from_slice(&pattern);
        targets.extend_from_slice(&signal);
    }
    Dataset {
        inputs,
        samples: task.samples,
        t: task.t,
        n_in: task.n_in,
        targets: Targets::Signal {
            data: targets,
            n_out: task.n_out,
        },
        origin: "builtin:tutorial".into(),
    }
}
