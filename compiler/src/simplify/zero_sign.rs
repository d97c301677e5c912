//! Which values can never be `-0.0`.
//!
//! `x + 0.0` equals `x` for every `x` except `-0.0` (`-0.0 + 0.0` is `+0.0`).
//! The two zeros compare equal, but
//! `1 / x` tells them apart (`-inf` against `inf`), so the simplifier only
//! drops such an addition when `x` provably never holds `-0.0`.
//!
//! The fact is computed once per node from the facts of its operands, under
//! IEEE round-to-nearest: `a + b` is `-0.0` only when both `a` and `b` are;
//! `a - b` only when `a` is; `exp`, `abs` and comparisons never give `-0.0`;
//! `log` gives `-0.0` for no input; a `reduce_sum` (which starts from
//! `-0.0`) is `-0.0` only when all its terms are, in any order of addition.
//! Products, quotients, negations, arguments, matrix products (a backend
//! may start from the first term instead of `+0.0`) and spike counts are
//! treated as possibly `-0.0`.

use crate::ir::{BinaryOp, Graph, Op, UnaryOp, Value};

/// True when node `v` of `graph` can never hold `-0.0`. `known` holds the
/// fact for every node before `v`.
pub(super) fn never_negative_zero(graph: &Graph, v: Value, known: &[bool]) -> bool {
    let fact = |operand: Value| known[operand.index()];
    match *graph.op(v) {
        Op::Constant(c) => c.get().to_bits() != (-0.0f32).to_bits(),
        Op::Arg(_) => false,
        Op::Unary(op, a) => match op {
            UnaryOp::Exp | UnaryOp::Abs | UnaryOp::Log => true,
            // sqrt(-0) = floor(-0) = -0, and neither makes a new -0.
            UnaryOp::Sqrt | UnaryOp::Floor => fact(a),
            // neg(+0) = -0; recip(-inf) = -0.
            UnaryOp::Neg | UnaryOp::Recip => false,
        },
        Op::Binary(op, a, b) => match op {
            BinaryOp::Add => fact(a) || fact(b),
            BinaryOp::Sub => fact(a),
            BinaryOp::Mul | BinaryOp::Div => false,
            // The result is one of the operands (or NaN); which of two
            // equal zeros max/min returns is unspecified.
            BinaryOp::Max | BinaryOp::Min => fact(a) && fact(b),
        },
        Op::Compare(..) => true,
        Op::Select {
            on_true, on_false, ..
        } => fact(on_true) && fact(on_false),
        Op::Broadcast(a) | Op::Reshape(a) | Op::Transpose(a) | Op::StopGradient(a) => fact(a),
        Op::ReduceSum { operand, .. } => fact(operand),
        Op::Matmul { .. } | Op::Spike { .. } => false,
    }
}
