//! Property tests of the simplifier on randomly generated graphs: random ops
//! (every op kind, with broadcasts, reductions, matmuls, selects and
//! comparisons) over a few arguments of small shapes and constants such as
//! 0, -0, 1, -1 and 2, so that most rewrites get a chance to fire.
//!
//! Every rewrite the simplifier makes is exact, so the interpreter must give
//! bit-identical outputs before and after (any NaN equals any NaN), on
//! arguments that include signed zeros, infinities and NaN. The simplified
//! graph must keep the signature, and simplifying it again must print the
//! same text.

use neurojit_compiler::interp::evaluate;
use neurojit_compiler::ir::{
    ArgKind, BinaryOp, CompareOp, Graph, OutKind, Output, Shape, UnaryOp, Value,
};
use neurojit_compiler::simplify::simplify;
use proptest::prelude::*;

/// Shapes of arguments and constants. Several share an element count (so
/// reshapes have somewhere to go) or broadcast to one another.
const SHAPES: [&[usize]; 7] = [&[2, 3], &[3], &[], &[3, 2], &[1, 3], &[2, 1], &[6]];

/// Constants that make identities fire, and a few that must not.
const CONSTANTS: [f32; 10] = [
    0.0,
    -0.0,
    1.0,
    -1.0,
    2.0,
    0.5,
    -4.0,
    3.0,
    f32::INFINITY,
    f32::NAN,
];

const UNARY: [UnaryOp; 7] = [
    UnaryOp::Neg,
    UnaryOp::Exp,
    UnaryOp::Log,
    UnaryOp::Recip,
    UnaryOp::Sqrt,
    UnaryOp::Abs,
    UnaryOp::Floor,
];

const BINARY: [BinaryOp; 6] = [
    BinaryOp::Add,
    BinaryOp::Sub,
    BinaryOp::Mul,
    BinaryOp::Div,
    BinaryOp::Max,
    BinaryOp::Min,
];

const COMPARE: [CompareOp; 6] = [
    CompareOp::Lt,
    CompareOp::Le,
    CompareOp::Gt,
    CompareOp::Ge,
    CompareOp::Eq,
    CompareOp::Ne,
];

/// One step of graph construction: `kind` picks the op, `a`, `b`, `c` pick
/// operands among the values built so far (`a` mostly among the last few), `aux` picks an op variant, a
/// shape or a constant. Steps the builder rejects (shape errors) are
/// skipped, so every sequence makes a valid graph.
#[derive(Clone, Debug)]
struct Step {
    kind: u8,
    a: usize,
    b: usize,
    c: usize,
    aux: usize,
}

/// The number of step kinds `apply` knows.
const STEP_KINDS: u8 = 21;

fn step() -> impl Strategy<Value = Step> {
    (
        0u8..STEP_KINDS,
        any::<usize>(),
        any::<usize>(),
        any::<usize>(),
        any::<usize>(),
    )
        .prop_map(|(kind, a, b, c, aux)| Step { kind, a, b, c, aux })
}

/// A random graph: its argument shapes, construction steps and outputs.
#[derive(Clone, Debug)]
struct Recipe {
    arg_shapes: Vec<usize>,
    steps: Vec<Step>,
    /// Values to output (indices into the built values, from the end) and
    /// whether each accumulates.
    outputs: Vec<(usize, bool)>,
}

fn recipe() -> impl Strategy<Value = Recipe> {
    (
        prop::collection::vec(0..SHAPES.len(), 1..4),
        prop::collection::vec(step(), 1..24),
        prop::collection::vec((0usize..6, any::<bool>()), 1..4),
    )
        .prop_map(|(arg_shapes, steps, outputs)| Recipe {
            arg_shapes,
            steps,
            outputs,
        })
}

fn build(recipe: &Recipe) -> Graph {
    let mut g = Graph::new();
    let mut values: Vec<Value> = Vec::new();
    for (i, &s) in recipe.arg_shapes.iter().enumerate() {
        let kind = [ArgKind::Param, ArgKind::Input, ArgKind::State][i % 3];
        values.push(g.arg(kind, i, &format!("arg{i}"), Shape::new(SHAPES[s])));
    }
    for step in &recipe.steps {
        if let Some(v) = apply(&mut g, &values, step) {
            values.push(v);
        }
    }
    let kinds = [OutKind::Record, OutKind::ParamGrad, OutKind::State];
    for (i, &(back, accumulate)) in recipe.outputs.iter().enumerate() {
        let value = values[values.len() - 1 - back % values.len()];
        g.push_output(Output {
            kind: kinds[i % kinds.len()],
            slot: i,
            name: format!("out{i}"),
            value,
            accumulate,
        });
    }
    g
}

/// Builds one step's node, or `None` when the builder rejects it.
fn apply(g: &mut Graph, values: &[Value], step: &Step) -> Option<Value> {
    let pick = |i: usize| values[i % values.len()];
    // The first operand is often one of the last few values, so that chains
    // (`neg (neg x)`, `reshape (reshape x)`, ...) are common.
    let a = if !step.a.is_multiple_of(4) {
        values[values.len() - 1 - (step.a / 4) % values.len().min(3)]
    } else {
        pick(step.a / 4)
    };
    let (b, c) = (pick(step.b), pick(step.c));
    let constant = CONSTANTS[step.aux % CONSTANTS.len()];
    let shape = Shape::new(SHAPES[step.aux % SHAPES.len()]);
    match step.kind {
        0 => Some(g.unary(UNARY[step.aux % UNARY.len()], a)),
        1 => g.binary(BINARY[step.aux % BINARY.len()], a, b).ok(),
        2 => g.compare(COMPARE[step.aux % COMPARE.len()], a, b).ok(),
        3 => g.select(a, b, c).ok(),
        4 => g.broadcast_to(a, &shape).ok(),
        5 => {
            // A shape with the same element count, if the list has one.
            let numel = g.shape(a).numel();
            let same: Vec<&[usize]> = SHAPES
                .iter()
                .copied()
                .filter(|s| s.iter().product::<usize>() == numel)
                .collect();
            let to = Shape::new(same.get(step.aux % same.len().max(1))?);
            g.reshape(a, &to).ok()
        }
        6 => {
            let rank = g.shape(a).rank();
            (rank > 0).then(|| g.reduce_sum(a, step.aux % rank).ok())?
        }
        7 => g
            .matmul_transposed(a, b, step.aux & 1 != 0, step.aux & 2 != 0)
            .ok(),
        8 => {
            let max = [1.0, 2.0, 31.0][step.aux % 3];
            g.spike(a, b, 0.5, max).ok()
        }
        9 => Some(g.stop_gradient(a)),
        10 => Some(g.constant(constant, shape)),
        // Ops with a constant operand, where the identities live.
        11 => {
            let k = g.constant_like(constant, a);
            g.mul(a, k).ok()
        }
        12 => {
            let k = g.constant_like(constant, a);
            g.add(a, k).ok()
        }
        13 => {
            let k = g.constant_like(constant, a);
            let op = [BinaryOp::Sub, BinaryOp::Div][step.c % 2];
            if step.b.is_multiple_of(2) {
                g.binary(op, a, k).ok()
            } else {
                g.binary(op, k, a).ok()
            }
        }
        14 => Some(g.neg(a)),
        // Two unary ops in a row: involutions and idempotent pairs.
        15 => {
            let inner = g.unary(UNARY[step.aux % UNARY.len()], a);
            Some(g.unary(UNARY[step.b % UNARY.len()], inner))
        }
        16 => {
            let k = g.constant_like(constant, a);
            g.select(k, a, b).ok()
        }
        17 => {
            let on_true = g.constant_like(constant, a);
            let on_false = g.constant_like(CONSTANTS[step.c % CONSTANTS.len()], a);
            g.select(a, on_true, on_false).ok()
        }
        // Adding zero, where the sign of a zero result decides exactness.
        18 => {
            let zero = g.constant_like(0.0, a);
            g.add(a, zero).ok()
        }
        // Transposes, once or twice (the identity), of 2-D values.
        19 => {
            let once = g.transpose(a).ok()?;
            Some(if step.b.is_multiple_of(2) {
                once
            } else {
                g.transpose(once).ok()?
            })
        }
        // A sum over a new axis of length 1.
        _ => {
            let mut dims = g.shape(a).dims().to_vec();
            let axis = step.aux % (dims.len() + 1);
            dims.insert(axis, 1);
            let widened = g.reshape(a, &Shape::new(&dims)).ok()?;
            g.reduce_sum(widened, axis).ok()
        }
    }
}

/// Argument values: half ordinary numbers, half special ones (signed
/// zeros, infinities, NaN, a subnormal).
fn argument_value() -> impl Strategy<Value = f32> {
    prop_oneof![
        1 => -4.0f32..4.0,
        1 => prop::sample::select(vec![
            0.0f32,
            -0.0,
            1.0,
            -1.0,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
            1e-40,
        ]),
    ]
}

/// Nodes that are not constants.
/// The operations that compute elements: every node but constants and
/// broadcasts (a broadcast is a strided read in the JIT's loops).
fn computing(graph: &Graph) -> impl Iterator<Item = neurojit_compiler::ir::Value> + '_ {
    graph
        .values()
        .filter(|&v| graph.constant_value(v).is_none())
        .filter(|&v| !matches!(graph.op(v), neurojit_compiler::ir::Op::Broadcast(_)))
}

fn operations(graph: &Graph) -> usize {
    computing(graph).count()
}

/// Elements computed by those operations.
fn elements(graph: &Graph) -> usize {
    computing(graph).map(|v| graph.shape(v).numel()).sum()
}

fn same_bits(a: f32, b: f32) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn simplify_keeps_values_bit_for_bit_and_is_idempotent(
        recipe in recipe(),
        pool in prop::collection::vec(argument_value(), 6 * 4),
    ) {
        let graph = build(&recipe);
        let simple = simplify(&graph);

        prop_assert_eq!(graph.args(), simple.args());
        prop_assert_eq!(graph.outputs().len(), simple.outputs().len());
        for (a, b) in graph.outputs().iter().zip(simple.outputs()) {
            prop_assert_eq!((a.kind, a.slot, &a.name, a.accumulate), (b.kind, b.slot, &b.name, b.accumulate));
            prop_assert_eq!(graph.shape(a.value), simple.shape(b.value));
        }
        // A negation moved into a constant can add a constant node, and an
        // op moved inside a broadcast another users still read adds a
        // broadcast, but no rewrite adds an operation that computes
        // elements or makes one compute more.
        prop_assert!(operations(&simple) <= operations(&graph));
        prop_assert!(elements(&simple) <= elements(&graph));

        // Each argument reads its own stretch of the pool.
        let args: Vec<Vec<f32>> = graph
            .args()
            .iter()
            .enumerate()
            .map(|(i, arg)| (0..arg.shape.numel()).map(|j| pool[(6 * i + j) % pool.len()]).collect())
            .collect();
        let views: Vec<&[f32]> = args.iter().map(|a| a.as_slice()).collect();
        let expected = evaluate(&graph, &views).unwrap();
        let got = evaluate(&simple, &views).unwrap();
        for (o, (e, s)) in expected.iter().zip(&got).enumerate() {
            for (i, (x, y)) in e.iter().zip(s).enumerate() {
                prop_assert!(
                    same_bits(*x, *y),
                    "output {} element {}: {:?} before, {:?} after\nargs {:?}\nbefore:\n{}\nafter:\n{}",
                    o, i, x, y, args, graph, simple
                );
            }
        }

        let again = simplify(&simple);
        prop_assert_eq!(again.to_string(), simple.to_string());
        prop_assert_eq!(again.len(), simple.len());
    }
}
