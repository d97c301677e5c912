//! Example step programs and a tiny time-loop driver shared by the
//! `split` and `through_time` tests.
//!
//! The driver runs `TrainingPrograms` with `interp::evaluate` the way the
//! runtime does: prologue once, forward for t = 0..T (storing the tape),
//! backward for t = T-1..0 (accumulating parameter gradients), plus the
//! parameter-only loss. `unrolled` runs the traced step graph itself, with
//! no autodiff, as the reference for finite differences.

#![allow(dead_code)]

use neurojit_compiler::interp::evaluate;
use neurojit_compiler::ir::{ArgKind, Graph, GraphError, OutKind, Shape, Value};
use neurojit_compiler::program::{Slot, StepProgram, TrainingPrograms};

pub const DT: f32 = 1e-3;

/// Deterministic values in `[lo, hi)`.
pub fn pseudo_random(n: usize, seed: u64, lo: f32, hi: f32) -> Vec<f32> {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            lo + (hi - lo) * ((state >> 40) as f32 / (1u64 << 24) as f32)
        })
        .collect()
}

fn slot(slot: usize, name: &str, dims: &[usize]) -> Slot {
    Slot {
        slot,
        name: name.to_string(),
        shape: Shape::new(dims),
    }
}

/// Declares the argument of every slot, in order.
fn declare(g: &mut Graph, kind: ArgKind, slots: &[Slot]) -> Vec<Value> {
    slots
        .iter()
        .map(|s| g.arg(kind, s.slot, &s.name, s.shape.clone()))
        .collect()
}

/// `exp(-dt / tau)`.
fn decay(g: &mut Graph, tau: Value) -> Value {
    let r = g.recip(tau);
    let e = g.scale(r, -DT);
    g.exp(e)
}

/// `mean((y - target)^2)`.
fn mse(g: &mut Graph, y: Value, target: Value) -> Result<Value, GraphError> {
    let d = g.sub(y, target)?;
    let d2 = g.mul(d, d)?;
    Ok(g.mean_all(d2))
}

/// A leaky integrator with a sigmoid readout fed back through a recurrent
/// matrix; smooth everywhere.
///
/// ```text
/// drive = x @ w + y @ w_rec + b
/// v'    = alpha * v + (1 - alpha) * drive,  alpha = exp(-dt / tau)
/// y'    = 1 / (1 + exp(-v'))
/// loss  = mean((y' - target)^2),  param_loss = 10 * sum((tau - 0.01)^2)
/// ```
pub fn leaky_integrator(b: usize, nin: usize, n: usize) -> StepProgram {
    let params = vec![
        slot(0, "w", &[nin, n]),
        slot(1, "w_rec", &[n, n]),
        slot(2, "tau", &[n]),
        slot(3, "b", &[n]),
    ];
    let states = vec![slot(0, "v", &[b, n]), slot(1, "y", &[b, n])];
    let build = || -> Result<(Graph, Graph), GraphError> {
        let mut g = Graph::new();
        let p = declare(&mut g, ArgKind::Param, &params);
        let s = declare(&mut g, ArgKind::State, &states);
        let x = g.arg(ArgKind::Input, 0, "x", Shape::new(&[b, nin]));
        let target = g.arg(ArgKind::Target, 0, "target", Shape::new(&[b, n]));
        let alpha = decay(&mut g, p[2]);
        let one = g.scalar(1.0);
        let gain = g.sub(one, alpha)?;
        let xw = g.matmul(x, p[0])?;
        let yw = g.matmul(s[1], p[1])?;
        let drive = g.add(xw, yw)?;
        let drive = g.add(drive, p[3])?;
        let kept = g.mul(s[0], alpha)?;
        let fed = g.mul(drive, gain)?;
        let v = g.add(kept, fed)?;
        let minus_v = g.neg(v);
        let e = g.exp(minus_v);
        let denom = g.add(e, one)?;
        let y = g.recip(denom);
        let loss = mse(&mut g, y, target)?;
        g.output(OutKind::State, 0, "v", v);
        g.output(OutKind::State, 1, "y", y);
        g.output(OutKind::Prediction, 0, "y", y);
        g.output(OutKind::Loss, 0, "mse", loss);
        g.output(OutKind::Record, 0, "v", v);

        let mut pl = Graph::new();
        let tau = pl.arg(ArgKind::Param, 2, "tau", Shape::new(&[n]));
        let off = pl.scalar(0.01);
        let d = pl.sub(tau, off)?;
        let d2 = pl.mul(d, d)?;
        let sum = pl.sum_all(d2);
        let penalty = pl.scale(sum, 10.0);
        pl.output(OutKind::Loss, 0, "penalty", penalty);
        Ok((g, pl))
    };
    let (step, param_loss) = build().unwrap();
    StepProgram {
        step,
        param_loss,
        params,
        states,
        input: Shape::new(&[b, nin]),
        target: Shape::new(&[b, n]),
        fixed: Vec::new(),
    }
}

/// How a LIF step turns the membrane potential into spikes: the real
/// `spike` op, or a stand-in (see `through_time`).
pub type SpikeFn = dyn Fn(&mut Graph, Value, Value) -> Result<Value, GraphError>;

/// Rockpool's spike op: window 0.5, at most 2^16 spikes per step.
pub fn real_spike(g: &mut Graph, v: Value, th: Value) -> Result<Value, GraphError> {
    g.spike(v, th, 0.5, 65536.0)
}

/// Linear -> LIF (Rockpool's step, "taus" mode, one synapse), optionally
/// recurrent, with an mse loss on the spikes and a penalty on `tau_mem`.
///
/// Parameters: `0_Linear/weight` [nin,n], `1_LIF/tau_mem` [n],
/// `1_LIF/tau_syn` [n,1], `1_LIF/bias` [n], `1_LIF/threshold` [n] and, when
/// recurrent, `1_LIF/w_rec` [n,n]. States: `vmem` [b,n], `isyn` [b,n,1],
/// `spikes` [b,n]. Record 0 is the membrane potential before the spike
/// (what the surrogate reads), record 1 the one after reset, record 2 the
/// spikes.
pub fn linear_lif(b: usize, nin: usize, n: usize, recurrent: bool, spike: &SpikeFn) -> StepProgram {
    let mut params = vec![
        slot(0, "0_Linear/weight", &[nin, n]),
        slot(1, "1_LIF/tau_mem", &[n]),
        slot(2, "1_LIF/tau_syn", &[n, 1]),
        slot(3, "1_LIF/bias", &[n]),
        slot(4, "1_LIF/threshold", &[n]),
    ];
    if recurrent {
        params.push(slot(5, "1_LIF/w_rec", &[n, n]));
    }
    let states = vec![
        slot(0, "1_LIF/vmem", &[b, n]),
        slot(1, "1_LIF/isyn", &[b, n, 1]),
        slot(2, "1_LIF/spikes", &[b, n]),
    ];
    let build = || -> Result<(Graph, Graph), GraphError> {
        let mut g = Graph::new();
        let p = declare(&mut g, ArgKind::Param, &params);
        let s = declare(&mut g, ArgKind::State, &states);
        let x = g.arg(ArgKind::Input, 0, "x", Shape::new(&[b, nin]));
        let target = g.arg(ArgKind::Target, 0, "target", Shape::new(&[b, n]));
        let mut h = g.matmul(x, p[0])?;
        if recurrent {
            let rec = g.matmul(s[2], p[5])?;
            h = g.add(h, rec)?;
        }
        let h = g.reshape(h, &Shape::new(&[b, n, 1]))?;
        let isyn = g.add(s[1], h)?;
        let alpha = decay(&mut g, p[1]);
        let beta = decay(&mut g, p[2]);
        let vmem = g.mul(s[0], alpha)?;
        let isyn = g.mul(isyn, beta)?;
        let syn = g.reduce_sum(isyn, 2)?;
        let vmem = g.add(vmem, syn)?;
        let v_pre = g.add(vmem, p[3])?;
        let spikes = spike(&mut g, v_pre, p[4])?;
        let reset = g.mul(spikes, p[4])?;
        let v_post = g.sub(v_pre, reset)?;
        let loss = mse(&mut g, spikes, target)?;
        g.output(OutKind::State, 0, "1_LIF/vmem", v_post);
        g.output(OutKind::State, 1, "1_LIF/isyn", isyn);
        g.output(OutKind::State, 2, "1_LIF/spikes", spikes);
        g.output(OutKind::Prediction, 0, "1_LIF", spikes);
        g.output(OutKind::Loss, 0, "mse", loss);
        g.output(OutKind::Record, 0, "1_LIF/v_pre", v_pre);
        g.output(OutKind::Record, 1, "1_LIF/vmem", v_post);
        g.output(OutKind::Record, 2, "1_LIF/spikes", spikes);

        let mut pl = Graph::new();
        let tau = pl.arg(ArgKind::Param, 1, "1_LIF/tau_mem", Shape::new(&[n]));
        let off = pl.scalar(0.02);
        let d = pl.sub(tau, off)?;
        let d2 = pl.mul(d, d)?;
        let sum = pl.sum_all(d2);
        let penalty = pl.scale(sum, 100.0);
        pl.output(OutKind::Loss, 0, "penalty", penalty);
        Ok((g, pl))
    };
    let (step, param_loss) = build().unwrap();
    StepProgram {
        step,
        param_loss,
        params,
        states,
        input: Shape::new(&[b, nin]),
        target: Shape::new(&[b, n]),
        fixed: Vec::new(),
    }
}

/// Buffers for one evaluation, looked up by argument kind and slot.
#[derive(Default)]
pub struct Bindings<'a> {
    pub params: &'a [Vec<f32>],
    pub hoisted: &'a [Vec<f32>],
    pub states: &'a [Vec<f32>],
    pub inputs: &'a [&'a [f32]],
    pub target: &'a [f32],
    pub tape: &'a [Vec<f32>],
    pub state_adjoints: &'a [Vec<f32>],
}

/// Evaluates `graph` with its arguments taken from `b`.
pub fn run(graph: &Graph, b: &Bindings) -> Vec<Vec<f32>> {
    let args: Vec<&[f32]> = graph
        .args()
        .iter()
        .map(|a| match a.kind {
            ArgKind::Param => b.params[a.slot].as_slice(),
            ArgKind::Hoisted => b.hoisted[a.slot].as_slice(),
            ArgKind::State => b.states[a.slot].as_slice(),
            ArgKind::Input => b.inputs[a.slot],
            ArgKind::Target => b.target,
            ArgKind::Tape => b.tape[a.slot].as_slice(),
            ArgKind::StateAdjoint => b.state_adjoints[a.slot].as_slice(),
            other => panic!("no buffer for {other:?} arguments"),
        })
        .collect();
    evaluate(graph, &args).unwrap()
}

/// The output values of `graph` of one kind, by slot.
pub fn outputs_of(graph: &Graph, values: &[Vec<f32>], kind: OutKind) -> Vec<(usize, Vec<f32>)> {
    graph
        .outputs()
        .iter()
        .zip(values)
        .filter(|(o, _)| o.kind == kind)
        .map(|(o, v)| (o.slot, v.clone()))
        .collect()
}

/// One training evaluation: the loss, the parameter gradients and the
/// adjoints of the initial state, by slot.
pub struct Gradients {
    pub loss: f32,
    pub params: Vec<Vec<f32>>,
    pub initial_state: Vec<Vec<f32>>,
    /// Tape entries written per step (for checks on the tape).
    pub tape_len: usize,
}

/// Runs the split programs over the whole sequence, like the runtime.
pub fn train_once(
    programs: &TrainingPrograms,
    params: &[Vec<f32>],
    initial_state: &[Vec<f32>],
    xs: &[Vec<f32>],
    targets: &[Vec<f32>],
) -> Gradients {
    let zeros = |slots: &[Slot]| -> Vec<Vec<f32>> {
        slots.iter().map(|s| vec![0.0; s.shape.numel()]).collect()
    };
    let mut hoisted = zeros(&programs.hoisted);
    let values = run(
        &programs.prologue,
        &Bindings {
            params,
            ..Default::default()
        },
    );
    for (slot, v) in outputs_of(&programs.prologue, &values, OutKind::Hoisted) {
        hoisted[slot] = v;
    }

    let mut loss = 0.0;
    let mut state = initial_state.to_vec();
    let mut tapes = Vec::new();
    for (x, target) in xs.iter().zip(targets) {
        let b = Bindings {
            params,
            hoisted: &hoisted,
            states: &state,
            inputs: &[x],
            target,
            ..Default::default()
        };
        let values = run(&programs.forward, &b);
        let mut tape = zeros(&programs.tape);
        for (slot, v) in outputs_of(&programs.forward, &values, OutKind::Tape) {
            tape[slot] = v;
        }
        for (_, v) in outputs_of(&programs.forward, &values, OutKind::Loss) {
            loss += v[0];
        }
        for (slot, v) in outputs_of(&programs.forward, &values, OutKind::State) {
            state[slot] = v;
        }
        tapes.push(tape);
    }

    let mut grads = zeros(&programs.params);
    let mut adjoint = zeros(&programs.states);
    for t in (0..xs.len()).rev() {
        let b = Bindings {
            params,
            hoisted: &hoisted,
            inputs: &[&xs[t]],
            target: &targets[t],
            tape: &tapes[t],
            state_adjoints: &adjoint,
            ..Default::default()
        };
        let values = run(&programs.backward, &b);
        let mut next = zeros(&programs.states);
        for (slot, v) in outputs_of(&programs.backward, &values, OutKind::StateAdjoint) {
            next[slot] = v;
        }
        for (slot, v) in outputs_of(&programs.backward, &values, OutKind::ParamGrad) {
            grads[slot].iter_mut().zip(v).for_each(|(g, x)| *g += x);
        }
        adjoint = next;
    }

    if !programs.param_loss.outputs().is_empty() {
        let values = run(
            &programs.param_loss,
            &Bindings {
                params,
                ..Default::default()
            },
        );
        for (_, v) in outputs_of(&programs.param_loss, &values, OutKind::Loss) {
            loss += v[0];
        }
        for (slot, v) in outputs_of(&programs.param_loss, &values, OutKind::ParamGrad) {
            grads[slot].iter_mut().zip(v).for_each(|(g, x)| *g += x);
        }
    }
    Gradients {
        loss,
        params: grads,
        initial_state: adjoint,
        tape_len: programs.tape.len(),
    }
}

/// The `Record` outputs of one step, as (slot, values).
pub type Records = Vec<(usize, Vec<f32>)>;

/// The unrolled loss of the traced step itself (no autodiff, no split),
/// and the records of every step. `extra[t]` are read as `Input(1..)`.
pub fn unrolled(
    step: &StepProgram,
    params: &[Vec<f32>],
    initial_state: &[Vec<f32>],
    xs: &[Vec<f32>],
    targets: &[Vec<f32>],
    extra: &[Vec<Vec<f32>>],
) -> (f32, Vec<Records>) {
    let mut loss = 0.0;
    let mut state = initial_state.to_vec();
    let mut records = Vec::new();
    for t in 0..xs.len() {
        let mut inputs: Vec<&[f32]> = vec![&xs[t]];
        if let Some(more) = extra.get(t) {
            inputs.extend(more.iter().map(Vec::as_slice));
        }
        let b = Bindings {
            params,
            states: &state,
            inputs: &inputs,
            target: &targets[t],
            ..Default::default()
        };
        let values = run(&step.step, &b);
        loss += outputs_of(&step.step, &values, OutKind::Loss)[0].1[0];
        for (slot, v) in outputs_of(&step.step, &values, OutKind::State) {
            state[slot] = v;
        }
        records.push(outputs_of(&step.step, &values, OutKind::Record));
    }
    let values = run(
        &step.param_loss,
        &Bindings {
            params,
            ..Default::default()
        },
    );
    loss += outputs_of(&step.param_loss, &values, OutKind::Loss)[0].1[0];
    (loss, records)
}
