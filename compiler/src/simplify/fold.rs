//! Constant folding: an op whose operands are all constants becomes a
//! constant.
//!
//! Every constant in a graph is a splat (one value filling a shape), and so
//! is every folded result: elementwise ops of splats are splats, broadcast
//! and reshape only move equal elements, and every output element of a
//! `reduce_sum` or `matmul` of splats sums the same terms in the same order.
//!
//! The value is computed by the interpreter itself, on a one-element version
//! of the op (a `reduce_sum` over a 1-D constant of the reduced length, a
//! `[1,k] @ [k,1]` matmul), so folding uses exactly the interpreter's f32
//! arithmetic and summation order: `reduce_sum` of a splat `c` over `n`
//! elements folds to `((-0 + c) + c) + ...`, not to `n * c`, which can differ
//! in the last bit. Folding is therefore bit-exact against the interpreter.
//! (A backend that sums in another order, or approximates `exp`, differs
//! from the folded value exactly as it differs from the interpreter.)

use crate::interp;
use crate::ir::{Graph, Op, OutKind, Shape, Value};

/// The splat value `op` computes when all its operands are constants of
/// `graph`, or `None` when some operand is not a constant.
pub(super) fn fold(graph: &Graph, op: &Op) -> Option<f32> {
    let constant = |v: Value| graph.constant_value(v);
    match *op {
        Op::Constant(x) => Some(x.get()),
        Op::Arg(_) => None,
        // These only move elements; a splat stays the same splat.
        Op::Broadcast(a) | Op::Reshape(a) | Op::Transpose(a) | Op::StopGradient(a) => constant(a),
        Op::Unary(_, a) => interpret(&[(constant(a)?, Shape::scalar())], |v| {
            (op.map_operands(|_| v[0]), Shape::scalar())
        }),
        Op::Binary(_, a, b) | Op::Compare(_, a, b) => {
            let scalars = [
                (constant(a)?, Shape::scalar()),
                (constant(b)?, Shape::scalar()),
            ];
            interpret(&scalars, |v| {
                let mut next = v.iter().copied();
                let op = op.map_operands(|_| next.next().expect("two operands"));
                (op, Shape::scalar())
            })
        }
        Op::Select {
            cond,
            on_true,
            on_false,
        } => {
            let scalars = [
                (constant(cond)?, Shape::scalar()),
                (constant(on_true)?, Shape::scalar()),
                (constant(on_false)?, Shape::scalar()),
            ];
            interpret(&scalars, |v| {
                let op = Op::Select {
                    cond: v[0],
                    on_true: v[1],
                    on_false: v[2],
                };
                (op, Shape::scalar())
            })
        }
        Op::Spike {
            v,
            threshold,
            window,
            max,
        } => {
            let scalars = [
                (constant(v)?, Shape::scalar()),
                (constant(threshold)?, Shape::scalar()),
            ];
            interpret(&scalars, |operands| {
                let op = Op::Spike {
                    v: operands[0],
                    threshold: operands[1],
                    window,
                    max,
                };
                (op, Shape::scalar())
            })
        }
        Op::ReduceSum { operand, axis } => {
            let x = constant(operand)?;
            let n = graph.shape(operand).dims()[axis as usize];
            interpret(&[(x, Shape::from([n]))], |v| {
                let op = Op::ReduceSum {
                    operand: v[0],
                    axis: 0,
                };
                (op, Shape::scalar())
            })
        }
        Op::Matmul {
            lhs,
            rhs,
            transpose_lhs,
            ..
        } => {
            let (x, y) = (constant(lhs)?, constant(rhs)?);
            let dims = graph.shape(lhs).dims();
            let inner = if transpose_lhs { dims[0] } else { dims[1] };
            let scalars = [(x, Shape::from([1, inner])), (y, Shape::from([inner, 1]))];
            interpret(&scalars, |v| {
                let op = Op::Matmul {
                    lhs: v[0],
                    rhs: v[1],
                    transpose_lhs: false,
                    transpose_rhs: false,
                };
                (op, Shape::from([1, 1]))
            })
        }
    }
}

/// Runs the interpreter on a graph of splat constants `operands` and the one
/// op `build` makes from them; returns the first element of the result.
fn interpret(
    operands: &[(f32, Shape)],
    build: impl FnOnce(&[Value]) -> (Op, Shape),
) -> Option<f32> {
    let mut graph = Graph::new();
    let values: Vec<Value> = operands
        .iter()
        .map(|(x, shape)| graph.constant(*x, shape.clone()))
        .collect();
    let (op, shape) = build(&values);
    let result = graph.add_node(op, shape);
    graph.output(OutKind::Record, 0, "folded", result);
    let outputs = interp::evaluate(&graph, &[]).ok()?;
    outputs.first()?.first().copied()
}
