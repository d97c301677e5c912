//! The runtime end to end on a hand-built recurrent program: the gradients
//! that `backward` accumulates through time match finite differences of the
//! loss that `forward` reports, and an optimiser program updates parameters.

use neurojit_compiler::interp::Interpreter;
use neurojit_compiler::ir::{ArgKind, Graph, Op, OutKind, Shape, Value};
use neurojit_compiler::program::{batch_over_time, compile_training, Slot, StepProgram};
use neurojit_runtime::{Optimizer, Session, ShardedSession};

const B: usize = 2;
const N: usize = 3;
const T: usize = 25;

/// h' = a * h + tanh-like(x @ w); loss_t = mean((h' - target)^2) / T;
/// param loss = 0.1 * sum(a^2).
fn leaky_program() -> StepProgram {
    leaky_program_for(B)
}

fn leaky_program_for(b: usize) -> StepProgram {
    let mut g = Graph::new();
    let w = g.arg(ArgKind::Param, 0, "w", Shape::from([N, N]));
    let a = g.arg(ArgKind::Param, 1, "a", Shape::from([N]));
    let h = g.arg(ArgKind::State, 0, "h", Shape::from([b, N]));
    let x = g.arg(ArgKind::Input, 0, "x", Shape::from([b, N]));
    let y = g.arg(ArgKind::Target, 0, "y", Shape::from([b, N]));
    let drive = g.matmul(x, w).unwrap();
    // A squashing function, d / (1 + |d|): smooth except for a kink in its
    // second derivative at 0.
    let mag = g.abs(drive);
    let one = g.constant_like(1.0, mag);
    let den = g.add(one, mag).unwrap();
    let squashed = g.div(drive, den).unwrap();
    let leak = g.mul(h, a).unwrap();
    let h_next = g.add(leak, squashed).unwrap();
    let err = g.sub(h_next, y).unwrap();
    let sq = g.mul(err, err).unwrap();
    let total = g.sum_all(sq);
    let loss = g.scale(total, 1.0 / (b * N * T) as f32);
    g.output(OutKind::State, 0, "h", h_next);
    g.output(OutKind::Prediction, 0, "y", h_next);
    g.output(OutKind::Loss, 0, "loss", loss);

    let mut p = Graph::new();
    p.arg(ArgKind::Param, 0, "w", Shape::from([N, N]));
    let a = p.arg(ArgKind::Param, 1, "a", Shape::from([N]));
    let a2 = p.mul(a, a).unwrap();
    let s = p.sum_all(a2);
    let penalty = p.scale(s, 0.1);
    p.output(OutKind::Loss, 0, "penalty", penalty);

    StepProgram {
        step: g,
        param_loss: p,
        params: vec![slot(0, "w", &[N, N]), slot(1, "a", &[N])],
        states: vec![slot(0, "h", &[b, N])],
        input: Shape::from([b, N]),
        target: Shape::from([b, N]),
        fixed: Vec::new(),
    }
}

fn slot(slot: usize, name: &str, dims: &[usize]) -> Slot {
    Slot {
        slot,
        name: name.into(),
        shape: Shape::new(dims),
    }
}

fn pseudo_random(n: usize, seed: u32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(2654435761).wrapping_add(1);
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            (s % 2000) as f32 / 1000.0 - 1.0
        })
        .collect()
}

fn session() -> Session {
    let programs = compile_training(&leaky_program()).unwrap();
    let mut session = Session::new(programs, &Interpreter, T).unwrap();
    session.set_param(0, &pseudo_random(N * N, 1)).unwrap();
    session.set_param(1, &[0.9, 0.5, -0.3]).unwrap();
    session
        .set_data(&pseudo_random(B * T * N, 2), &pseudo_random(B * T * N, 3))
        .unwrap();
    session
}

#[test]
fn gradients_through_time_match_finite_differences() {
    let mut s = session();
    s.forward().unwrap();
    s.backward().unwrap();
    let grads: Vec<Vec<f32>> = s.grads().to_vec();
    // Small enough that the stencil's truncation error (~3e-6 here) and a
    // step across the squashing's kink stay well inside the tolerance.
    let h = 5e-3f32;
    for (p, param_grads) in grads.iter().enumerate() {
        let base = s.params()[p].clone();
        for i in 0..base.len() {
            let mut loss_at = |delta: f32| {
                let mut values = base.clone();
                values[i] += delta;
                s.set_param(p, &values).unwrap();
                s.forward().unwrap().total() as f64
            };
            // The five-point stencil: truncation error O(h^4).
            let numeric = (-loss_at(2.0 * h) + 8.0 * loss_at(h) - 8.0 * loss_at(-h)
                + loss_at(-2.0 * h))
                / (12.0 * h as f64);
            let analytic = param_grads[i] as f64;
            assert!(
                (numeric - analytic).abs() <= 5e-5 * (1.0 + numeric.abs()),
                "param {p}[{i}]: analytic {analytic} vs numeric {numeric}"
            );
        }
        s.set_param(p, &base).unwrap();
    }
}

#[test]
fn records_are_returned_batch_major_and_data_lengths_are_checked() {
    let mut s = session();
    s.forward().unwrap();
    let predictions = s.predictions();
    assert_eq!(predictions.len(), B * T * N);
    // Sample 1 at t = 0 is h' = squash(x_1,0 @ w) from zero state.
    let x = pseudo_random(B * T * N, 2);
    let w = &s.params()[0];
    let x10 = &x[T * N..T * N + N];
    for j in 0..N {
        let d: f32 = (0..N).map(|k| x10[k] * w[k * N + j]).sum();
        let expected = d / (1.0 + d.abs());
        assert!((predictions[T * N + j] - expected).abs() < 1e-6);
    }
    let err = s.set_data(&[0.0; 3], &[0.0; 3]).unwrap_err();
    assert!(err.to_string().contains("inputs"), "{err}");
}

#[test]
fn an_optimiser_program_updates_parameters() {
    let mut s = session();
    s.forward().unwrap();
    s.backward().unwrap();
    // Plain SGD on parameter 1 only: a' = a - lr * g, lr given as a scalar.
    let mut g = Graph::new();
    let a = g.arg(ArgKind::Param, 1, "a", Shape::from([N]));
    let grad = g.arg(ArgKind::Grad, 1, "a", Shape::from([N]));
    let lr = g.arg(ArgKind::Scalar, 0, "lr", Shape::scalar());
    let step = g.mul(grad, lr).unwrap();
    let updated = g.sub(a, step).unwrap();
    g.output(OutKind::Param, 1, "a", updated);
    let mut opt = Optimizer::new(&g, &Interpreter, &s).unwrap();
    let before_w = s.params()[0].clone();
    let before_a = s.params()[1].clone();
    let grad_a = s.grads()[1].clone();
    opt.step(&mut s, &[0.5]).unwrap();
    assert_eq!(s.params()[0], before_w);
    for i in 0..N {
        assert_eq!(s.params()[1][i], before_a[i] - grad_a[i] * 0.5);
    }
    assert_eq!(opt.steps_taken(), 1);
}

#[test]
fn two_outputs_to_one_buffer_are_an_error_naming_the_second() {
    let s = session();
    let mut g = Graph::new();
    let a = g.arg(ArgKind::Param, 1, "a", Shape::from([N]));
    let doubled = g.add(a, a).unwrap();
    g.output(OutKind::Param, 1, "a", a);
    g.output(OutKind::Param, 1, "a twice", doubled);
    let err = Optimizer::new(&g, &Interpreter, &s).err().unwrap();
    let message = err.to_string();
    assert!(
        message.contains("optimiser")
            && message.contains("`a twice`")
            && message.contains("expected one output per buffer"),
        "{message}"
    );
}

#[test]
fn a_program_that_reads_what_it_writes_is_refused() {
    // The prologue computes a hoisted value; a forward program that also
    // writes it would be handed one buffer as input and as output.
    let mut programs = compile_training(&leaky_program()).unwrap();
    let mut prologue = Graph::new();
    let a = prologue.arg(ArgKind::Param, 1, "a", Shape::from([N]));
    let a2 = prologue.mul(a, a).unwrap();
    prologue.output(OutKind::Hoisted, 0, "a squared", a2);
    programs.hoisted = vec![slot(0, "a squared", &[N])];
    programs.prologue = prologue;
    let forward = &mut programs.forward;
    let hoisted = forward.arg(ArgKind::Hoisted, 0, "a squared", Shape::from([N]));
    let again = forward.scale(hoisted, 2.0);
    forward.output(OutKind::Hoisted, 0, "a squared, doubled", again);
    let err = Session::new(programs, &Interpreter, T).err().unwrap();
    let message = err.to_string();
    assert!(
        message.contains("forward")
            && message.contains("`a squared, doubled`")
            && message.contains("argument `a squared`")
            && message.contains("never to read what it writes"),
        "{message}"
    );
}

#[test]
fn slots_out_of_range_are_errors() {
    // An input slot far past the inputs the programs read (the runtime
    // makes a buffer per slot up to the largest).
    let mut programs = compile_training(&leaky_program()).unwrap();
    let stray = programs
        .forward
        .arg(ArgKind::Input, usize::MAX, "stray", Shape::from([1]));
    programs.forward.output(OutKind::Record, 0, "stray", stray);
    let err = Session::new(programs, &Interpreter, T)
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("input slot 18446744073709551615 (`stray`)"),
        "{err}"
    );

    // A moment slot far past the moments the update reads.
    let mut s = session();
    let mut g = Graph::new();
    let a = g.arg(ArgKind::Param, 1, "a", Shape::from([N]));
    let m = g.arg(ArgKind::Moment, 1 << 40, "m", Shape::from([N]));
    let sum = g.add(a, m).unwrap();
    g.output(OutKind::Param, 1, "a", sum);
    let err = Optimizer::new(&g, &Interpreter, &s)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("moment slot 1099511627776 (`m`)"), "{err}");

    // An optimiser stepped on a session of another network.
    let mut g = Graph::new();
    let a = g.arg(ArgKind::Param, 1, "a", Shape::from([N]));
    let half = g.scale(a, 0.5);
    g.output(OutKind::Param, 1, "a", half);
    let mut opt = Optimizer::new(&g, &Interpreter, &s).unwrap();
    // A network with the single parameter `w`: y = x @ w.
    let mut step = Graph::new();
    let w = step.arg(ArgKind::Param, 0, "w", Shape::from([N, N]));
    let x = step.arg(ArgKind::Input, 0, "x", Shape::from([B, N]));
    let y = step.arg(ArgKind::Target, 0, "y", Shape::from([B, N]));
    let out = step.matmul(x, w).unwrap();
    let err = step.sub(out, y).unwrap();
    let loss = step.sum_all(err);
    step.output(OutKind::Prediction, 0, "y", out);
    step.output(OutKind::Loss, 0, "loss", loss);
    let mut param_loss = Graph::new();
    param_loss.arg(ArgKind::Param, 0, "w", Shape::from([N, N]));
    let zero = param_loss.scalar(0.0);
    param_loss.output(OutKind::Loss, 0, "penalty", zero);
    let program = StepProgram {
        step,
        param_loss,
        params: vec![slot(0, "w", &[N, N])],
        states: Vec::new(),
        input: Shape::from([B, N]),
        target: Shape::from([B, N]),
        fixed: Vec::new(),
    };
    let mut other = Session::new(compile_training(&program).unwrap(), &Interpreter, T).unwrap();
    let err = opt.step(&mut other, &[]).err().unwrap().to_string();
    assert!(err.contains("(1 tensors; it was built for 2)"), "{err}");
    assert!(opt.step(&mut s, &[]).is_ok());

    assert!(s.grad(1).is_some() && s.grad(2).is_none());
}

#[test]
fn more_threads_than_any_machine_are_refused_before_anything_is_built() {
    let programs = compile_training(&leaky_program()).unwrap();
    let threads = neurojit_runtime::MAX_THREADS + 1;
    let err = ShardedSession::new(programs, &Interpreter, T, threads)
        .err()
        .unwrap();
    assert!(
        err.to_string()
            .contains("1025 threads: expected at most 1024"),
        "{err}"
    );
}

#[test]
fn restored_moments_must_fit_each_moment() {
    let s = session();
    // Momentum on both parameters: moment p accumulates parameter p's
    // gradient.
    let mut g = Graph::new();
    for (p, shape) in [(0, Shape::from([N, N])), (1, Shape::from([N]))] {
        let v = g.arg(ArgKind::Moment, p, "v", shape.clone());
        let grad = g.arg(ArgKind::Grad, p, "g", shape);
        let next = g.add(v, grad).unwrap();
        g.output(OutKind::Moment, p, "v", next);
    }
    let mut opt = Optimizer::new(&g, &Interpreter, &s).unwrap();
    assert_eq!(opt.moments().len(), 2);
    // As many values in all, but in the wrong moments.
    let err = opt
        .set_moments(vec![vec![0.0; N], vec![0.0; N * N]], 3)
        .unwrap_err();
    assert!(err.to_string().contains("moment 0"), "{err}");
    let err = opt.set_moments(vec![vec![0.0; N * N]], 3).unwrap_err();
    assert!(err.to_string().contains("2 tensors, given 1"), "{err}");
    opt.set_moments(vec![vec![1.0; N * N], vec![2.0; N]], 3)
        .unwrap();
    assert_eq!(opt.steps_taken(), 3);
    assert_eq!(opt.moments()[1], vec![2.0; N]);
}

#[test]
fn sharded_sessions_average_to_the_full_batch() {
    let mut full = session();
    let full_loss = full.forward().unwrap();
    full.backward().unwrap();

    let programs = compile_training(&leaky_program_for(1)).unwrap();
    let mut sharded = ShardedSession::new(programs, &Interpreter, T, 2).unwrap();
    for p in 0..2 {
        sharded.set_param(p, &full.params()[p]).unwrap();
    }
    sharded
        .set_data(&pseudo_random(B * T * N, 2), &pseudo_random(B * T * N, 3))
        .unwrap();
    let loss = sharded.forward_backward().unwrap();
    assert!((loss.total() - full_loss.total()).abs() <= 1e-6 * full_loss.total().abs().max(1.0));
    for p in 0..2 {
        for (a, b) in sharded.primary().grads()[p].iter().zip(&full.grads()[p]) {
            assert!((a - b).abs() <= 1e-5 * b.abs().max(1.0), "{a} vs {b}");
        }
    }
    assert_eq!(sharded.predictions(), full.predictions());
    let err = sharded.set_data(&[0.0; 3], &[0.0; 3]).unwrap_err();
    assert!(err.to_string().contains("threads"), "{err}");
}

#[test]
fn time_batched_programs_compute_the_same_loss_and_gradients() {
    let mut plain = session();
    let loss = plain.forward().unwrap();
    plain.backward().unwrap();

    let programs = batch_over_time(compile_training(&leaky_program()).unwrap(), T).unwrap();
    // x @ w runs once over all steps, and so does w's gradient xᵀ @ g.
    assert_eq!(programs.prepass.outputs().len(), 1);
    assert_eq!(programs.epilogue.outputs().len(), 1);
    let is_matmul = |g: &Graph| g.nodes().iter().any(|n| matches!(n.op, Op::Matmul { .. }));
    assert!(!is_matmul(&programs.forward));
    // The tape no longer copies the product: the backward reads its rows.
    assert!(programs.tape.iter().all(|s| !s.name.contains("matmul")));
    let mut batched = Session::new(programs, &Interpreter, T).unwrap();
    for p in 0..2 {
        batched.set_param(p, &plain.params()[p]).unwrap();
    }
    batched
        .set_data(&pseudo_random(B * T * N, 2), &pseudo_random(B * T * N, 3))
        .unwrap();
    let batched_loss = batched.forward().unwrap();
    batched.backward().unwrap();
    assert!((batched_loss.total() - loss.total()).abs() <= 1e-6 * loss.total().abs());
    for p in 0..2 {
        for (a, b) in batched.grads()[p].iter().zip(&plain.grads()[p]) {
            assert!((a - b).abs() <= 1e-5 * b.abs().max(1.0), "{a} vs {b}");
        }
    }
}

#[test]
fn without_a_parameter_only_loss_the_penalty_is_zero() {
    let with_penalty = session().forward().unwrap();
    let mut program = leaky_program();
    program.param_loss = Graph::new();
    let programs = compile_training(&program).unwrap();
    let mut s = Session::new(programs, &Interpreter, T).unwrap();
    s.set_param(0, &pseudo_random(N * N, 1)).unwrap();
    s.set_param(1, &[0.9, 0.5, -0.3]).unwrap();
    s.set_data(&pseudo_random(B * T * N, 2), &pseudo_random(B * T * N, 3))
        .unwrap();
    // Twice: the first pass's rows must not leak into the second.
    for _ in 0..2 {
        let loss = s.forward().unwrap();
        assert_eq!(loss.penalty, 0.0);
        assert_eq!(loss.task, with_penalty.task);
    }
    assert!(with_penalty.penalty > 0.0);
}

#[test]
fn a_session_moved_between_passes_computes_the_same_results() {
    // The programs' address tables point into the buffers' heap memory,
    // which stays put when the session moves (into a box, a vector,
    // another owner) between passes.
    let mut fixed = session();
    let loss = fixed.forward().unwrap();
    fixed.backward().unwrap();

    let mut first = session();
    first.forward().unwrap();
    let mut boxed = Box::new(first);
    boxed.backward().unwrap();
    assert_eq!(boxed.grads(), fixed.grads());
    let mut again = *boxed;
    assert_eq!(again.forward().unwrap(), loss);
}

#[test]
fn a_session_too_long_to_hold_is_refused_naming_the_buffer() {
    let programs = compile_training(&leaky_program()).unwrap();
    // Every per-step buffer of B * N floats would exceed the limit.
    let steps = neurojit_runtime::MAX_BUFFER_ELEMENTS / (B * N) + 1;
    let err = match Session::new(programs, &Interpreter, steps) {
        Ok(_) => panic!("a session of {steps} steps was built"),
        Err(e) => e.to_string(),
    };
    // The tape keeps the state `h` (B x N floats) for every step.
    assert!(
        err.contains(&format!("the tape entry `h` over {steps} timesteps")),
        "{err}"
    );
    assert!(err.contains("expected at most"), "{err}");
}

/// A recurrent spiking layer with a readout:
/// `v' = a * v + c * s + x @ w + s @ r`, `s' = spike(v', th)`,
/// `v'' = v' - th * s'`, `loss_t = mean((s' @ q - y)^2)`.
/// The spikes are a state (read by `c * s` and `s @ r`) and taped (the
/// surrogate and the readout's gradient read them), so batched programs
/// keep them once, the state's copy lagging the taped spikes: the backward
/// step reads the lagged entry every step (for `c`), the epilogue reads
/// both entries over all steps (for `r` and `q`).
fn recurrent_spiking_program() -> StepProgram {
    let mut g = Graph::new();
    let w = g.arg(ArgKind::Param, 0, "w", Shape::from([N, N]));
    let r = g.arg(ArgKind::Param, 1, "r", Shape::from([N, N]));
    let a = g.arg(ArgKind::Param, 2, "a", Shape::from([N]));
    let th = g.arg(ArgKind::Param, 3, "th", Shape::from([N]));
    let c = g.arg(ArgKind::Param, 4, "c", Shape::from([N]));
    let q = g.arg(ArgKind::Param, 5, "q", Shape::from([N, N]));
    let v = g.arg(ArgKind::State, 0, "v", Shape::from([B, N]));
    let s = g.arg(ArgKind::State, 1, "s", Shape::from([B, N]));
    let x = g.arg(ArgKind::Input, 0, "x", Shape::from([B, N]));
    let y = g.arg(ArgKind::Target, 0, "y", Shape::from([B, N]));
    let leak = g.mul(v, a).unwrap();
    let echo = g.mul(s, c).unwrap();
    let drive = g.matmul(x, w).unwrap();
    let feedback = g.matmul(s, r).unwrap();
    let inputs = g.add(drive, feedback).unwrap();
    let kept = g.add(leak, echo).unwrap();
    let v_next = g.add(kept, inputs).unwrap();
    let s_next = g.spike(v_next, th, 0.5, 4.0).unwrap();
    let reset = g.mul(s_next, th).unwrap();
    let v_reset = g.sub(v_next, reset).unwrap();
    g.output(OutKind::State, 0, "v", v_reset);
    g.output(OutKind::State, 1, "s", s_next);
    readout_loss(&mut g, s_next, q, y);
    StepProgram {
        step: g,
        param_loss: Graph::new(),
        params: vec![
            slot(0, "w", &[N, N]),
            slot(1, "r", &[N, N]),
            slot(2, "a", &[N]),
            slot(3, "th", &[N]),
            slot(4, "c", &[N]),
            slot(5, "q", &[N, N]),
        ],
        states: vec![slot(0, "v", &[B, N]), slot(1, "s", &[B, N])],
        input: Shape::from([B, N]),
        target: Shape::from([B, N]),
        fixed: Vec::new(),
    }
}

/// A readout `spikes @ q` as the prediction, and its mean squared error
/// against `target` as the loss.
fn readout_loss(g: &mut Graph, spikes: Value, q: Value, target: Value) {
    let out = g.matmul(spikes, q).unwrap();
    let err = g.sub(out, target).unwrap();
    let sq = g.mul(err, err).unwrap();
    let loss = g.mean_all(sq);
    g.output(OutKind::Prediction, 0, "y", out);
    g.output(OutKind::Loss, 0, "loss", loss);
}

/// Whether the forward step copies state `slot` to the tape.
fn copies_state_to_tape(
    programs: &neurojit_compiler::program::TrainingPrograms,
    slot: usize,
) -> bool {
    let forward = &programs.forward;
    forward.outputs().iter().any(|o| {
        let arg = forward.arg_of(o.value);
        o.kind == OutKind::Tape && arg.is_some_and(|a| a.kind == ArgKind::State && a.slot == slot)
    })
}

/// What one training pass gives: the total loss, the gradients, the
/// predictions and the final states.
struct Pass {
    loss: f32,
    grads: Vec<Vec<f32>>,
    predictions: Vec<f32>,
    last: Vec<Vec<f32>>,
}

/// A forward and backward pass of `programs` on `backend` from
/// parameters `params`, with inputs large enough to drive some neurons
/// over threshold (`2 x` pseudo-random from `seed`). The pass runs twice
/// on one session and must give the same results both times: every
/// buffer a pass reads before writing starts where it did.
fn spiking_pass(
    programs: neurojit_compiler::program::TrainingPrograms,
    backend: &dyn neurojit_compiler::kernel::Backend,
    params: &[Vec<f32>],
    seed: u32,
) -> Pass {
    let mut s = Session::new(programs, backend, T).unwrap();
    for (p, values) in params.iter().enumerate() {
        s.set_param(p, values).unwrap();
    }
    let x: Vec<f32> = pseudo_random(B * T * N, seed)
        .iter()
        .map(|v| 2.0 * v)
        .collect();
    s.set_data(&x, &pseudo_random(B * T * N, seed + 1)).unwrap();
    let mut pass = || {
        let loss = s.forward().unwrap().total();
        let last = s.final_state();
        s.backward().unwrap();
        Pass {
            loss,
            grads: s.grads().to_vec(),
            predictions: s.predictions(),
            last,
        }
    };
    let first = pass();
    let second = pass();
    assert_eq!(first.loss.to_bits(), second.loss.to_bits());
    assert_eq!(first.grads, second.grads);
    assert_eq!(first.last, second.last);
    first
}

/// Asserts that `got` is `want` up to rounding, and that `want` has
/// spikes reaching the readout and a gradient for every parameter.
fn assert_same_pass(got: &Pass, want: &Pass) {
    let close = |x: f32, y: f32, tolerance: f32| (x - y).abs() <= tolerance * y.abs().max(1.0);
    assert!(
        want.predictions.iter().any(|&y| y != 0.0),
        "no spikes reach the readout"
    );
    assert!(
        close(got.loss, want.loss, 1e-5),
        "{} vs {}",
        got.loss,
        want.loss
    );
    for (p, (a, b)) in got.grads.iter().zip(&want.grads).enumerate() {
        assert!(b.iter().any(|&g| g != 0.0), "param {p} has no gradient");
        for (x, y) in a.iter().zip(b) {
            assert!(close(*x, *y, 1e-4), "param {p}: {x} vs {y}");
        }
    }
    for (x, y) in got.predictions.iter().zip(&want.predictions) {
        assert!(close(*x, *y, 1e-5), "{x} vs {y}");
    }
    for (a, b) in got.last.iter().zip(&want.last) {
        for (x, y) in a.iter().zip(b) {
            assert!(close(*x, *y, 1e-5), "{x} vs {y}");
        }
    }
}

#[test]
fn a_lagged_tape_entry_reads_the_spikes_one_step_late() {
    let plain = compile_training(&recurrent_spiking_program()).unwrap();
    let batched = batch_over_time(plain.clone(), T).unwrap();
    // The state `s` is no longer copied to the tape: its entry lags the
    // taped spikes, and the tape holds one value fewer per step.
    assert_eq!(batched.tape_lags.len(), 1, "{:?}", batched.tape);
    assert_eq!(batched.tape_lags[0].initial_state, 1);
    assert!(copies_state_to_tape(&plain, 1), "{}", plain.forward);
    assert!(!copies_state_to_tape(&batched, 1), "{}", batched.forward);
    // The potential `v` is kept in the tape instead of copied to it.
    assert!(copies_state_to_tape(&plain, 0), "{}", plain.forward);
    assert!(!copies_state_to_tape(&batched, 0), "{}", batched.forward);
    assert!(
        batched.taped_state(0).is_some(),
        "{:?}",
        batched.taped_states
    );
    assert_eq!(
        batched.tape_bytes_per_step() + B * N * 4,
        plain.tape_bytes_per_step(),
        "{:?}",
        batched.tape
    );
    // Same loss, gradients, outputs and final states (the taped one read
    // from the tape's last row) as the unbatched programs, on both
    // backends, from spiking activity.
    let params = [
        pseudo_random(N * N, 11),
        pseudo_random(N * N, 12),
        vec![0.9, 0.8, 0.7],
        vec![0.5, 0.6, 0.4],
        vec![0.3, -0.2, 0.1],
        pseudo_random(N * N, 15),
    ];
    let jit = neurojit_compiler::jit::Jit::new();
    for backend in [
        &Interpreter as &dyn neurojit_compiler::kernel::Backend,
        &jit,
    ] {
        let want = spiking_pass(plain.clone(), backend, &params, 13);
        assert!(want.last[0].iter().any(|&v| v != 0.0));
        assert_same_pass(&spiking_pass(batched.clone(), backend, &params, 13), &want);
    }
}

#[test]
fn a_state_that_is_another_state_is_not_lagged_but_kept_in_the_tape() {
    // s' = s * a + x and d' = s (a delay line): d's next value is another
    // state, so lagging it would chain lags. Both copies are kept in the
    // tape instead: each step writes the next value to the row after the
    // one it read.
    let mut g = Graph::new();
    let w = g.arg(ArgKind::Param, 0, "w", Shape::from([N]));
    let u = g.arg(ArgKind::Param, 1, "u", Shape::from([N]));
    let a = g.arg(ArgKind::Param, 2, "a", Shape::from([N]));
    let s = g.arg(ArgKind::State, 0, "s", Shape::from([B, N]));
    let d = g.arg(ArgKind::State, 1, "d", Shape::from([B, N]));
    let x = g.arg(ArgKind::Input, 0, "x", Shape::from([B, N]));
    let target = g.arg(ArgKind::Target, 0, "y", Shape::from([B, N]));
    // w's gradient reads s, u's reads d: both states are taped.
    let sw = g.mul(s, w).unwrap();
    let du = g.mul(d, u).unwrap();
    let sum = g.add(sw, du).unwrap();
    let y = g.add(sum, x).unwrap();
    let err = g.sub(y, target).unwrap();
    let sq = g.mul(err, err).unwrap();
    let loss = g.mean_all(sq);
    let decayed = g.mul(s, a).unwrap();
    let s_next = g.add(decayed, x).unwrap();
    g.output(OutKind::State, 0, "s", s_next);
    g.output(OutKind::State, 1, "d", s);
    g.output(OutKind::Prediction, 0, "y", y);
    g.output(OutKind::Loss, 0, "loss", loss);
    let step = StepProgram {
        step: g,
        param_loss: Graph::new(),
        params: vec![slot(0, "w", &[N]), slot(1, "u", &[N]), slot(2, "a", &[N])],
        states: vec![slot(0, "s", &[B, N]), slot(1, "d", &[B, N])],
        input: Shape::from([B, N]),
        target: Shape::from([B, N]),
        fixed: Vec::new(),
    };
    let plain = compile_training(&step).unwrap();
    let batched = batch_over_time(plain.clone(), T).unwrap();
    assert!(batched.tape_lags.is_empty(), "{:?}", batched.tape_lags);
    assert!(copies_state_to_tape(&plain, 0) && copies_state_to_tape(&plain, 1));
    assert!(!copies_state_to_tape(&batched, 0), "{}", batched.forward);
    assert!(!copies_state_to_tape(&batched, 1), "{}", batched.forward);
    assert_eq!(batched.taped_states.len(), 2, "{:?}", batched.taped_states);
    // Batching twice changes nothing.
    let twice = batch_over_time(batched.clone(), T).unwrap();
    assert_eq!(twice.taped_states, batched.taped_states);
    // Same loss, gradients and final states as the unbatched programs, on
    // both backends.
    let jit = neurojit_compiler::jit::Jit::new();
    for backend in [
        &Interpreter as &dyn neurojit_compiler::kernel::Backend,
        &jit,
    ] {
        let run = |programs| {
            let mut s = Session::new(programs, backend, T).unwrap();
            s.set_param(0, &[0.5, -0.25, 1.0]).unwrap();
            s.set_param(1, &[0.1, 0.2, 0.3]).unwrap();
            s.set_param(2, &[0.9, 0.5, -0.3]).unwrap();
            let x = pseudo_random(B * T * N, 3);
            s.set_data(&x, &pseudo_random(B * T * N, 4)).unwrap();
            let loss = s.forward().unwrap().total();
            let last = s.final_state();
            s.backward().unwrap();
            (loss, s.grads().to_vec(), last)
        };
        let (loss, grads, last) = run(plain.clone());
        let (batched_loss, batched_grads, batched_last) = run(batched.clone());
        assert!((batched_loss - loss).abs() <= 1e-5 * loss.abs().max(1.0));
        assert!(last.iter().all(|state| state.iter().any(|&v| v != 0.0)));
        for (a, b) in batched_grads
            .iter()
            .chain(&batched_last)
            .zip(grads.iter().chain(&last))
        {
            assert!(b.iter().any(|&v| v != 0.0));
            for (x, y) in a.iter().zip(b) {
                assert!((x - y).abs() <= 1e-4 * y.abs().max(1.0), "{x} vs {y}");
            }
        }
    }
    // A lag the runtime cannot hold is refused, naming the problem.
    let mut bad = batched.clone();
    bad.tape_lags.push(neurojit_compiler::program::TapeLag {
        lagged: 0,
        leader: 0,
        initial_state: 0,
    });
    let error = Session::new(bad, &Interpreter, T).err().expect("refused");
    assert!(error.to_string().contains("cannot lag itself"), "{error}");
    // So is a taped state whose entry does not exist, and one whose entry
    // the forward step still writes (it would write the row the state is
    // read from).
    let mut bad = batched.clone();
    bad.taped_states[0].entry = 99;
    let error = Session::new(bad, &Interpreter, T).err().expect("refused");
    assert!(error.to_string().contains("no such tape entry"), "{error}");
    let mut bad = plain.clone();
    bad.taped_states = batched.taped_states.clone();
    let error = Session::new(bad, &Interpreter, T).err().expect("refused");
    assert!(
        error
            .to_string()
            .contains("must not write the entry itself"),
        "{error}"
    );
}

/// i' = (i + x @ w) * a, v' = v * b + i', s = spike(v'), with a readout
/// `s @ q`: a synaptic current that adds its input before decaying, as a
/// LIF layer's does, so the gradient of `x @ w` equals the adjoint of `i`
/// at the start of the step.
fn synaptic_program() -> StepProgram {
    let mut g = Graph::new();
    let w = g.arg(ArgKind::Param, 0, "w", Shape::from([N, N]));
    let a = g.arg(ArgKind::Param, 1, "a", Shape::from([N]));
    let b = g.arg(ArgKind::Param, 2, "b", Shape::from([N]));
    let th = g.arg(ArgKind::Param, 3, "th", Shape::from([N]));
    let q = g.arg(ArgKind::Param, 4, "q", Shape::from([N, N]));
    let i = g.arg(ArgKind::State, 0, "i", Shape::from([B, N]));
    let v = g.arg(ArgKind::State, 1, "v", Shape::from([B, N]));
    let x = g.arg(ArgKind::Input, 0, "x", Shape::from([B, N]));
    let y = g.arg(ArgKind::Target, 0, "y", Shape::from([B, N]));
    let drive = g.matmul(x, w).unwrap();
    let summed = g.add(i, drive).unwrap();
    let i_next = g.mul(summed, a).unwrap();
    let leak = g.mul(v, b).unwrap();
    let v_next = g.add(leak, i_next).unwrap();
    let s = g.spike(v_next, th, 0.5, 4.0).unwrap();
    let reset = g.mul(s, th).unwrap();
    let v_reset = g.sub(v_next, reset).unwrap();
    g.output(OutKind::State, 0, "i", i_next);
    g.output(OutKind::State, 1, "v", v_reset);
    readout_loss(&mut g, s, q, y);
    StepProgram {
        step: g,
        param_loss: Graph::new(),
        params: vec![
            slot(0, "w", &[N, N]),
            slot(1, "a", &[N]),
            slot(2, "b", &[N]),
            slot(3, "th", &[N]),
            slot(4, "q", &[N, N]),
        ],
        states: vec![slot(0, "i", &[B, N]), slot(1, "v", &[B, N])],
        input: Shape::from([B, N]),
        target: Shape::from([B, N]),
        fixed: Vec::new(),
    }
}

#[test]
fn an_adjoint_the_weight_gradient_reads_is_kept_in_its_sequence() {
    let plain = compile_training(&synaptic_program()).unwrap();
    let batched = batch_over_time(plain.clone(), T).unwrap();
    // The weight gradients Σ_t x_tᵀ g_t run in the epilogue. For w, g_t is
    // the adjoint of `i` at the start of step t, which the backward step
    // writes anyway; for the readout q it is no state's adjoint.
    assert_eq!(batched.epilogue.outputs().len(), 2, "{}", batched.epilogue);
    assert_eq!(
        batched.adjoint_sequences.len(),
        1,
        "{:?}",
        batched.adjoint_sequences
    );
    let kept = batched.adjoint_sequences[0];
    assert_eq!(kept.state, 0);
    assert_eq!(batched.sequences[kept.sequence].name, "g of w grad");
    let writes = |o: &neurojit_compiler::ir::Output| o.kind == OutKind::Sequence;
    let written: Vec<usize> = batched
        .backward
        .outputs()
        .iter()
        .filter(|o| writes(o))
        .map(|o| o.slot)
        .collect();
    assert!(!written.contains(&kept.sequence), "{}", batched.backward);
    assert_eq!(written.len(), 1, "{}", batched.backward);
    let twice = batch_over_time(batched.clone(), T).unwrap();
    assert_eq!(twice.adjoint_sequences, batched.adjoint_sequences);
    // Same loss, gradients and outputs as the unbatched programs, on both
    // backends, from spiking activity.
    let params = [
        pseudo_random(N * N, 21),
        vec![0.9, 0.7, 0.8],
        vec![0.5, 0.6, 0.4],
        vec![0.3, 0.4, 0.2],
        pseudo_random(N * N, 22),
    ];
    let jit = neurojit_compiler::jit::Jit::new();
    for backend in [
        &Interpreter as &dyn neurojit_compiler::kernel::Backend,
        &jit,
    ] {
        let want = spiking_pass(plain.clone(), backend, &params, 23);
        assert_same_pass(&spiking_pass(batched.clone(), backend, &params, 23), &want);
    }
    // The runtime refuses what it cannot hold, naming the state: a
    // sequence that does not exist, and a backward step that still writes
    // the sequence (it would write the rows the adjoint is read from).
    let mut bad = batched.clone();
    bad.adjoint_sequences[0].sequence = 99;
    let error = Session::new(bad, &Interpreter, T).err().expect("refused");
    let message = error.to_string();
    assert!(message.contains("no such sequence"), "{message}");
    assert!(message.contains("state `i`"), "{message}");
    let mut bad = batched.clone();
    let adjoint = bad
        .backward
        .outputs()
        .iter()
        .find(|o| o.kind == OutKind::StateAdjoint && o.slot == kept.state)
        .expect("the backward step writes the adjoint")
        .clone();
    let mut outputs = bad.backward.outputs().to_vec();
    outputs.push(neurojit_compiler::ir::Output {
        kind: OutKind::Sequence,
        slot: kept.sequence,
        name: bad.sequences[kept.sequence].name.clone(),
        ..adjoint
    });
    bad.backward.set_outputs(outputs);
    let error = Session::new(bad, &Interpreter, T).err().expect("refused");
    assert!(
        error
            .to_string()
            .contains("must not write the sequence itself"),
        "{error}"
    );
    // Nor may the adjoint go unwritten: row t would keep its zeros.
    let mut bad = batched.clone();
    let outputs = (bad.backward.outputs().iter())
        .filter(|o| !(o.kind == OutKind::StateAdjoint && o.slot == kept.state))
        .cloned()
        .collect();
    bad.backward.set_outputs(outputs);
    let error = Session::new(bad, &Interpreter, T).err().expect("refused");
    assert!(
        error.to_string().contains("must write the adjoint"),
        "{error}"
    );
}

/// Hand-built programs whose buffers the runtime must refuse to lay out:
/// each would let a kernel read or write memory it was not given, or
/// abort while allocating, if accepted.
#[test]
fn programs_the_runtime_cannot_hold_safely_are_refused() {
    // Tape slots numbered out of position: buffers are made one per
    // position and found by slot, so entry `big` would write 4 floats per
    // step into the 1-float-per-step buffer made for `small`.
    let mut programs = compile_training(&leaky_program()).unwrap();
    let mut forward = Graph::new();
    let x = forward.arg(ArgKind::Input, 0, "x", Shape::from([B, N]));
    let negated = forward.neg(x);
    forward.output(OutKind::Tape, 0, "big", negated);
    programs.forward = forward;
    programs.backward = Graph::new();
    programs.tape = vec![slot(1, "big", &[B, N]), slot(0, "small", &[1])];
    let jit = neurojit_compiler::jit::Jit::new();
    for backend in [
        &Interpreter as &dyn neurojit_compiler::kernel::Backend,
        &jit,
    ] {
        let err = Session::new(programs.clone(), backend, T)
            .err()
            .expect("refused")
            .to_string();
        assert!(
            err.contains("tape entry `big` is listed at position 0 with slot 1"),
            "{err}"
        );
    }

    // A taped state that a program over all steps writes: its row labels
    // would overlap the entry's rows that program reads.
    let step = {
        let mut g = Graph::new();
        let w = g.arg(ArgKind::Param, 0, "w", Shape::from([N]));
        let s = g.arg(ArgKind::State, 0, "s", Shape::from([B, N]));
        let x = g.arg(ArgKind::Input, 0, "x", Shape::from([B, N]));
        let target = g.arg(ArgKind::Target, 0, "y", Shape::from([B, N]));
        let y = g.mul(s, w).unwrap();
        let err = g.sub(y, target).unwrap();
        let sq = g.mul(err, err).unwrap();
        let loss = g.mean_all(sq);
        let s_next = g.add(s, x).unwrap();
        g.output(OutKind::State, 0, "s", s_next);
        g.output(OutKind::Prediction, 0, "y", y);
        g.output(OutKind::Loss, 0, "loss", loss);
        StepProgram {
            step: g,
            param_loss: Graph::new(),
            params: vec![slot(0, "w", &[N])],
            states: vec![slot(0, "s", &[B, N])],
            input: Shape::from([B, N]),
            target: Shape::from([B, N]),
            fixed: Vec::new(),
        }
    };
    let batched = batch_over_time(compile_training(&step).unwrap(), T).unwrap();
    assert_eq!(batched.taped_states.len(), 1, "{:?}", batched.taped_states);
    assert!(Session::new(batched.clone(), &Interpreter, T).is_ok());
    let entry = batched.taped_states[0].entry;
    let mut bad = batched.clone();
    let mut epilogue = Graph::new();
    let rows = epilogue.arg(ArgKind::Tape, entry, "s", Shape::from([T * B, N]));
    let first = epilogue.reshape(rows, &Shape::from([T, B * N])).unwrap();
    let total = epilogue.reduce_sum(first, 0).unwrap();
    let state = epilogue.reshape(total, &Shape::from([B, N])).unwrap();
    epilogue.output(OutKind::State, 0, "s", state);
    bad.epilogue = epilogue;
    let err = Session::new(bad, &Interpreter, T)
        .err()
        .expect("refused")
        .to_string();
    assert!(
        err.contains("only the forward step may read or write the state"),
        "{err}"
    );

    // A network input too large to hold, which no per-step program reads
    // once time-batched: refused before its buffer is allocated.
    let mut huge = batched;
    huge.input = Shape::from([1, 1 << 28]);
    let err = Session::new(huge, &Interpreter, 1 << 20)
        .err()
        .expect("refused")
        .to_string();
    assert!(
        err.contains("the network input over 1048576 timesteps"),
        "{err}"
    );
}

#[test]
fn programs_over_empty_values_run_alike_on_both_backends() {
    // Zero neurons (the front end refuses such layers, the runtime and the
    // JIT must still handle empty values): every per-neuron value is
    // empty, and the JIT's empty scratch values share an offset with the
    // values after them. The mean over no outputs is 0/0 on both.
    let mut g = Graph::new();
    let w = g.arg(ArgKind::Param, 0, "w", Shape::from([N, 0]));
    let a = g.arg(ArgKind::Param, 1, "a", Shape::from([0]));
    let h = g.arg(ArgKind::State, 0, "h", Shape::from([B, 0]));
    let x = g.arg(ArgKind::Input, 0, "x", Shape::from([B, N]));
    let target = g.arg(ArgKind::Target, 0, "y", Shape::from([B, 0]));
    let a_b = g.broadcast_to(a, &Shape::from([B, 0])).unwrap();
    let leak = g.mul(h, a_b).unwrap();
    let drive = g.matmul(x, w).unwrap();
    let h_next = g.add(leak, drive).unwrap();
    let err = g.sub(h_next, target).unwrap();
    let sq = g.mul(err, err).unwrap();
    let loss = g.mean_all(sq);
    g.output(OutKind::State, 0, "h", h_next);
    g.output(OutKind::Prediction, 0, "y", h_next);
    g.output(OutKind::Loss, 0, "loss", loss);
    let step = StepProgram {
        step: g,
        param_loss: Graph::new(),
        params: vec![slot(0, "w", &[N, 0]), slot(1, "a", &[0])],
        states: vec![slot(0, "h", &[B, 0])],
        input: Shape::from([B, N]),
        target: Shape::from([B, 0]),
        fixed: Vec::new(),
    };
    let jit = neurojit_compiler::jit::Jit::new();
    let plain = compile_training(&step).unwrap();
    for programs in [plain.clone(), batch_over_time(plain, T).unwrap()] {
        let losses: Vec<f32> = [
            &Interpreter as &dyn neurojit_compiler::kernel::Backend,
            &jit,
        ]
        .into_iter()
        .map(|backend| {
            let mut s = Session::new(programs.clone(), backend, T).unwrap();
            s.set_data(&pseudo_random(B * T * N, 5), &[]).unwrap();
            let loss = s.forward().unwrap().total();
            s.backward().unwrap();
            assert!(s.grads().iter().all(|g| g.is_empty()));
            loss
        })
        .collect();
        assert!(losses.iter().all(|l| l.is_nan()), "{losses:?}");
    }
}
