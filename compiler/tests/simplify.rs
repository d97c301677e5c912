//! Tests of the simplifier: each rewrite on its own (what it becomes, and
//! that the interpreter gives bit-identical results on inputs full of
//! special values), golden IR files under `tests/ir/` (a printed graph
//! before and after simplification, compared as text), and node counts on a
//! two-layer LIF network step.
//!
//! To rewrite the golden files after a deliberate change, run
//! `NEUROJIT_BLESS=1 cargo test --release -p neurojit-compiler --test simplify`
//! and review the diff.

use neurojit_compiler::autodiff::backprop;
use neurojit_compiler::interp::{evaluate, live_values};
use neurojit_compiler::ir::{
    ArgKind, BinaryOp, CompareOp, Graph, Op, OutKind, Output, Shape, UnaryOp, Value,
};
use neurojit_compiler::simplify::simplify;
use std::path::PathBuf;

// ----- helpers -----------------------------------------------------------------

/// Values that tell exact rewrites from inexact ones: signed zeros,
/// infinities, NaN, a subnormal, a huge value and ordinary numbers.
const SPECIAL: [f32; 14] = [
    -0.0,
    0.0,
    1.0,
    -1.0,
    2.5,
    -3.75,
    f32::INFINITY,
    f32::NEG_INFINITY,
    f32::NAN,
    1e-40,
    3e38,
    0.1,
    -7.0,
    0.5,
];

/// One buffer per argument, cycling through `values` from a different
/// start for each argument.
fn cycling_args(graph: &Graph, values: &[f32]) -> Vec<Vec<f32>> {
    graph
        .args()
        .iter()
        .enumerate()
        .map(|(i, arg)| {
            (0..arg.shape.numel())
                .map(|j| values[(3 * i + j) % values.len()])
                .collect()
        })
        .collect()
}

fn special_args(graph: &Graph) -> Vec<Vec<f32>> {
    cycling_args(graph, &SPECIAL)
}

/// Ordinary values (signed zeros included): outputs stay finite, so a
/// rewrite that changes a result cannot hide behind a NaN that the
/// special values spread through a graph.
const FINITE: [f32; 9] = [0.5, -1.25, 2.0, 0.1, -0.3, 1.5, -0.0, 0.75, -2.5];

fn finite_args(graph: &Graph) -> Vec<Vec<f32>> {
    cycling_args(graph, &FINITE)
}

fn same_bits(a: f32, b: f32) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

/// Evaluates both graphs on the same arguments and requires bit-identical
/// outputs (any NaN equals any NaN).
fn assert_bit_identical_on(original: &Graph, simplified: &Graph, args: &[Vec<f32>]) {
    let views: Vec<&[f32]> = args.iter().map(|a| a.as_slice()).collect();
    let expected = evaluate(original, &views).expect("original graph runs");
    let got = evaluate(simplified, &views).expect("simplified graph runs");
    for (out, (e, g)) in original.outputs().iter().zip(expected.iter().zip(&got)) {
        for (i, (x, y)) in e.iter().zip(g).enumerate() {
            assert!(
                same_bits(*x, *y),
                "output {} element {i}: {x:?} before, {y:?} after simplification\n\
                 args: {args:?}\nbefore:\n{original}\nafter:\n{simplified}",
                out.name
            );
        }
    }
}

fn assert_bit_identical(original: &Graph, simplified: &Graph) {
    assert_bit_identical_on(original, simplified, &special_args(original));
}

/// Same arguments (order, kinds, slots, names, shapes) and same outputs
/// (kinds, slots, names, accumulate flags, shapes).
fn assert_same_signature(original: &Graph, simplified: &Graph) {
    assert_eq!(original.args(), simplified.args());
    assert_eq!(original.outputs().len(), simplified.outputs().len());
    for (a, b) in original.outputs().iter().zip(simplified.outputs()) {
        assert_eq!(
            (a.kind, a.slot, &a.name, a.accumulate),
            (b.kind, b.slot, &b.name, b.accumulate)
        );
        assert_eq!(original.shape(a.value), simplified.shape(b.value));
    }
}

/// Simplifies `graph`, checks everything every simplification must keep,
/// and returns the result.
fn simplified(graph: &Graph) -> Graph {
    let s = simplify(graph);
    assert_same_signature(graph, &s);
    assert_bit_identical(graph, &s);
    assert_bit_identical_on(graph, &s, &finite_args(graph));
    assert_eq!(simplify(&s).to_string(), s.to_string(), "not idempotent");
    s
}

/// The right-hand side of the line defining output `i`, e.g. `neg %0`.
fn output_rhs(graph: &Graph, i: usize) -> String {
    graph.describe(graph.outputs()[i].value)
}

/// A graph with one input `x` of shape [4] and outputs built by `body`.
fn with_x(body: impl FnOnce(&mut Graph, Value) -> Vec<Value>) -> Graph {
    let mut g = Graph::new();
    let x = g.arg(ArgKind::Input, 0, "x", Shape::from([4]));
    for (i, v) in body(&mut g, x).into_iter().enumerate() {
        g.output(OutKind::Record, i, &format!("r{i}"), v);
    }
    g
}

/// Like `with_x`, with a second input `y` of shape [4].
fn with_xy(body: impl FnOnce(&mut Graph, Value, Value) -> Vec<Value>) -> Graph {
    let mut g = Graph::new();
    let x = g.arg(ArgKind::Input, 0, "x", Shape::from([4]));
    let y = g.arg(ArgKind::Input, 1, "y", Shape::from([4]));
    for (i, v) in body(&mut g, x, y).into_iter().enumerate() {
        g.output(OutKind::Record, i, &format!("r{i}"), v);
    }
    g
}

fn c(g: &mut Graph, x: f32) -> Value {
    g.constant(x, Shape::from([4]))
}

// ----- multiplicative identities --------------------------------------------------

#[test]
fn transposing_twice_returns_the_operand() {
    let mut g = Graph::new();
    let m = g.arg(ArgKind::Input, 0, "m", Shape::from([2, 3]));
    let t = g.transpose(m).unwrap();
    let tt = g.transpose(t).unwrap();
    g.output(OutKind::Record, 0, "r0", tt);
    g.output(OutKind::Record, 1, "r1", t);
    let s = simplify(&g);
    let m = s.outputs()[0].value;
    assert!(matches!(s.op(m), Op::Arg(0)), "{s}");
    assert_eq!(s.op(s.outputs()[1].value), &Op::Transpose(m), "{s}");
}

#[test]
fn multiplying_or_dividing_by_one_returns_the_operand() {
    let g = with_x(|g, x| {
        let one = c(g, 1.0);
        vec![
            g.mul(x, one).unwrap(),
            g.mul(one, x).unwrap(),
            g.div(x, one).unwrap(),
        ]
    });
    let s = simplified(&g);
    for i in 0..3 {
        assert_eq!(output_rhs(&s, i), "input x");
    }
    assert_eq!(s.len(), 1);
}

#[test]
fn multiplying_or_dividing_by_minus_one_negates() {
    let g = with_x(|g, x| {
        let minus_one = c(g, -1.0);
        vec![g.mul(x, minus_one).unwrap(), g.div(x, minus_one).unwrap()]
    });
    let s = simplified(&g);
    assert_eq!(output_rhs(&s, 0), "neg %0");
    assert_eq!(output_rhs(&s, 1), "neg %0");
}

#[test]
fn dividing_by_a_power_of_two_multiplies_by_its_exact_reciprocal() {
    let g = with_x(|g, x| {
        let four = c(g, 4.0);
        let tiny = c(g, 2f32.powi(-127)); // subnormal; 2^127 is an f32
        let three = c(g, 3.0);
        let huge = c(g, 2f32.powi(127)); // 2^-127 is a subnormal f32
        let subnormal_min = c(g, f32::from_bits(1)); // 2^-149: 2^149 overflows
        vec![
            g.div(x, four).unwrap(),
            g.div(x, tiny).unwrap(),
            g.div(x, three).unwrap(),
            g.div(x, huge).unwrap(),
            g.div(x, subnormal_min).unwrap(),
        ]
    });
    let s = simplified(&g);
    assert_eq!(output_rhs(&s, 0), "mul %0 0.25");
    assert!(
        output_rhs(&s, 1).starts_with("mul %0 1.7014118e38"),
        "{}",
        output_rhs(&s, 1)
    );
    assert_eq!(output_rhs(&s, 2), "div %0 3.0");
    assert!(
        output_rhs(&s, 3).starts_with("mul %0 5.877472e-39"),
        "{}",
        output_rhs(&s, 3)
    );
    assert!(
        output_rhs(&s, 4).starts_with("div %0 1e-45"),
        "{}",
        output_rhs(&s, 4)
    );
    // Large and tiny x, where a wrong reciprocal would show in the last bits.
    let xs = vec![vec![3e38, 1e-40, 0.3, -7.1e-39]];
    assert_bit_identical_on(&g, &s, &xs);
}

#[test]
fn multiplying_by_zero_is_kept_because_inf_times_zero_is_nan() {
    let g = with_x(|g, x| {
        let zero = c(g, 0.0);
        let m = g.arg(ArgKind::Param, 0, "m", Shape::from([4, 2]));
        let zeros = g.constant(0.0, Shape::from([2, 3]));
        let xm = g.reshape(x, &Shape::from([1, 4])).unwrap();
        let product = g.matmul(xm, m).unwrap();
        vec![g.mul(x, zero).unwrap(), g.matmul(product, zeros).unwrap()]
    });
    let s = simplified(&g);
    assert_eq!(output_rhs(&s, 0), "mul %0 0.0");
    assert!(
        output_rhs(&s, 1).starts_with("matmul"),
        "{}",
        output_rhs(&s, 1)
    );
    // The reason: with an infinite input the product is NaN, not 0.
    let out = evaluate(&s, &[&[f32::INFINITY, 1.0, 1.0, 1.0], &[1.0; 8]]).unwrap();
    assert!(out[0][0].is_nan());
    assert!(out[1].iter().all(|v| v.is_nan()));
}

// ----- additive identities ----------------------------------------------------------

#[test]
fn adding_negative_zero_or_subtracting_zero_returns_the_operand() {
    let g = with_x(|g, x| {
        let minus_zero = c(g, -0.0);
        let zero = c(g, 0.0);
        vec![
            g.add(x, minus_zero).unwrap(),
            g.add(minus_zero, x).unwrap(),
            g.sub(x, zero).unwrap(),
        ]
    });
    let s = simplified(&g);
    for i in 0..3 {
        assert_eq!(output_rhs(&s, i), "input x");
    }
}

#[test]
fn adding_zero_is_kept_unless_the_operand_cannot_be_negative_zero() {
    let g = with_x(|g, x| {
        let zero = c(g, 0.0);
        let minus_zero = c(g, -0.0);
        let e = g.exp(x);
        let a = g.abs(x);
        let a_plus_x = g.add(a, x).unwrap(); // never -0: abs never is
        vec![
            g.add(x, zero).unwrap(),
            g.sub(x, minus_zero).unwrap(),
            g.add(e, zero).unwrap(),
            g.sub(a, minus_zero).unwrap(),
            g.add(a_plus_x, zero).unwrap(),
        ]
    });
    let s = simplified(&g);
    assert_eq!(output_rhs(&s, 0), "add %0 0.0");
    assert_eq!(output_rhs(&s, 1), "sub %0 -0.0");
    assert_eq!(output_rhs(&s, 2), "exp %0");
    assert_eq!(output_rhs(&s, 3), "abs %0");
    assert!(
        output_rhs(&s, 4).starts_with("add %"),
        "{}",
        output_rhs(&s, 4)
    );
    // The reason: -0.0 + 0.0 is +0.0, and 1/x tells the two apart.
    let out = evaluate(&s, &[&[-0.0, 1.0, 1.0, 1.0]]).unwrap();
    assert_eq!(out[0][0].to_bits(), 0.0f32.to_bits());
}

#[test]
fn adding_a_negation_subtracts_and_subtracting_one_adds() {
    let g = with_xy(|g, x, y| {
        let ny = g.neg(y);
        let minus_zero = c(g, -0.0);
        vec![
            g.add(x, ny).unwrap(),
            g.add(ny, x).unwrap(),
            g.sub(x, ny).unwrap(),
            g.sub(minus_zero, x).unwrap(),
        ]
    });
    let s = simplified(&g);
    assert_eq!(output_rhs(&s, 0), "sub %0 %1");
    assert_eq!(output_rhs(&s, 1), "sub %0 %1");
    assert_eq!(output_rhs(&s, 2), "add %0 %1");
    assert_eq!(output_rhs(&s, 3), "neg %0");
}

#[test]
fn zero_minus_x_is_kept_because_it_differs_from_neg_at_zero() {
    let g = with_x(|g, x| {
        let zero = c(g, 0.0);
        vec![g.sub(zero, x).unwrap()]
    });
    let s = simplified(&g);
    assert_eq!(output_rhs(&s, 0), "sub 0.0 %0");
}

// ----- negation ---------------------------------------------------------------------

#[test]
fn negations_cancel_and_move_into_constants() {
    let g = with_xy(|g, x, y| {
        let nx = g.neg(x);
        let ny = g.neg(y);
        let three = c(g, 3.0);
        let x3 = g.mul(x, three).unwrap();
        let x_over_3 = g.div(x, three).unwrap();
        let three_over_x = g.div(three, x).unwrap();
        vec![
            g.neg(nx),
            g.neg(x3),
            g.mul(nx, three).unwrap(),
            g.mul(nx, ny).unwrap(),
            g.div(nx, ny).unwrap(),
            g.neg(x_over_3),
            g.neg(three_over_x),
            g.div(nx, three).unwrap(),
            g.div(three, nx).unwrap(),
        ]
    });
    let s = simplified(&g);
    let expected = [
        "input x",
        "mul %0 -3.0",
        "mul %0 -3.0",
        "mul %0 %1",
        "div %0 %1",
        "div %0 -3.0",
        "div -3.0 %0",
        "div %0 -3.0",
        "div -3.0 %0",
    ];
    for (i, e) in expected.iter().enumerate() {
        assert_eq!(output_rhs(&s, i), *e, "output {i}\n{s}");
    }
}

#[test]
fn absolute_values_floors_and_stop_gradients() {
    let g = with_xy(|g, x, y| {
        let ax = g.abs(x);
        let nx = g.neg(x);
        let fx = g.floor(x);
        let lt = g.compare(CompareOp::Lt, x, y).unwrap();
        vec![
            g.abs(ax),
            g.abs(nx),
            g.floor(fx),
            g.floor(lt),
            g.stop_gradient(x),
        ]
    });
    let s = simplified(&g);
    assert_eq!(output_rhs(&s, 0), "abs %0");
    assert_eq!(output_rhs(&s, 1), "abs %0");
    assert_eq!(output_rhs(&s, 2), "floor %0");
    assert_eq!(output_rhs(&s, 3), "lt %0 %1");
    assert_eq!(output_rhs(&s, 4), "input x");
}

#[test]
fn max_and_min_of_a_value_with_itself() {
    let g = with_x(|g, x| vec![g.max(x, x).unwrap(), g.min(x, x).unwrap()]);
    let s = simplified(&g);
    assert_eq!(output_rhs(&s, 0), "input x");
    assert_eq!(output_rhs(&s, 1), "input x");
}

#[test]
fn max_and_min_of_signed_zeros_do_not_depend_on_operand_order() {
    // Rebuilding renumbers values, and the builder stores the operands of
    // max/min in value order, so `max(-x, x)` can come back as `max(x, -x)`.
    let g = with_x(|g, x| {
        let nx = g.neg(x);
        let nnx = g.neg(nx);
        vec![g.max(nx, nnx).unwrap(), g.min(nx, nnx).unwrap()]
    });
    let s = simplified(&g);
    let zeros = vec![vec![0.0, -0.0, 0.0, -0.0]];
    assert_bit_identical_on(&g, &s, &zeros);
    let out = evaluate(&s, &[&zeros[0]]).unwrap();
    assert!(out[0].iter().all(|v| v.to_bits() == 0.0f32.to_bits()));
    assert!(out[1].iter().all(|v| v.to_bits() == (-0.0f32).to_bits()));
}

// ----- select -----------------------------------------------------------------------

#[test]
fn select_with_a_known_condition_or_equal_branches() {
    let g = with_xy(|g, x, y| {
        let one = c(g, 1.0);
        let zero = c(g, 0.0);
        let nan = c(g, f32::NAN);
        let ge = g.compare(CompareOp::Ge, x, y).unwrap();
        vec![
            g.select(one, x, y).unwrap(),
            g.select(zero, x, y).unwrap(),
            g.select(nan, x, y).unwrap(), // NaN != 0 holds
            g.select(y, x, x).unwrap(),
            g.select(ge, one, zero).unwrap(),
            g.select(x, one, zero).unwrap(), // x is not 0/1: kept
        ]
    });
    let s = simplified(&g);
    assert_eq!(output_rhs(&s, 0), "input x");
    assert_eq!(output_rhs(&s, 1), "input y");
    assert_eq!(output_rhs(&s, 2), "input x");
    assert_eq!(output_rhs(&s, 3), "input x");
    assert_eq!(output_rhs(&s, 4), "ge %0 %1");
    assert_eq!(output_rhs(&s, 5), "select %0 1.0 0.0");
}

// ----- structure ----------------------------------------------------------------------

#[test]
fn broadcast_and_reshape_chains_collapse() {
    let mut g = Graph::new();
    let b = g.arg(ArgKind::Param, 0, "bias", Shape::from([3]));
    let s = g.arg(ArgKind::Param, 1, "scale", Shape::scalar());
    let b23 = g.broadcast_to(b, &Shape::from([2, 3])).unwrap();
    let b423 = g.broadcast_to(b23, &Shape::from([4, 2, 3])).unwrap();
    let r = g.reshape(b423, &Shape::from([8, 3])).unwrap();
    let rr = g.reshape(r, &Shape::from([24])).unwrap();
    let back = g.reshape(rr, &Shape::from([4, 2, 3])).unwrap();
    let s6 = g.broadcast_to(s, &Shape::from([2, 3])).unwrap();
    let s6r = g.reshape(s6, &Shape::from([6])).unwrap();
    // A reshape to the operand's own shape, built raw as a pass might.
    let same = g.add_node(neurojit_compiler::ir::Op::Reshape(b), Shape::from([3]));
    g.output(OutKind::Record, 0, "b423", b423);
    g.output(OutKind::Record, 1, "rr", rr);
    g.output(OutKind::Record, 2, "back", back);
    g.output(OutKind::Record, 3, "s6r", s6r);
    g.output(OutKind::Record, 4, "same", same);
    let simple = simplified(&g);
    assert_eq!(output_rhs(&simple, 0), "broadcast %0");
    assert_eq!(
        simple.shape(simple.outputs()[0].value),
        &Shape::from([4, 2, 3])
    );
    assert_eq!(
        output_rhs(&simple, 1),
        format!("reshape %{}", simple.outputs()[0].value.0)
    );
    assert_eq!(simple.outputs()[2].value, simple.outputs()[0].value);
    assert_eq!(output_rhs(&simple, 3), "broadcast %1");
    assert_eq!(output_rhs(&simple, 4), "param bias");
}

#[test]
fn elementwise_ops_move_inside_broadcasts() {
    // A per-neuron value broadcast to the batch, then combined with a
    // constant, another broadcast of its shape, or transformed: each is
    // computed per neuron and broadcast after, with the same bits.
    let mut g = Graph::new();
    let th = g.arg(ArgKind::Param, 0, "threshold", Shape::from([3]));
    let tau = g.arg(ArgKind::Param, 1, "tau", Shape::from([3]));
    let v = g.arg(ArgKind::Input, 0, "v", Shape::from([4, 3]));
    let batch = Shape::from([4, 3]);
    let th_b = g.broadcast_to(th, &batch).unwrap();
    let tau_b = g.broadcast_to(tau, &batch).unwrap();
    let half = g.constant(0.5, batch.clone());
    let window = g.sub(th_b, half).unwrap();
    let ratio = g.div(th_b, tau_b).unwrap();
    let e = g.exp(tau_b);
    let above = g.compare(CompareOp::Ge, half, th_b).unwrap();
    // With a value that is not a broadcast, nothing moves.
    let mixed = g.mul(th_b, v).unwrap();
    for (i, value) in [window, ratio, e, above, mixed].into_iter().enumerate() {
        g.output(OutKind::Record, i, "r", value);
    }
    let simple = simplified(&g);
    for i in 0..4 {
        let rhs = output_rhs(&simple, i);
        assert!(
            rhs.starts_with("broadcast %"),
            "output {i}: {rhs}\n{simple}"
        );
        let inner = simple.node(simple.outputs()[i].value).op.operands()[0];
        assert_eq!(simple.shape(inner), &Shape::from([3]), "{simple}");
    }
    assert!(output_rhs(&simple, 4).starts_with("mul %"), "{simple}");
    assert_bit_identical(&g, &simple);

    // The rules that look for a negation or a comparison on an operand
    // still see them: `x + neg (broadcast p)` subtracts, and a select of
    // 1 and 0 on a comparison of broadcasts is that comparison.
    let mut g = Graph::new();
    let p = g.arg(ArgKind::Param, 0, "p", Shape::from([3]));
    let v = g.arg(ArgKind::Input, 0, "v", Shape::from([4, 3]));
    let p_b = g.broadcast_to(p, &batch).unwrap();
    let minus = g.neg(p_b);
    let sum = g.add(v, minus).unwrap();
    let half = g.constant(0.5, batch.clone());
    let above = g.compare(CompareOp::Ge, p_b, half).unwrap();
    let one = g.constant(1.0, batch.clone());
    let zero = g.constant(0.0, batch.clone());
    let chosen = g.select(above, one, zero).unwrap();
    g.output(OutKind::Record, 0, "sum", sum);
    g.output(OutKind::Record, 1, "chosen", chosen);
    let simple = simplified(&g);
    assert!(output_rhs(&simple, 0).starts_with("sub %"), "{simple}");
    assert!(
        output_rhs(&simple, 1).starts_with("broadcast %"),
        "{simple}"
    );
    assert_bit_identical(&g, &simple);
}

#[test]
fn reduce_sum_over_a_length_one_axis_is_a_reshape() {
    let mut g = Graph::new();
    let x = g.arg(ArgKind::Input, 0, "x", Shape::from([2, 1, 3]));
    let e = g.exp(x);
    let sum_e = g.reduce_sum(e, 1).unwrap();
    let sum_x = g.reduce_sum(x, 1).unwrap();
    g.output(OutKind::Record, 0, "sum_e", sum_e);
    g.output(OutKind::Record, 1, "sum_x", sum_x);
    let s = simplified(&g);
    assert_eq!(output_rhs(&s, 0), "reshape %1");
    // Sums start from -0.0, so even a term that may be -0.0 is kept as is.
    assert_eq!(output_rhs(&s, 1), "reshape %0");
}

#[test]
fn a_sum_is_negative_zero_only_when_its_terms_can_be() {
    // `s + 0.0` is `s` unless `s` can be -0.0. A sum of exps never is; a
    // sum of arguments can be (all its terms -0.0).
    let mut g = Graph::new();
    let x = g.arg(ArgKind::Input, 0, "x", Shape::from([2, 3]));
    let zero = g.constant(0.0, Shape::from([2]));
    let e = g.exp(x);
    let sum_e = g.reduce_sum(e, 1).unwrap();
    let sum_x = g.reduce_sum(x, 1).unwrap();
    let plus_e = g.add(sum_e, zero).unwrap();
    let plus_x = g.add(sum_x, zero).unwrap();
    g.output(OutKind::Record, 0, "sum_e", plus_e);
    g.output(OutKind::Record, 1, "sum_x", plus_x);
    let s = simplified(&g);
    assert!(output_rhs(&s, 0).starts_with("reduce_sum[axis=1] "), "{s}");
    assert!(output_rhs(&s, 1).starts_with("add "), "{s}");
}

#[test]
fn the_adjoint_of_a_full_sum_becomes_one_broadcast() {
    // What autodiff builds for the adjoint of `sum_all` of a [4,2] value
    // from a scalar seed: reshape to [1], broadcast to [4], reshape to
    // [4,1], broadcast to [4,2].
    let mut g = Graph::new();
    let seed = g.arg(ArgKind::Scalar, 0, "seed", Shape::scalar());
    let r1 = g.reshape(seed, &Shape::from([1])).unwrap();
    let b4 = g.broadcast_to(r1, &Shape::from([4])).unwrap();
    let r41 = g.reshape(b4, &Shape::from([4, 1])).unwrap();
    let b42 = g.broadcast_to(r41, &Shape::from([4, 2])).unwrap();
    g.output(OutKind::Record, 0, "adjoint", b42);
    let s = simplified(&g);
    assert_eq!(
        s.to_string(),
        "%0:f32[] = scalar seed\n%1:f32[4,2] = broadcast %0\nout record adjoint = %1\n"
    );
}

// ----- constant folding ---------------------------------------------------------------

#[test]
fn elementwise_ops_on_constants_fold() {
    let mut g = Graph::new();
    let x = g.arg(ArgKind::Input, 0, "x", Shape::from([2]));
    let two = g.constant(2.0, Shape::from([2]));
    let three = g.constant(3.0, Shape::from([2]));
    let e = g.exp(two);
    let sum = g.add(e, three).unwrap();
    let lt = g.compare(CompareOp::Lt, two, three).unwrap();
    let picked = g.select(lt, sum, two).unwrap();
    let th = g.constant(0.7, Shape::from([2]));
    let spikes = g.spike(two, th, 0.5, 31.0).unwrap();
    let y = g.mul(x, picked).unwrap();
    g.output(OutKind::Record, 0, "y", y);
    g.output(OutKind::Record, 1, "spikes", spikes);
    let s = simplified(&g);
    let folded = 2f32.exp() + 3.0;
    assert_eq!(
        s.constant_value(s.outputs()[1].value),
        Some((2.0f32 / 0.7).floor())
    );
    assert_eq!(output_rhs(&s, 0), format!("mul %0 {folded:?}"));
    assert_eq!(s.len(), 4); // x, the folded factor, the product, the spike count
}

#[test]
fn broadcast_and_reshape_of_a_constant_are_constants() {
    let mut g = Graph::new();
    let x = g.arg(ArgKind::Input, 0, "x", Shape::from([2, 3]));
    let half = g.scalar(0.5);
    let wide = g.broadcast_to(half, &Shape::from([2, 3])).unwrap();
    let flat = g.reshape(wide, &Shape::from([6])).unwrap();
    let back = g.reshape(flat, &Shape::from([2, 3])).unwrap();
    let y = g.add_node(
        neurojit_compiler::ir::Op::Binary(neurojit_compiler::ir::BinaryOp::Mul, x, back),
        Shape::from([2, 3]),
    );
    g.output(OutKind::Record, 0, "y", y);
    let s = simplified(&g);
    assert_eq!(output_rhs(&s, 0), "mul %0 0.5");
}

#[test]
fn reduce_sum_and_matmul_of_constants_fold_to_the_interpreted_sum() {
    let mut g = Graph::new();
    let x = g.arg(ArgKind::Input, 0, "x", Shape::from([2]));
    let tenths = g.constant(0.1, Shape::from([2, 10]));
    let sum = g.reduce_sum(tenths, 1).unwrap();
    let a = g.constant(0.1, Shape::from([2, 10]));
    let b = g.constant(1.0, Shape::from([10, 2]));
    let product = g.matmul(a, b).unwrap();
    let product_row = g.reduce_sum(product, 0).unwrap();
    let a_t = g.constant(0.1, Shape::from([10, 2]));
    let product_t = g.matmul_transposed(a_t, b, true, false).unwrap();
    let y = g.mul(x, sum).unwrap();
    g.output(OutKind::Record, 0, "y", y);
    g.output(OutKind::Record, 1, "product_row", product_row);
    g.output(OutKind::Record, 2, "product_t", product_t);
    let s = simplified(&g);
    // Ten additions of 0.1 in f32 are not 10 * 0.1: the fold follows the
    // interpreter's summation, not n * c.
    let sequential = (0..10).fold(0.0f32, |acc, _| acc + 0.1);
    assert_ne!(sequential, 10.0 * 0.1f32);
    assert_eq!(output_rhs(&s, 0), format!("mul %0 {sequential:?}"));
    assert_eq!(
        s.constant_value(s.outputs()[1].value),
        Some(sequential + sequential)
    );
    assert_eq!(s.constant_value(s.outputs()[2].value), Some(sequential));
}

// ----- CSE, DCE and the signature ------------------------------------------------------

#[test]
fn values_equal_after_rewriting_are_merged() {
    let g = with_x(|g, x| {
        let one = c(g, 1.0);
        let x1 = g.mul(x, one).unwrap();
        let sg = g.stop_gradient(x);
        let e1 = g.exp(x1);
        let e2 = g.exp(sg);
        vec![g.add(e1, e2).unwrap()]
    });
    let s = simplified(&g);
    assert_eq!(
        s.to_string(),
        "%0:f32[4] = input x\n%1:f32[4] = exp %0\n%2:f32[4] = add %1 %1\nout record r0 = %2\n"
    );
}

#[test]
fn dead_nodes_go_and_every_argument_and_output_stays() {
    let mut g = Graph::new();
    let w = g.arg(ArgKind::Param, 3, "w", Shape::from([2, 2]));
    let unused = g.arg(ArgKind::Target, 0, "unused", Shape::from([5]));
    let x = g.arg(ArgKind::Input, 0, "x", Shape::from([2, 2]));
    let dead = g.exp(unused);
    let _dead_too = g.log(dead);
    let y = g.matmul(x, w).unwrap();
    let grad = g.scale(y, 1.0);
    g.output(OutKind::Prediction, 0, "y", y);
    g.push_output(Output {
        kind: OutKind::ParamGrad,
        slot: 3,
        name: "w".into(),
        value: grad,
        accumulate: true,
    });
    let s = simplified(&g);
    assert_eq!(s.args().len(), 3);
    assert_eq!(s.args()[1].name, "unused");
    assert!(s.outputs()[1].accumulate);
    assert_eq!(s.outputs()[0].value, s.outputs()[1].value);
    assert_eq!(s.len(), 3); // w, x and the matmul
}

#[test]
fn outputs_that_become_constants_or_arguments() {
    let g = with_x(|g, x| {
        let two = c(g, 2.0);
        let zero = c(g, 0.0);
        let one = g.select(two, two, zero).unwrap();
        vec![g.exp(zero), g.mul(x, one).unwrap()]
    });
    let s = simplified(&g);
    assert_eq!(s.constant_value(s.outputs()[0].value), Some(1.0));
    assert_eq!(output_rhs(&s, 1), "mul %0 2.0");
}

// ----- golden files ----------------------------------------------------------------------

/// A named graph whose printed form before and after simplification is
/// kept in `tests/ir/<name>.txt`.
struct GoldenCase {
    name: &'static str,
    about: &'static str,
    build: fn() -> Graph,
}

fn golden_cases() -> Vec<GoldenCase> {
    vec![
        GoldenCase {
            name: "fold_constants",
            about: "ops on constants fold, broadcasts of constants are constants",
            build: || {
                let mut g = Graph::new();
                let x = g.arg(ArgKind::Input, 0, "x", Shape::from([2, 3]));
                let dt = g.scalar(0.001);
                let tau = g.scalar(0.02);
                let ratio = g.div(dt, tau).unwrap();
                let minus = g.neg(ratio);
                let alpha = g.exp(minus);
                let y = g.mul(x, alpha).unwrap();
                let ones = g.constant(1.0, Shape::from([4]));
                let four = g.sum_all(ones);
                let z = g.add(y, four).unwrap();
                g.output(OutKind::Record, 0, "z", z);
                g
            },
        },
        GoldenCase {
            name: "scalings",
            about: "x*1, x/1, x*-1, x/4, neg chains; x*0 and x/3 are kept",
            build: || {
                let mut g = Graph::new();
                let x = g.arg(ArgKind::Input, 0, "x", Shape::from([3]));
                let one = g_const(&mut g, 1.0);
                let four = g_const(&mut g, 4.0);
                let three = g_const(&mut g, 3.0);
                let times_one = g.scale(x, 1.0);
                let over_one = g.div(times_one, one).unwrap();
                let negated = g.scale(over_one, -1.0);
                let quarter = g.div(negated, four).unwrap();
                let twice_negated = g.neg(quarter);
                let zero = g.scale(x, 0.0);
                let third = g.div(x, three).unwrap();
                g.output(OutKind::Record, 0, "quarter", twice_negated);
                g.output(OutKind::Record, 1, "zero", zero);
                g.output(OutKind::Record, 2, "third", third);
                g
            },
        },
        GoldenCase {
            name: "sums",
            about: "x + -0.0 and x - 0.0 go; x + 0.0 goes only where x cannot be -0.0",
            build: || {
                let mut g = Graph::new();
                let x = g.arg(ArgKind::Input, 0, "x", Shape::from([3]));
                let y = g.arg(ArgKind::Input, 1, "y", Shape::from([3]));
                let zero = g_const(&mut g, 0.0);
                let minus_zero = g_const(&mut g, -0.0);
                let a = g.add(x, minus_zero).unwrap();
                let b = g.sub(a, zero).unwrap();
                let kept = g.add(b, zero).unwrap();
                let e = g.exp(y);
                let dropped = g.add(e, zero).unwrap();
                let ny = g.neg(y);
                let difference = g.add(kept, ny).unwrap();
                let total = g.sub(dropped, ny).unwrap();
                g.output(OutKind::Record, 0, "difference", difference);
                g.output(OutKind::Record, 1, "total", total);
                g
            },
        },
        GoldenCase {
            name: "select_and_structure",
            about: "constant and redundant selects, broadcast/reshape chains, stop_gradient",
            build: || {
                let mut g = Graph::new();
                let v = g.arg(ArgKind::State, 0, "vmem", Shape::from([2, 3]));
                let th = g.arg(ArgKind::Param, 0, "threshold", Shape::from([3]));
                let one = g.constant(1.0, Shape::from([2, 3]));
                let zero = g.constant(0.0, Shape::from([2, 3]));
                let th23 = g.broadcast_to(th, &Shape::from([2, 3])).unwrap();
                let th423 = g.broadcast_to(th23, &Shape::from([4, 2, 3])).unwrap();
                let flat = g.reshape(th423, &Shape::from([24])).unwrap();
                let again = g.reshape(flat, &Shape::from([8, 3])).unwrap();
                let ge = g.compare(CompareOp::Ge, v, th23).unwrap();
                let mask = g.select(ge, one, zero).unwrap();
                let always = g.select(one, v, mask).unwrap();
                let same = g.select(mask, always, always).unwrap();
                let stopped = g.stop_gradient(same);
                g.output(OutKind::Record, 0, "mask", mask);
                g.output(OutKind::Record, 1, "stopped", stopped);
                g.output(OutKind::Record, 2, "again", again);
                g
            },
        },
        GoldenCase {
            name: "dce",
            about: "dead nodes and duplicates go; the unused argument stays in the signature",
            build: || {
                let mut g = Graph::new();
                let x = g.arg(ArgKind::Input, 0, "x", Shape::from([2]));
                let _unused = g.arg(ArgKind::Target, 0, "target", Shape::from([2]));
                let e = g.exp(x);
                let _dead = g.log(e);
                let sg = g.stop_gradient(x);
                let e2 = g.exp(sg);
                let y = g.mul(e, e2).unwrap();
                g.output(OutKind::Prediction, 0, "y", y);
                g
            },
        },
        GoldenCase {
            name: "lif_step",
            about: "the two-layer LIF step with MSE loss of the node-count test",
            build: || lif_step_graph().0,
        },
        GoldenCase {
            name: "lif_gradients",
            about: "the gradients of the LIF step (forward outputs dropped)",
            build: || lif_gradient_graph(false),
        },
    ]
}

fn g_const(g: &mut Graph, x: f32) -> Value {
    g.constant(x, Shape::from([3]))
}

fn golden_text(case: &GoldenCase) -> String {
    let graph = (case.build)();
    let simple = simplify(&graph);
    let mut text = format!("; {}: {}\n", case.name, case.about);
    // The argument list is part of the result: it must not change.
    for (i, arg) in simple.args().iter().enumerate() {
        text += &format!(
            "; arg {i}: {:?} slot {} `{}` {}\n",
            arg.kind, arg.slot, arg.name, arg.shape
        );
    }
    text += &format!("; before: {} nodes\n{graph}\n", graph.len());
    text += &format!("; after: {} nodes\n{simple}", simple.len());
    text
}

#[test]
fn golden_ir_files() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/ir");
    let bless = std::env::var("NEUROJIT_BLESS").is_ok_and(|v| v == "1");
    let mut failures = Vec::new();
    for case in golden_cases() {
        let text = golden_text(&case);
        let path = dir.join(format!("{}.txt", case.name));
        if bless {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &text).unwrap();
            continue;
        }
        match std::fs::read_to_string(&path) {
            Ok(expected) if expected == text => {}
            Ok(expected) => failures.push(format!(
                "{}: printed IR differs\n--- expected\n{expected}\n--- got\n{text}",
                path.display()
            )),
            Err(e) => failures.push(format!("{}: {e}", path.display())),
        }
    }
    assert!(
        failures.is_empty(),
        "{}\n(rerun with NEUROJIT_BLESS=1 to rewrite the files, then review the diff)",
        failures.join("\n")
    );
}

/// The golden files only detect change (they are blessed from the
/// program's own output); this checks what they show: every case
/// simplifies to a graph that computes the same bits, on special values and
/// on ordinary ones where the outputs are finite.
#[test]
fn golden_cases_simplify_exactly() {
    for case in golden_cases() {
        let graph = (case.build)();
        let _ = simplified(&graph);
        let args = finite_args(&graph);
        let views: Vec<&[f32]> = args.iter().map(Vec::as_slice).collect();
        let outputs = evaluate(&graph, &views).unwrap();
        let (finite, total) = outputs
            .iter()
            .flatten()
            .fold((0, 0), |(f, t), x| (f + usize::from(x.is_finite()), t + 1));
        assert_eq!(
            finite, total,
            "{}: non-finite outputs on ordinary values",
            case.name
        );
    }
}

// ----- a two-layer LIF network step ---------------------------------------------------------

const BATCH: usize = 4;
const N_IN: usize = 3;
const N_HIDDEN: usize = 5;
const N_OUT: usize = 2;

/// One LIF layer in "decays" mode, as Rockpool's LIF evolves one step:
/// `isyn += input; isyn *= beta; vmem *= alpha; vmem += isyn + bias;
/// spikes = spike(vmem, threshold); vmem -= spikes * threshold`.
/// Parameters take slots `param_slot..param_slot + 4`, states `state_slot`
/// and `state_slot + 1`. Returns the spikes.
fn lif_layer(
    g: &mut Graph,
    name: &str,
    input: Value,
    param_slot: usize,
    state_slot: usize,
) -> Value {
    let p = |field: &str| format!("{name}/{field}");
    let state = g.shape(input).clone();
    let neurons = Shape::from([state.dims()[1]]);
    let alpha = g.arg(ArgKind::Param, param_slot, &p("alpha"), neurons.clone());
    let beta = g.arg(ArgKind::Param, param_slot + 1, &p("beta"), neurons.clone());
    let bias = g.arg(ArgKind::Param, param_slot + 2, &p("bias"), neurons.clone());
    let threshold = g.arg(ArgKind::Param, param_slot + 3, &p("threshold"), neurons);
    let isyn = g.arg(ArgKind::State, state_slot, &p("isyn"), state.clone());
    let vmem = g.arg(ArgKind::State, state_slot + 1, &p("vmem"), state);
    let isyn = g.add(isyn, input).unwrap();
    let isyn = g.mul(isyn, beta).unwrap();
    let vmem = g.mul(vmem, alpha).unwrap();
    let drive = g.add(isyn, bias).unwrap();
    let vmem = g.add(vmem, drive).unwrap();
    let spikes = g.spike(vmem, threshold, 0.5, 31.0).unwrap();
    let reset = g.mul(spikes, threshold).unwrap();
    let vmem = g.sub(vmem, reset).unwrap();
    g.output(OutKind::State, state_slot, &p("isyn"), isyn);
    g.output(OutKind::State, state_slot + 1, &p("vmem"), vmem);
    spikes
}

/// Linear -> LIF -> Linear -> LIF with an MSE loss against the target, as a
/// tracer would build one timestep. Returns the graph and the loss value.
fn lif_step_graph() -> (Graph, Value) {
    let mut g = Graph::new();
    let x = g.arg(ArgKind::Input, 0, "x", Shape::from([BATCH, N_IN]));
    let target = g.arg(ArgKind::Target, 0, "target", Shape::from([BATCH, N_OUT]));
    let w1_shape = Shape::from([N_IN, N_HIDDEN]);
    let w1 = g.arg(ArgKind::Param, 0, "0_Linear/weight", w1_shape);
    let current1 = g.matmul(x, w1).unwrap();
    let spikes1 = lif_layer(&mut g, "1_LIF", current1, 1, 0);
    let w2_shape = Shape::from([N_HIDDEN, N_OUT]);
    let w2 = g.arg(ArgKind::Param, 5, "2_Linear/weight", w2_shape);
    let current2 = g.matmul(spikes1, w2).unwrap();
    let spikes2 = lif_layer(&mut g, "3_LIF", current2, 6, 2);
    let error = g.sub(spikes2, target).unwrap();
    let squared = g.mul(error, error).unwrap();
    let loss = g.mean_all(squared);
    g.output(OutKind::Prediction, 0, "y", spikes2);
    g.output(OutKind::Loss, 0, "loss", loss);
    (g, loss)
}

/// Arguments for the LIF graph: weights and states spread over [-1, 1],
/// decays in (0, 1), thresholds near 1, so that some neurons spike.
fn lif_args(graph: &Graph) -> Vec<Vec<f32>> {
    graph
        .args()
        .iter()
        .enumerate()
        .map(|(i, arg)| {
            (0..arg.shape.numel())
                .map(|j| {
                    let t = ((i * 31 + j * 17) % 23) as f32 / 22.0; // in [0, 1]
                    if arg.name.ends_with("alpha") || arg.name.ends_with("beta") {
                        0.5 + 0.45 * t
                    } else if arg.name.ends_with("threshold") {
                        0.8 + 0.4 * t
                    } else {
                        4.0 * t - 1.5
                    }
                })
                .collect()
        })
        .collect()
}

/// Nodes of a graph that print as a line (constants are inlined).
fn printed_nodes(graph: &Graph) -> usize {
    graph
        .to_string()
        .lines()
        .filter(|l| l.starts_with('%'))
        .count()
}

/// The LIF step with its gradients appended, as autodiff leaves it: seeds
/// are the loss (adjoint 1.0) and each end-of-step state (adjoint a
/// `StateAdjoint` argument); gradients are taken with respect to every
/// parameter (accumulated `ParamGrad` outputs) and every start-of-step state
/// (`StateAdjoint` outputs). `keep_forward` keeps the forward outputs too.
fn lif_gradient_graph(keep_forward: bool) -> Graph {
    let (mut g, loss) = lif_step_graph();
    let one = g.scalar(1.0);
    let mut seeds = vec![(loss, one)];
    let state_outputs: Vec<Output> = g
        .outputs()
        .iter()
        .filter(|o| o.kind == OutKind::State)
        .cloned()
        .collect();
    for out in &state_outputs {
        let shape = g.shape(out.value).clone();
        let adjoint = g.arg(ArgKind::StateAdjoint, out.slot, &out.name, shape);
        seeds.push((out.value, adjoint));
    }
    let wrt: Vec<Value> = g
        .values()
        .filter(|&v| {
            g.arg_of(v)
                .is_some_and(|a| matches!(a.kind, ArgKind::Param | ArgKind::State))
        })
        .collect();
    let grads = backprop(&mut g, &seeds, &wrt).expect("the LIF step is differentiable");
    let mut outputs = if keep_forward {
        g.outputs().to_vec()
    } else {
        Vec::new()
    };
    for (&w, &grad) in wrt.iter().zip(&grads) {
        let arg = g.arg_of(w).expect("wrt values are arguments").clone();
        let (kind, accumulate) = match arg.kind {
            ArgKind::Param => (OutKind::ParamGrad, true),
            _ => (OutKind::StateAdjoint, false),
        };
        outputs.push(Output {
            kind,
            slot: arg.slot,
            name: arg.name,
            value: grad,
            accumulate,
        });
    }
    g.set_outputs(outputs);
    g
}

#[test]
fn lif_step_node_counts() {
    let graphs = [
        ("LIF step (forward + MSE)", lif_step_graph().0),
        ("LIF step + gradients", lif_gradient_graph(true)),
        ("LIF gradients only", lif_gradient_graph(false)),
    ];
    println!("| graph | nodes | live nodes (DCE alone) | after simplify | printed lines before | printed lines after |");
    println!("|---|---|---|---|---|---|");
    // docs/simplifier.md quotes this table; it must be today's.
    let doc = include_str!("../../docs/simplifier.md");
    for (name, graph) in &graphs {
        let simple = simplified(graph);
        assert_bit_identical_on(graph, &simple, &lif_args(graph));
        let live = live_values(graph).len();
        let row = format!(
            "| {name} | {} | {live} | {} | {} | {} |",
            graph.len(),
            simple.len(),
            printed_nodes(graph),
            printed_nodes(&simple)
        );
        println!("{row}");
        assert!(doc.contains(&row), "docs/simplifier.md lacks `{row}`");
        assert!(simple.len() <= live, "{name} grew");
    }
    // The traced forward step has nothing to remove; its gradients do, and
    // more than dead-code elimination alone would.
    for (name, graph) in &graphs[1..] {
        let simple = simplify(graph);
        assert!(
            simple.len() < live_values(graph).len(),
            "{name}: {} live nodes before, {} after",
            live_values(graph).len(),
            simple.len()
        );
        assert!(printed_nodes(&simple) < printed_nodes(graph), "{name}");
        // What docs/simplifier.md says happened: constant chains (the loss
        // seed, reshaped and broadcast) are folded, and `add(x, neg y)`
        // became `sub(x, y)`.
        let live = live_values(&simple);
        for &v in &live {
            let op = simple.op(v);
            let operands = op.operands();
            assert!(
                operands.is_empty() || operands.iter().any(|&a| simple.constant_value(a).is_none()),
                "{name}: `{}` has only constant operands",
                simple.describe(v)
            );
            if let Op::Binary(BinaryOp::Add, x, y) = op {
                assert!(
                    ![*x, *y]
                        .iter()
                        .any(|&a| matches!(simple.op(a), Op::Unary(UnaryOp::Neg, _))),
                    "{name}: `{}` adds a negation",
                    simple.describe(v)
                );
            }
        }
        let folded_away = |g: &Graph| {
            live_values(g)
                .iter()
                .filter(|&&v| {
                    let operands = g.op(v).operands();
                    !operands.is_empty() && operands.iter().all(|&a| g.constant_value(a).is_some())
                })
                .count()
        };
        assert!(
            folded_away(graph) > 0,
            "{name}: nothing to fold in the first place"
        );
        let adds_a_negation = live_values(graph).iter().any(|&v| {
            matches!(graph.op(v), Op::Binary(BinaryOp::Add, x, y)
                if [*x, *y].iter().any(|&a| matches!(graph.op(a), Op::Unary(UnaryOp::Neg, _))))
        });
        assert!(
            adds_a_negation,
            "{name}: no `add(x, neg y)` to rewrite in the first place"
        );
    }
}
