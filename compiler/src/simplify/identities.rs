//! Algebraic identities that are exact in IEEE f32: each rewrite gives the
//! same bits as the original node for every input (NaN payloads and NaN
//! signs aside), under the interpreter's semantics.
//!
//! Applied (x, y, z any values, c a constant):
//! - `x * 1`, `x / 1`, `x + -0.0`, `x - 0.0` → `x`
//! - `x + 0.0`, `x - -0.0` → `x` only when `x` can never be `-0.0`
//!   (see `zero_sign`); otherwise kept, since `-0.0 + 0.0` is `+0.0`
//! - `x * -1`, `x / -1`, `-0.0 - x` → `neg x`
//! - `x / c` → `x * (1/c)` when `1/c` is exact (c a power of two)
//! - `x + neg y` → `x - y`, `x - neg y` → `x + y` (IEEE defines subtraction
//!   as adding the negation)
//! - negation moves into constants, as rounding is symmetric in sign:
//!   `neg (x * c)` → `x * -c`, `neg x * c` → `x * -c`, `neg x * neg y` →
//!   `x * y`, and the same for `/`
//! - `neg neg x` → `x`, `abs abs x` → `abs x`, `abs neg x` → `abs x`,
//!   `floor floor x` → `floor x`, `floor` of a comparison → the comparison
//! - `max x x`, `min x x` → `x`
//! - `select c x y` with constant `c` → `x` or `y`; `select c x x` → `x`;
//!   `select cmp 1.0 0.0` → `cmp` for a comparison `cmp`
//! - `broadcast (broadcast x)` → one broadcast; `reshape (reshape x)` → one
//!   reshape; broadcast or reshape to the operand's own shape → the operand;
//!   `reshape` of a broadcast one-element value, and `broadcast` of a
//!   reshaped one, → one broadcast
//! - `reduce_sum` over an axis of length 1 → `reshape` (sums start from
//!   `-0.0`, and `-0.0 + x` is `x`)
//! - `stop_gradient x` → `x` (the simplifier runs after autodiff)
//! - `transpose (transpose x)` → `x`
//! - elementwise ops but negation (which the rules above look for on an
//!   operand) move inside broadcasts, when no other identity applies:
//!   `f (broadcast x)` → `broadcast (f x)`, and the same for a
//!   binary op or comparison of two broadcasts of one shape, or of a
//!   broadcast and a constant. Each element is computed from the same
//!   operands as before, once per distinct element instead of once per
//!   copy (so a per-neuron window `threshold - 0.5` stays per-neuron
//!   instead of batch-sized). When other nodes still read the original
//!   broadcast, the graph gains a broadcast node (a strided read in the
//!   JIT's loops), never an operation that computes elements.
//!
//! Deliberately not applied, because they are inexact: `x * 0` → `0`
//! (`inf * 0` and `NaN * 0` are NaN), `x - x` → `0`, matmul with a zero
//! operand → zero, reassociating constants (`c1 * (c2 * x)` →
//! `(c1*c2) * x` rounds once instead of twice, and can overflow
//! differently), `exp (log x)` → `x`, `recip (recip x)` → `x`,
//! `0.0 - x` → `neg x` (differs for `x = +0.0`).

use super::Rebuilder;
use crate::ir::{BinaryOp, Op, Shape, UnaryOp, Value};

/// A simpler value equal to `op` (whose operands are values of the graph
/// being built), or `None` when no identity applies. New nodes a rewrite
/// needs go through `Rebuilder::emit`, so they are simplified in turn.
pub(super) fn rewrite(b: &mut Rebuilder, op: &Op, shape: &Shape) -> Option<Value> {
    match *op {
        Op::Constant(_) | Op::Arg(_) => None,
        Op::Unary(u, a) => unary(b, u, a, shape).or_else(|| {
            // A negation stays outside: the rules for `x + neg y`, `neg x *
            // c` and the like look for it on the operand.
            if u == UnaryOp::Neg {
                return None;
            }
            let inner = broadcast_operand(b, a)?;
            let small = b.graph().shape(inner).clone();
            let f = b.emit(Op::Unary(u, inner), small);
            Some(b.emit(Op::Broadcast(f), shape.clone()))
        }),
        Op::Binary(o, x, y) => binary(b, o, x, y, shape)
            .or_else(|| through_broadcasts(b, |p, q| Op::Binary(o, p, q), x, y, shape)),
        Op::Compare(c, x, y) => through_broadcasts(b, |p, q| Op::Compare(c, p, q), x, y, shape),
        Op::Select {
            cond,
            on_true,
            on_false,
        } => select(b, cond, on_true, on_false),
        Op::Broadcast(a) => broadcast(b, a, shape),
        Op::Reshape(a) => reshape(b, a, shape),
        Op::ReduceSum { operand, axis } => reduce_sum(b, operand, axis as usize, shape),
        Op::Matmul { .. } | Op::Spike { .. } => None,
        Op::StopGradient(a) => Some(a),
        Op::Transpose(a) => transpose(b, a),
    }
}

/// The operand of `v` when `v` is a broadcast.
fn broadcast_operand(b: &Rebuilder, v: Value) -> Option<Value> {
    match *b.graph().op(v) {
        Op::Broadcast(inner) => Some(inner),
        _ => None,
    }
}

/// `f(broadcast x, broadcast y)` → `broadcast f(x, y)` when `x` and `y`
/// have one shape, and `f(broadcast x, c)` → `broadcast f(x, c)` (either
/// side) for a constant `c`.
fn through_broadcasts(
    b: &mut Rebuilder,
    f: impl Fn(Value, Value) -> Op,
    x: Value,
    y: Value,
    shape: &Shape,
) -> Option<Value> {
    let small = |b: &Rebuilder, v: Value| b.graph().shape(v).clone();
    let (x_small, y_small) = match (broadcast_operand(b, x), broadcast_operand(b, y)) {
        (Some(px), Some(py)) if small(b, px) == small(b, py) => (px, py),
        (Some(px), None) => {
            let c = b.graph().constant_value(y)?;
            (px, b.constant(c, small(b, px)))
        }
        (None, Some(py)) => {
            let c = b.graph().constant_value(x)?;
            (b.constant(c, small(b, py)), py)
        }
        _ => return None,
    };
    let inner = b.emit(f(x_small, y_small), small(b, x_small));
    Some(b.emit(Op::Broadcast(inner), shape.clone()))
}

/// `transpose(transpose(x)) = x`.
fn transpose(b: &Rebuilder, a: Value) -> Option<Value> {
    match *b.graph().op(a) {
        Op::Transpose(inner) => Some(inner),
        _ => None,
    }
}

/// The bits of a constant, so that `0.0` and `-0.0` are told apart.
fn bits(b: &Rebuilder, v: Value) -> Option<u32> {
    b.graph().constant_value(v).map(f32::to_bits)
}

fn is(b: &Rebuilder, v: Value, x: f32) -> bool {
    bits(b, v) == Some(x.to_bits())
}

/// The operand of `v` when `v` is `neg operand`.
fn negated(b: &Rebuilder, v: Value) -> Option<Value> {
    match *b.graph().op(v) {
        Op::Unary(UnaryOp::Neg, a) => Some(a),
        _ => None,
    }
}

fn unary(b: &mut Rebuilder, u: UnaryOp, a: Value, shape: &Shape) -> Option<Value> {
    let inner = *b.graph().op(a);
    match u {
        UnaryOp::Neg => match inner {
            Op::Unary(UnaryOp::Neg, x) => Some(x),
            Op::Binary(op @ (BinaryOp::Mul | BinaryOp::Div), x, y) => {
                // neg (x * c) = x * -c; neg (x / c) = x / -c; neg (c / x) = -c / x.
                if let Some(c) = b.graph().constant_value(y) {
                    let minus_c = b.constant(-c, shape.clone());
                    Some(b.emit(Op::Binary(op, x, minus_c), shape.clone()))
                } else if let Some(c) = b.graph().constant_value(x) {
                    let minus_c = b.constant(-c, shape.clone());
                    Some(b.emit(Op::Binary(op, minus_c, y), shape.clone()))
                } else {
                    None
                }
            }
            _ => None,
        },
        UnaryOp::Abs => match inner {
            Op::Unary(UnaryOp::Abs, _) => Some(a),
            Op::Unary(UnaryOp::Neg, x) => Some(b.emit(Op::Unary(UnaryOp::Abs, x), shape.clone())),
            _ => None,
        },
        UnaryOp::Floor => match inner {
            // Comparisons are exactly 0.0 or 1.0, already integers.
            Op::Unary(UnaryOp::Floor, _) | Op::Compare(..) => Some(a),
            _ => None,
        },
        UnaryOp::Exp | UnaryOp::Log | UnaryOp::Recip | UnaryOp::Sqrt => None,
    }
}

fn binary(b: &mut Rebuilder, op: BinaryOp, x: Value, y: Value, shape: &Shape) -> Option<Value> {
    match op {
        BinaryOp::Add => add(b, x, y, shape),
        BinaryOp::Sub => sub(b, x, y, shape),
        BinaryOp::Mul => mul(b, x, y, shape),
        BinaryOp::Div => div(b, x, y, shape),
        BinaryOp::Max | BinaryOp::Min => (x == y).then_some(x),
    }
}

fn add(b: &mut Rebuilder, x: Value, y: Value, shape: &Shape) -> Option<Value> {
    // Addition is commutative: try each operand as the constant one.
    for (c, other) in [(y, x), (x, y)] {
        if is(b, c, -0.0) || (is(b, c, 0.0) && b.never_negative_zero(other)) {
            return Some(other);
        }
    }
    for (negation, other) in [(y, x), (x, y)] {
        if let Some(z) = negated(b, negation) {
            return Some(b.emit(Op::Binary(BinaryOp::Sub, other, z), shape.clone()));
        }
    }
    None
}

fn sub(b: &mut Rebuilder, x: Value, y: Value, shape: &Shape) -> Option<Value> {
    if is(b, y, 0.0) || (is(b, y, -0.0) && b.never_negative_zero(x)) {
        return Some(x);
    }
    if is(b, x, -0.0) {
        return Some(b.emit(Op::Unary(UnaryOp::Neg, y), shape.clone()));
    }
    if let Some(z) = negated(b, y) {
        return Some(b.emit(Op::Binary(BinaryOp::Add, x, z), shape.clone()));
    }
    None
}

fn mul(b: &mut Rebuilder, x: Value, y: Value, shape: &Shape) -> Option<Value> {
    if let (Some(nx), Some(ny)) = (negated(b, x), negated(b, y)) {
        return Some(b.emit(Op::Binary(BinaryOp::Mul, nx, ny), shape.clone()));
    }
    // Multiplication is commutative: try each operand as the constant one.
    for (constant, other) in [(y, x), (x, y)] {
        let Some(c) = b.graph().constant_value(constant) else {
            continue;
        };
        if c.to_bits() == 1.0f32.to_bits() {
            return Some(other);
        }
        if c.to_bits() == (-1.0f32).to_bits() {
            return Some(b.emit(Op::Unary(UnaryOp::Neg, other), shape.clone()));
        }
        if let Some(z) = negated(b, other) {
            let minus_c = b.constant(-c, shape.clone());
            return Some(b.emit(Op::Binary(BinaryOp::Mul, z, minus_c), shape.clone()));
        }
    }
    None
}

fn div(b: &mut Rebuilder, x: Value, y: Value, shape: &Shape) -> Option<Value> {
    if let (Some(nx), Some(ny)) = (negated(b, x), negated(b, y)) {
        return Some(b.emit(Op::Binary(BinaryOp::Div, nx, ny), shape.clone()));
    }
    if let Some(c) = b.graph().constant_value(y) {
        // Covers x / 1 and x / -1 too: they become x * 1 and x * -1.
        if let Some(r) = exact_reciprocal(c) {
            let r = b.constant(r, shape.clone());
            return Some(b.emit(Op::Binary(BinaryOp::Mul, x, r), shape.clone()));
        }
        if let Some(z) = negated(b, x) {
            let minus_c = b.constant(-c, shape.clone());
            return Some(b.emit(Op::Binary(BinaryOp::Div, z, minus_c), shape.clone()));
        }
    }
    if let (Some(c), Some(z)) = (b.graph().constant_value(x), negated(b, y)) {
        let minus_c = b.constant(-c, shape.clone());
        return Some(b.emit(Op::Binary(BinaryOp::Div, minus_c, z), shape.clone()));
    }
    None
}

/// `1/c` when it is exactly representable, so that `x / c` and `x * (1/c)`
/// round the same real number and agree bit for bit: `c` is `±2^k` with
/// `2^-k` an f32 (normal or subnormal).
fn exact_reciprocal(c: f32) -> Option<f32> {
    let r = 1.0 / c;
    // Both factors have 24-bit significands, so their f64 product is exact.
    let exact = r.is_finite() && r != 0.0 && f64::from(r) * f64::from(c) == 1.0;
    exact.then_some(r)
}

fn select(b: &mut Rebuilder, cond: Value, on_true: Value, on_false: Value) -> Option<Value> {
    if let Some(c) = b.graph().constant_value(cond) {
        return Some(if c != 0.0 { on_true } else { on_false });
    }
    if on_true == on_false {
        return Some(on_true);
    }
    // A comparison is 0.0 or 1.0, broadcast or not.
    let compared = broadcast_operand(b, cond).unwrap_or(cond);
    let is_comparison = matches!(b.graph().op(compared), Op::Compare(..));
    if is_comparison && is(b, on_true, 1.0) && is(b, on_false, 0.0) {
        return Some(cond);
    }
    None
}

fn broadcast(b: &mut Rebuilder, a: Value, shape: &Shape) -> Option<Value> {
    if b.graph().shape(a) == shape {
        return Some(a);
    }
    match *b.graph().op(a) {
        // numpy broadcasting composes: broadcasting in two steps is one
        // broadcast from the first shape to the last.
        Op::Broadcast(inner) if b.graph().shape(inner).broadcasts_to(shape) => {
            Some(b.emit(Op::Broadcast(inner), shape.clone()))
        }
        // A reshaped one-element value is a splat of its element.
        Op::Reshape(inner) => {
            let from = b.graph().shape(inner);
            let splat = from.numel() == 1 && from.broadcasts_to(shape);
            splat.then(|| b.emit(Op::Broadcast(inner), shape.clone()))
        }
        _ => None,
    }
}

fn reshape(b: &mut Rebuilder, a: Value, shape: &Shape) -> Option<Value> {
    if b.graph().shape(a) == shape {
        return Some(a);
    }
    match *b.graph().op(a) {
        // Row-major order is kept by both steps, so one reshape does.
        Op::Reshape(inner) => Some(b.emit(Op::Reshape(inner), shape.clone())),
        // A one-element value broadcast anywhere is a splat of its element.
        Op::Broadcast(inner) => {
            let from = b.graph().shape(inner);
            let splat = from.numel() == 1 && from.broadcasts_to(shape);
            splat.then(|| b.emit(Op::Broadcast(inner), shape.clone()))
        }
        _ => None,
    }
}

fn reduce_sum(b: &mut Rebuilder, operand: Value, axis: usize, shape: &Shape) -> Option<Value> {
    if b.graph().shape(operand).dims()[axis] == 1 {
        return Some(b.emit(Op::Reshape(operand), shape.clone()));
    }
    None
}
