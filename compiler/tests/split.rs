//! `compile_training`: the programs' signatures, hoisting (parameter-only
//! values computed once, in the prologue), the tape (only what the backward
//! step reads, nothing it can recompute), and agreement of the split
//! programs with the traced step and its direct gradient.

mod steps;

use neurojit_compiler::autodiff::backprop;
use neurojit_compiler::interp::live_values;
use neurojit_compiler::ir::{
    ArgKind, BinaryOp, Graph, GraphError, Op, OutKind, Shape, UnaryOp, Value,
};
use neurojit_compiler::program::{compile_training, StepProgram, TrainingPrograms};
use steps::{linear_lif, outputs_of, pseudo_random, real_spike, run, Bindings};

fn lif() -> StepProgram {
    linear_lif(4, 3, 5, false, &real_spike)
}

fn kinds_of_args(g: &Graph) -> Vec<ArgKind> {
    g.args().iter().map(|a| a.kind).collect()
}

#[test]
fn programs_have_their_signatures_and_only_needed_nodes() {
    for step in [
        lif(),
        linear_lif(2, 3, 4, true, &real_spike),
        steps::leaky_integrator(2, 3, 4),
    ] {
        let p = compile_training(&step).unwrap();
        use ArgKind::*;
        let allowed: [(&Graph, &[ArgKind], &[OutKind]); 4] = [
            (&p.prologue, &[Param], &[OutKind::Hoisted]),
            (
                &p.forward,
                &[Param, Hoisted, State, Input, Target],
                &[
                    OutKind::State,
                    OutKind::Prediction,
                    OutKind::Loss,
                    OutKind::Tape,
                    OutKind::Record,
                ],
            ),
            (
                &p.backward,
                &[Param, Hoisted, Tape, Input, Target, StateAdjoint],
                &[OutKind::StateAdjoint, OutKind::ParamGrad],
            ),
            (
                &p.param_loss,
                &[Param],
                &[OutKind::Loss, OutKind::ParamGrad],
            ),
        ];
        for (g, args, outs) in allowed {
            assert!(kinds_of_args(g).iter().all(|k| args.contains(k)), "{g}");
            assert!(g.outputs().iter().all(|o| outs.contains(&o.kind)), "{g}");
            assert_eq!(live_values(g).len(), g.len(), "dead nodes in\n{g}");
            for o in g.outputs() {
                assert_eq!(o.accumulate, o.kind == OutKind::ParamGrad, "{o:?}");
            }
        }
        // Every state gets its adjoint, even one the step never reads.
        for s in &step.states {
            let found = p
                .backward
                .outputs()
                .iter()
                .find(|o| o.kind == OutKind::StateAdjoint && o.slot == s.slot);
            assert_eq!(p.backward.shape(found.unwrap().value), &s.shape);
        }
        // Slots describe the programs' buffers.
        for (j, h) in p.hoisted.iter().enumerate() {
            let out = &p.prologue.outputs()[j];
            assert_eq!((out.kind, out.slot), (OutKind::Hoisted, h.slot));
            assert_eq!(p.prologue.shape(out.value), &h.shape);
        }
        let tape_outputs = outputs_with(&p.forward, OutKind::Tape);
        assert_eq!(tape_outputs.len(), p.tape.len());
        for t in &p.tape {
            assert_eq!(p.forward.shape(tape_outputs[t.slot]), &t.shape);
        }
        assert_eq!(
            p.records.len(),
            outputs_with(&p.forward, OutKind::Record).len()
        );
        assert_eq!(
            p.prediction,
            p.forward
                .shape(outputs_with(&p.forward, OutKind::Prediction)[0])
                .clone()
        );
    }
}

/// The values of `g`'s outputs of `kind`, by slot order.
fn outputs_with(g: &Graph, kind: OutKind) -> Vec<Value> {
    let mut outs: Vec<_> = g.outputs().iter().filter(|o| o.kind == kind).collect();
    outs.sort_by_key(|o| o.slot);
    outs.iter().map(|o| o.value).collect()
}

/// `invariant[v]`: `v` reads a parameter or hoisted value and nothing that
/// changes from step to step.
fn parameter_only(g: &Graph) -> Vec<bool> {
    let mut params = vec![false; g.len()];
    let mut varying = vec![false; g.len()];
    for v in g.values() {
        match g.arg_of(v) {
            Some(a) => {
                let fixed = matches!(a.kind, ArgKind::Param | ArgKind::Hoisted);
                params[v.index()] = fixed;
                varying[v.index()] = !fixed;
            }
            None => {
                for x in g.op(v).operands() {
                    params[v.index()] |= params[x.index()];
                    varying[v.index()] |= varying[x.index()];
                }
            }
        }
    }
    params.iter().zip(&varying).map(|(p, t)| *p && !t).collect()
}

#[test]
fn parameter_only_values_are_computed_once_in_the_prologue() {
    let step = lif();
    let p = compile_training(&step).unwrap();
    let count_exp = |g: &Graph| {
        g.values()
            .filter(|&v| matches!(g.op(v), Op::Unary(UnaryOp::Exp, _)))
            .count()
    };
    // alpha and beta: two exps, both in the prologue.
    assert_eq!(count_exp(&p.prologue), 2, "{}", p.prologue);
    for g in [&p.forward, &p.backward] {
        assert_eq!(count_exp(g), 0, "{g}");
        let invariant = parameter_only(g);
        for v in g.values().filter(|v| invariant[v.index()]) {
            assert!(
                matches!(g.op(v), Op::Arg(_) | Op::Broadcast(_) | Op::Reshape(_)),
                "`%{} = {}` depends on parameters only but is computed per step",
                v.0,
                g.describe(v)
            );
        }
    }
    // Parameters and constants are not copied into hoisted buffers.
    for o in p.prologue.outputs() {
        assert!(
            !matches!(p.prologue.op(o.value), Op::Arg(_) | Op::Constant(_)),
            "hoisted {} is a bare argument or constant",
            o.name
        );
    }
    // The time-invariant factor of the tau_mem gradient
    // (d alpha / d tau = alpha * dt / tau^2) is hoisted too: per step the
    // gradient is one product of a time-varying sum with a hoisted value.
    let grads = outputs_with(&p.backward, OutKind::ParamGrad);
    let tau_grad = grads[1];
    let Op::Binary(_, a, b) = *p.backward.op(tau_grad) else {
        panic!("tau_mem's gradient is `{}`", p.backward.describe(tau_grad));
    };
    let hoisted =
        |v: Value| matches!(p.backward.arg_of(v), Some(arg) if arg.kind == ArgKind::Hoisted);
    assert!(
        hoisted(a) || hoisted(b),
        "{}",
        p.backward.describe(tau_grad)
    );
}

#[test]
fn gradient_quotients_by_invariant_divisors_multiply_by_a_hoisted_reciprocal() {
    for step in [lif(), linear_lif(2, 3, 4, true, &real_spike)] {
        let p = compile_training(&step).unwrap();
        // The surrogate gradient divides by the threshold; per step that is
        // now a product with the threshold's reciprocal, made in the
        // prologue.
        let invariant = parameter_only(&p.backward);
        for v in p.backward.values() {
            if let Op::Binary(BinaryOp::Div, _, d) = *p.backward.op(v) {
                assert!(
                    !invariant[d.index()],
                    "`%{} = {}` divides by a time-invariant value every step",
                    v.0,
                    p.backward.describe(v)
                );
            }
        }
        let reciprocals = p
            .prologue
            .outputs()
            .iter()
            .filter(|o| matches!(p.prologue.op(o.value), Op::Unary(UnaryOp::Recip, _)))
            .count();
        assert!(reciprocals > 0, "{}", p.prologue);
    }
}

#[test]
fn quotients_the_forward_outputs_need_stay_divisions() {
    // y = (v * w + x) / th is a prediction: its rounding is left as traced.
    // Its gradient divides by th too, and that quotient is rewritten, with
    // the reciprocal taken per element of th, before the broadcast.
    let mut g = Graph::new();
    let w = g.arg(ArgKind::Param, 0, "w", Shape::from([3]));
    let th = g.arg(ArgKind::Param, 1, "th", Shape::from([3]));
    let v = g.arg(ArgKind::State, 0, "v", Shape::from([2, 3]));
    let x = g.arg(ArgKind::Input, 0, "x", Shape::from([2, 3]));
    let target = g.arg(ArgKind::Target, 0, "y", Shape::from([2, 3]));
    let a = g.mul(v, w).unwrap();
    let next = g.add(a, x).unwrap();
    let y = g.div(next, th).unwrap();
    let d = g.sub(y, target).unwrap();
    let d2 = g.mul(d, d).unwrap();
    let loss = g.mean_all(d2);
    g.output(OutKind::State, 0, "v", next);
    g.output(OutKind::Prediction, 0, "y", y);
    g.output(OutKind::Loss, 0, "loss", loss);
    let step = StepProgram {
        step: g,
        param_loss: Graph::new(),
        params: vec![slot(0, "w", &[3]), slot(1, "th", &[3])],
        states: vec![slot(0, "v", &[2, 3])],
        input: Shape::from([2, 3]),
        target: Shape::from([2, 3]),
        fixed: Vec::new(),
    };
    let p = compile_training(&step).unwrap();
    let divisions = |g: &Graph| {
        g.values()
            .filter(|&v| matches!(g.op(v), Op::Binary(BinaryOp::Div, ..)))
            .count()
    };
    assert_eq!(divisions(&p.forward), 1, "{}", p.forward);
    // The backward step recomputes y (one division, as traced); the
    // gradient's own `g / th` is a product now.
    assert_eq!(divisions(&p.backward), 1, "{}", p.backward);
    let reciprocal = p
        .prologue
        .outputs()
        .iter()
        .find(|o| matches!(p.prologue.op(o.value), Op::Unary(UnaryOp::Recip, _)))
        .unwrap_or_else(|| panic!("no hoisted reciprocal in\n{}", p.prologue));
    assert_eq!(p.prologue.shape(reciprocal.value), &Shape::from([3]));
}

#[test]
fn products_with_a_transposed_weight_read_a_transpose_made_in_the_prologue() {
    // The backward step of a recurrent layer multiplies by `w_recᵀ`.
    let step = linear_lif(2, 3, 4, true, &real_spike);
    let p = compile_training(&step).unwrap();
    let transposes: Vec<Value> = p
        .prologue
        .values()
        .filter(|&v| matches!(p.prologue.op(v), Op::Transpose(_)))
        .collect();
    assert_eq!(transposes.len(), 1, "{}", p.prologue);
    let Op::Transpose(w) = *p.prologue.op(transposes[0]) else {
        unreachable!()
    };
    let arg = p.prologue.arg_of(w).expect("a parameter");
    assert_eq!(
        (arg.kind, arg.name.as_str()),
        (ArgKind::Param, "1_LIF/w_rec")
    );
    let hoisted_transpose = p
        .prologue
        .outputs()
        .iter()
        .any(|o| o.kind == OutKind::Hoisted && o.value == transposes[0]);
    assert!(hoisted_transpose, "{}", p.prologue);
    // No step product reads a parameter-only operand through a transpose
    // flag, and the backward step reads the hoisted transpose.
    let mut reads_hoisted = false;
    for g in [&p.forward, &p.backward] {
        let invariant = parameter_only(g);
        for v in g.values() {
            if let Op::Matmul {
                lhs,
                rhs,
                transpose_lhs,
                transpose_rhs,
            } = *g.op(v)
            {
                assert!(
                    !(transpose_lhs && invariant[lhs.index()]),
                    "{}",
                    g.describe(v)
                );
                assert!(
                    !(transpose_rhs && invariant[rhs.index()]),
                    "{}",
                    g.describe(v)
                );
                reads_hoisted |= matches!(g.arg_of(rhs), Some(a) if a.kind == ArgKind::Hoisted);
            }
        }
    }
    assert!(reads_hoisted, "{}", p.backward);
}

#[test]
fn hoisting_ignores_bare_parameters_and_constant_expressions() {
    let mut g = Graph::new();
    let w = g.arg(ArgKind::Param, 0, "w", Shape::from([3]));
    let tau = g.arg(ArgKind::Param, 1, "tau", Shape::from([3]));
    let v = g.arg(ArgKind::State, 0, "v", Shape::from([2, 3]));
    let x = g.arg(ArgKind::Input, 0, "x", Shape::from([2, 3]));
    let target = g.arg(ArgKind::Target, 0, "y", Shape::from([2, 3]));
    let two = g.scalar(2.0);
    let e2 = g.exp(two); // constant expression: left to the simplifier
    let decay = g.exp(tau); // parameter-only: hoisted
    let a = g.mul(v, decay).unwrap();
    let b = g.mul(x, w).unwrap(); // bare parameter read directly
    let c = g.add(b, e2).unwrap();
    let next = g.add(a, c).unwrap();
    let d = g.sub(next, target).unwrap();
    let d2 = g.mul(d, d).unwrap();
    let loss = g.mean_all(d2);
    g.output(OutKind::State, 0, "v", next);
    g.output(OutKind::Prediction, 0, "y", next);
    g.output(OutKind::Loss, 0, "loss", loss);
    let step = StepProgram {
        step: g,
        param_loss: Graph::new(),
        params: vec![slot(0, "w", &[3]), slot(1, "tau", &[3])],
        states: vec![slot(0, "v", &[2, 3])],
        input: Shape::from([2, 3]),
        target: Shape::from([2, 3]),
        fixed: Vec::new(),
    };
    let p = compile_training(&step).unwrap();
    // exp(tau) is the only value every step needs that depends on
    // parameters alone.
    assert_eq!(p.hoisted.len(), 1, "{}", p.prologue);
    let out = p.prologue.outputs()[0].value;
    assert!(matches!(p.prologue.op(out), Op::Unary(UnaryOp::Exp, _)));
    assert!(p.param_loss.outputs().is_empty());
}

fn slot(slot: usize, name: &str, dims: &[usize]) -> neurojit_compiler::program::Slot {
    neurojit_compiler::program::Slot {
        slot,
        name: name.into(),
        shape: Shape::new(dims),
    }
}

#[test]
fn tape_holds_only_values_the_backward_step_reads() {
    let (b, n) = (4, 5);
    for step in [
        linear_lif(b, 3, n, false, &real_spike),
        linear_lif(b, 3, n, true, &real_spike),
    ] {
        let p = compile_training(&step).unwrap();
        let taped = outputs_with(&p.forward, OutKind::Tape);
        assert!(!taped.is_empty());
        // Each entry is read by the backward step, which reads no state.
        for t in &p.tape {
            let read = p
                .backward
                .args()
                .iter()
                .any(|a| a.kind == ArgKind::Tape && a.slot == t.slot);
            assert!(read, "tape entry {} is never read", t.name);
        }
        assert!(!kinds_of_args(&p.backward).contains(&ArgKind::State));
        // Spikes are read back, never recomputed.
        let spike_in_backward = p
            .backward
            .values()
            .any(|v| matches!(p.backward.op(v), Op::Spike { .. }));
        assert!(!spike_in_backward, "{}", p.backward);
        // No entry can be recomputed from the others and the backward's
        // own arguments without a matmul or a spike.
        for (k, &t) in taped.iter().enumerate() {
            let others: Vec<Value> = taped.iter().copied().filter(|&o| o != t).collect();
            assert!(
                needs_state_matmul_or_spike(&p.forward, t, &others),
                "tape entry {} can be recomputed from the others",
                p.tape[k].name
            );
        }
    }
    // By hand, for the feed-forward LIF step: the backward step needs the
    // potential before the decay (for d alpha), the synaptic current after
    // the input (for d beta) and the spikes (for the loss, taped rather than
    // recomputed); from the first two it recomputes the potential before
    // the spike (for the surrogate). As spikes are never recomputed,
    // nothing smaller will do: 3 * b * n values.
    let p = compile_training(&lif()).unwrap();
    assert_eq!(p.tape_bytes_per_step(), 3 * b * n * 4, "{:?}", p.tape);
}

/// Whether computing `v` in the backward step would need a state argument,
/// a matmul or a spike, when the `available` values are given.
fn needs_state_matmul_or_spike(g: &Graph, v: Value, available: &[Value]) -> bool {
    let mut pending = vec![v];
    let mut seen = vec![false; g.len()];
    while let Some(u) = pending.pop() {
        if seen[u.index()] || (u != v && available.contains(&u)) {
            continue;
        }
        seen[u.index()] = true;
        match g.op(u) {
            Op::Matmul { .. } | Op::Spike { .. } => return true,
            Op::Arg(_) if g.arg_of(u).unwrap().kind == ArgKind::State => return true,
            op => pending.extend(op.operands()),
        }
    }
    false
}

/// The traced step with its gradient built directly by `backprop`, without
/// simplification or splitting: outputs State, Prediction, Loss, then
/// StateAdjoint(s) and ParamGrad(p) for every slot.
fn direct_gradient(step: &StepProgram) -> Graph {
    let mut g = step.step.clone();
    let out = |g: &Graph, kind: OutKind, slot: usize| {
        g.outputs()
            .iter()
            .find(|o| o.kind == kind && o.slot == slot)
            .unwrap()
            .value
    };
    let one = g.scalar(1.0);
    let mut seeds = vec![(out(&g, OutKind::Loss, 0), one)];
    let mut wrt = Vec::new();
    for s in &step.states {
        let adjoint = g.arg(ArgKind::StateAdjoint, s.slot, &s.name, s.shape.clone());
        seeds.push((out(&g, OutKind::State, s.slot), adjoint));
        wrt.push(g.arg(ArgKind::State, s.slot, &s.name, s.shape.clone()));
    }
    for p in &step.params {
        wrt.push(g.arg(ArgKind::Param, p.slot, &p.name, p.shape.clone()));
    }
    let grads = backprop(&mut g, &seeds, &wrt).unwrap();
    let (states, params) = grads.split_at(step.states.len());
    for (s, &v) in step.states.iter().zip(states) {
        g.output(OutKind::StateAdjoint, s.slot, &s.name, v);
    }
    for (p, &v) in step.params.iter().zip(params) {
        g.output(OutKind::ParamGrad, p.slot, &p.name, v);
    }
    g
}

/// One step through the split programs; returns the outputs of `kinds`
/// from forward and backward, by (kind, slot).
fn one_split_step(p: &TrainingPrograms, b: &Bindings) -> Vec<(OutKind, usize, Vec<f32>)> {
    let prologue = run(
        &p.prologue,
        &Bindings {
            params: b.params,
            ..Default::default()
        },
    );
    let hoisted: Vec<Vec<f32>> = prologue;
    let fb = Bindings {
        hoisted: &hoisted,
        ..*b
    };
    let forward = run(&p.forward, &fb);
    let mut tape = vec![Vec::new(); p.tape.len()];
    for (slot, v) in outputs_of(&p.forward, &forward, OutKind::Tape) {
        tape[slot] = v;
    }
    let backward = run(&p.backward, &Bindings { tape: &tape, ..fb });
    let mut all = Vec::new();
    for (g, values) in [(&p.forward, &forward), (&p.backward, &backward)] {
        for (o, v) in g.outputs().iter().zip(values) {
            all.push((o.kind, o.slot, v.clone()));
        }
    }
    all
}

#[test]
fn split_programs_compute_what_the_step_and_its_gradient_compute() {
    let (b, nin, n) = (3, 4, 5);
    let cases = [
        linear_lif(b, nin, n, true, &real_spike),
        linear_lif(b, nin, n, false, &real_spike),
        steps::leaky_integrator(b, nin, n),
    ];
    for (c, step) in cases.iter().enumerate() {
        let p = compile_training(step).unwrap();
        let params: Vec<Vec<f32>> = step
            .params
            .iter()
            .enumerate()
            .map(|(i, s)| match s.name.as_str() {
                "1_LIF/tau_mem" | "1_LIF/tau_syn" | "tau" => {
                    pseudo_random(s.shape.numel(), i as u64, 0.005, 0.02)
                }
                "1_LIF/threshold" => pseudo_random(s.shape.numel(), i as u64, 0.8, 1.2),
                _ => pseudo_random(s.shape.numel(), i as u64, -1.0, 1.0),
            })
            .collect();
        // States large enough that some neurons spike (several times).
        let states: Vec<Vec<f32>> = step
            .states
            .iter()
            .enumerate()
            .map(|(i, s)| pseudo_random(s.shape.numel(), 50 + i as u64, -1.0, 2.5))
            .collect();
        let adjoints: Vec<Vec<f32>> = step
            .states
            .iter()
            .enumerate()
            .map(|(i, s)| pseudo_random(s.shape.numel(), 60 + i as u64, -1.0, 1.0))
            .collect();
        let x = pseudo_random(b * nin, 70, -1.0, 1.0);
        let target = pseudo_random(b * n, 71, 0.0, 1.0);
        let inputs: [&[f32]; 1] = [&x];
        let bindings = Bindings {
            params: &params,
            states: &states,
            inputs: &inputs,
            target: &target,
            state_adjoints: &adjoints,
            ..Default::default()
        };
        let split = one_split_step(&p, &bindings);
        let direct_graph = direct_gradient(step);
        let direct = run(&direct_graph, &bindings);
        let mut compared = 0;
        for (o, expected) in direct_graph.outputs().iter().zip(&direct) {
            let found = split.iter().find(|(k, s, _)| *k == o.kind && *s == o.slot);
            let got = match found {
                Some((_, _, got)) => got.clone(),
                // A parameter the step does not depend on has no output.
                None if o.kind == OutKind::ParamGrad => vec![0.0; expected.len()],
                None => panic!("case {c}: no {:?} {} output", o.kind, o.slot),
            };
            // Forward values are computed exactly as traced (spikes depend
            // on their rounding); gradients may be reassociated.
            let exact = !matches!(o.kind, OutKind::StateAdjoint | OutKind::ParamGrad);
            if exact {
                assert_eq!(&got, expected, "case {c}: {:?} {}", o.kind, o.name);
            }
            let scale = expected.iter().fold(1e-3f32, |m, x| m.max(x.abs()));
            for (j, (g, e)) in got.iter().zip(expected).enumerate() {
                assert!(
                    (g - e).abs() <= 1e-5 * scale,
                    "case {c}: {:?} {} [{j}]: split {g}, direct {e}",
                    o.kind,
                    o.name
                );
            }
            compared += 1;
        }
        assert!(compared >= step.params.len() + 2 * step.states.len() + 2);
        if c == 0 {
            let spikes = &split
                .iter()
                .find(|(k, _, _)| *k == OutKind::Prediction)
                .unwrap()
                .2;
            assert!(
                spikes.iter().any(|&s| s >= 2.0),
                "no multiple spikes: {spikes:?}"
            );
        }
    }
}

/// The pass statistics count the traced step's live nodes and grow with
/// the gradients; the other sizes are printed for reading (the tutorial
/// network's, which docs/architecture.md quotes, are checked against
/// `neurojit ir` in tests/cli.rs).
#[test]
fn stats_count_the_traced_step_and_its_gradients() {
    let step = lif();
    let p = compile_training(&step).unwrap();
    assert_eq!(p.stats.traced, live_values(&step.step).len());
    assert!(p.stats.with_gradients > p.stats.traced);
    eprintln!(
        "Linear(3->5) -> LIF(5), batch 4: traced {}, with gradients {}, simplified {}; \
         prologue {}, forward {}, backward {}, param_loss {} nodes; \
         {} hoisted, {} taped ({} bytes per step)",
        p.stats.traced,
        p.stats.with_gradients,
        p.stats.simplified,
        p.prologue.len(),
        p.forward.len(),
        p.backward.len(),
        p.param_loss.len(),
        p.hoisted.len(),
        p.tape.len(),
        p.tape_bytes_per_step()
    );
}

#[test]
fn malformed_steps_are_errors_that_say_what_is_wrong() {
    // No loss output.
    let mut step = lif();
    let outputs: Vec<_> = step
        .step
        .outputs()
        .iter()
        .filter(|o| o.kind != OutKind::Loss)
        .cloned()
        .collect();
    step.step.set_outputs(outputs);
    let err = compile_training(&step).unwrap_err();
    assert!(matches!(err, GraphError::Missing { .. }), "{err}");
    assert!(err.to_string().contains("loss"), "{err}");

    // A state slot whose shape does not match its output.
    let mut step = lif();
    step.states[0].shape = Shape::from([4, 6]);
    let err = compile_training(&step).unwrap_err().to_string();
    assert!(
        err.contains("1_LIF/vmem") && err.contains("[4,6]") && err.contains("[4,5]"),
        "{err}"
    );

    // A parameter the step reads but does not list.
    let mut step = lif();
    step.params.pop();
    let err = compile_training(&step).unwrap_err().to_string();
    assert!(
        err.contains("1_LIF/threshold") && err.contains("missing"),
        "{err}"
    );

    // A loss that is not a scalar.
    let mut step = lif();
    let prediction = step
        .step
        .outputs()
        .iter()
        .find(|o| o.kind == OutKind::Prediction)
        .unwrap()
        .value;
    let outputs: Vec<_> = step
        .step
        .outputs()
        .iter()
        .map(|o| {
            let mut o = o.clone();
            if o.kind == OutKind::Loss {
                o.value = prediction;
            }
            o
        })
        .collect();
    step.step.set_outputs(outputs);
    let err = compile_training(&step).unwrap_err().to_string();
    assert!(err.contains("loss") && err.contains("[]"), "{err}");
}
