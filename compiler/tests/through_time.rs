//! Gradients through time: the split programs, run by a small driver over
//! T steps (forward storing the tape, backward reading it), against finite
//! differences of the whole unrolled loss computed by the traced step graph
//! itself.
//!
//! The finite differences use the five-point stencil on f32 evaluations, so
//! the step is a fixed fraction of each tensor's typical magnitude and the
//! tolerance allows for f32 rounding of a loss summed over T steps.

mod steps;

use neurojit_compiler::interp::spike_count;
use neurojit_compiler::ir::{Graph, Shape};
use neurojit_compiler::ir::{GraphError, Value};
use neurojit_compiler::program::{compile_training, StepProgram};
use steps::{linear_lif, pseudo_random, real_spike, train_once, unrolled};

const T: usize = 25;

/// Values of every parameter, the initial state, inputs and targets.
struct Data {
    params: Vec<Vec<f32>>,
    state: Vec<Vec<f32>>,
    xs: Vec<Vec<f32>>,
    targets: Vec<Vec<f32>>,
}

/// `(-f(2h) + 8 f(h) - 8 f(-h) + f(-2h)) / 12h`.
fn stencil(h: f32, f: impl Fn(f32) -> f32) -> f32 {
    (-f(2.0 * h) + 8.0 * f(h) - 8.0 * f(-h) + f(-2.0 * h)) / (12.0 * h)
}

/// Typical magnitude of a tensor (its mean absolute value, at least 1e-3).
fn typical(x: &[f32]) -> f32 {
    (x.iter().map(|v| v.abs()).sum::<f32>() / x.len() as f32).max(1e-3)
}

fn assert_close(what: &str, got: &[f32], expected: &[f32]) {
    let scale = expected.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    for (j, (g, e)) in got.iter().zip(expected).enumerate() {
        let tolerance = 1e-2 * e.abs() + 2e-3 * scale + 1e-4;
        assert!(
            (g - e).abs() <= tolerance,
            "{what}[{j}]: backprop through time gives {g}, finite differences {e}"
        );
    }
}

#[test]
fn smooth_recurrent_program_matches_finite_differences() {
    let (b, nin, n) = (2, 3, 3);
    let step = steps::leaky_integrator(b, nin, n);
    let programs = compile_training(&step).unwrap();
    let data = Data {
        params: vec![
            pseudo_random(nin * n, 1, -1.0, 1.0),
            pseudo_random(n * n, 2, -0.8, 0.8),
            pseudo_random(n, 3, 0.004, 0.01),
            pseudo_random(n, 4, -0.5, 0.5),
        ],
        state: vec![
            pseudo_random(b * n, 5, -1.0, 1.0),
            pseudo_random(b * n, 6, 0.1, 0.9),
        ],
        xs: (0..T)
            .map(|t| pseudo_random(b * nin, 100 + t as u64, -2.0, 2.0))
            .collect(),
        targets: (0..T)
            .map(|t| pseudo_random(b * n, 200 + t as u64, 0.0, 1.0))
            .collect(),
    };
    let loss_at = |params: &[Vec<f32>], state: &[Vec<f32>]| {
        unrolled(&step, params, state, &data.xs, &data.targets, &[]).0
    };
    let grads = train_once(
        &programs,
        &data.params,
        &data.state,
        &data.xs,
        &data.targets,
    );
    let reference = loss_at(&data.params, &data.state);
    assert!((grads.loss - reference).abs() <= 1e-5 * reference.abs());

    for (p, values) in data.params.iter().enumerate() {
        let h = 1e-2 * typical(values);
        let fd: Vec<f32> = (0..values.len())
            .map(|j| {
                stencil(h, |d| {
                    let mut moved = data.params.clone();
                    moved[p][j] += d;
                    loss_at(&moved, &data.state)
                })
            })
            .collect();
        assert_close(&step.params[p].name, &grads.params[p], &fd);
    }
    // The adjoint of the initial state: the state adjoint carried back
    // through all T steps.
    for (s, values) in data.state.iter().enumerate() {
        let h = 1e-2 * typical(values);
        let fd: Vec<f32> = (0..values.len())
            .map(|j| {
                stencil(h, |d| {
                    let mut moved = data.state.clone();
                    moved[s][j] += d;
                    loss_at(&data.params, &moved)
                })
            })
            .collect();
        assert_close(&step.states[s].name, &grads.initial_state[s], &fd);
    }
}

/// The spike replaced by its surrogate linearisation around a nominal run:
/// `s0 + mask0 * (v / th - r0)`, with `s0`, `mask0` and `r0 = v0 / th0` read
/// per step as inputs 1, 2, 3. At the nominal point it equals the real
/// spike count, and its derivatives are exactly the surrogate's
/// (`mask / th` and `-mask * v / th^2`).
fn linearised_spike(
    b: usize,
    n: usize,
) -> impl Fn(&mut Graph, Value, Value) -> Result<Value, GraphError> {
    move |g, v, th| {
        let shape = Shape::new(&[b, n]);
        let s0 = g.arg(
            neurojit_compiler::ir::ArgKind::Input,
            1,
            "s0",
            shape.clone(),
        );
        let mask0 = g.arg(
            neurojit_compiler::ir::ArgKind::Input,
            2,
            "mask0",
            shape.clone(),
        );
        let r0 = g.arg(neurojit_compiler::ir::ArgKind::Input, 3, "r0", shape);
        let r = g.div(v, th)?;
        let dr = g.sub(r, r0)?;
        let linear = g.mul(mask0, dr)?;
        g.add(s0, linear)
    }
}

/// Spike trains of every step of a run of the real spiking step.
fn spike_trains(step: &StepProgram, params: &[Vec<f32>], data: &Data) -> Vec<Vec<f32>> {
    let (_, records) = unrolled(step, params, &data.state, &data.xs, &data.targets, &[]);
    records.into_iter().map(|r| r[2].1.clone()).collect()
}

#[test]
fn spiking_program_matches_finite_differences_of_the_surrogate() {
    let (b, nin, n) = (2, 3, 3);
    let spiking = linear_lif(b, nin, n, true, &real_spike);
    let reference = linear_lif(b, nin, n, true, &linearised_spike(b, n));
    let programs = compile_training(&spiking).unwrap();
    let threshold = vec![1.0, 1.2, 0.9];
    let data = Data {
        params: vec![
            pseudo_random(nin * n, 11, -0.3, 0.6),
            pseudo_random(n, 12, 0.01, 0.03),
            pseudo_random(n, 13, 0.004, 0.008),
            pseudo_random(n, 14, -0.05, 0.05),
            threshold.clone(),
            pseudo_random(n * n, 15, -0.3, 0.3),
        ],
        state: vec![vec![0.0; b * n], vec![0.0; b * n], vec![0.0; b * n]],
        xs: (0..T)
            .map(|t| pseudo_random(b * nin, 300 + t as u64, 0.0, 1.0))
            .collect(),
        targets: (0..T)
            .map(|t| {
                pseudo_random(b * n, 400 + t as u64, 0.0, 1.0)
                    .into_iter()
                    .map(|x| (x > 0.6) as u8 as f32)
                    .collect()
            })
            .collect(),
    };

    // The nominal run fixes s0, mask0 and r0 for every step.
    let (nominal_loss, records) = unrolled(
        &spiking,
        &data.params,
        &data.state,
        &data.xs,
        &data.targets,
        &[],
    );
    let extra: Vec<Vec<Vec<f32>>> = records
        .iter()
        .map(|r| {
            let v_pre = &r[0].1;
            let th = |i: usize| threshold[i % n];
            let s0 = (0..v_pre.len()).map(|i| spike_count(v_pre[i], th(i), 65536.0));
            let mask0 = (0..v_pre.len()).map(|i| (v_pre[i] >= th(i) - 0.5) as u8 as f32);
            let r0 = (0..v_pre.len()).map(|i| v_pre[i] / th(i));
            vec![s0.collect(), mask0.collect(), r0.collect()]
        })
        .collect();
    let spikes: f32 = records.iter().flat_map(|r| r[2].1.iter()).sum();
    assert!(spikes >= 5.0, "the run should spike, got {spikes} spikes");
    assert!(
        records
            .iter()
            .flat_map(|r| r[0].1.iter())
            .any(|&v| v > 0.5 && v < 0.9),
        "some potential should sit in the surrogate window below threshold"
    );
    let linear_loss = |params: &[Vec<f32>]| {
        unrolled(
            &reference,
            params,
            &data.state,
            &data.xs,
            &data.targets,
            &extra,
        )
        .0
    };
    assert_eq!(linear_loss(&data.params), nominal_loss);

    let grads = train_once(
        &programs,
        &data.params,
        &data.state,
        &data.xs,
        &data.targets,
    );
    assert!((grads.loss - nominal_loss).abs() <= 1e-5 * nominal_loss.abs());
    let nominal_spikes = spike_trains(&spiking, &data.params, &data);
    for (p, values) in data.params.iter().enumerate() {
        let fd: Vec<f32> = (0..values.len())
            .map(|j| {
                let moved = |d: f32| {
                    let mut moved = data.params.clone();
                    moved[p][j] += d;
                    moved
                };
                // The largest step (at most 1e-2 of the tensor's magnitude)
                // at which no spike of the real network flips.
                let mut h = 1e-2 * typical(values);
                let flips = |h: f32| {
                    [2.0 * h, -2.0 * h]
                        .iter()
                        .any(|&d| spike_trains(&spiking, &moved(d), &data) != nominal_spikes)
                };
                let mut halvings = 0;
                while flips(h) {
                    h *= 0.5;
                    halvings += 1;
                    assert!(
                        halvings < 8,
                        "spikes flip for any step of {}",
                        spiking.params[p].name
                    );
                }
                stencil(h, |d| linear_loss(&moved(d)))
            })
            .collect();
        assert_close(&spiking.params[p].name, &grads.params[p], &fd);
    }
}
