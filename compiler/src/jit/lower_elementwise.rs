//! Codegen rules for elementwise ops: one value of a fused loop, computed at
//! one position (four lanes or one) from its operands' values there.
//!
//! The rules follow `interp::rules` operation for operation, so results are
//! bit-identical to the interpreter except `exp` and `log` (polynomials, see
//! `math.rs`) and, when `contract_fma` is on, `a * b + c` computed with one
//! rounding. Comparisons stay masks until a consumer needs numbers, so
//! `select(a < b, x, y)` is one compare and one blend.

use super::math;
use super::simd::{Mask, Simd};
use crate::ir::{BinaryOp, CompareOp, Graph, Op, UnaryOp, Value};
use crate::kernel::CompileError;
use cranelift_codegen::ir::condcodes::FloatCC;
use cranelift_codegen::ir::Value as ClifValue;
use cranelift_frontend::FunctionBuilder;

/// A computed value at one position: numbers, or a comparison's truth.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Lowered {
    Float(ClifValue),
    Mask(Mask),
}

impl Lowered {
    /// The value as numbers (1.0 / 0.0 for a truth value).
    pub fn float(self, s: Simd, b: &mut FunctionBuilder) -> ClifValue {
        match self {
            Lowered::Float(x) => x,
            Lowered::Mask(m) => s.mask_to_float(b, m),
        }
    }

    /// The value as a truth value: `x != 0.0` (true for NaN, like the
    /// interpreter's `select`).
    pub fn truth(self, s: Simd, b: &mut FunctionBuilder) -> Mask {
        match self {
            Lowered::Mask(m) => m,
            Lowered::Float(x) => {
                let zero = s.constant(b, 0.0);
                s.compare(b, FloatCC::NotEqual, x, zero)
            }
        }
    }
}

/// What the rules need to know about the loop they are emitted into.
pub(crate) struct ElementContext<'a> {
    pub graph: &'a Graph,
    pub simd: Simd,
    /// Contract `a * b + c` (with `a * b` computed in the same loop) into
    /// one fused multiply-add.
    pub contract_fma: bool,
    /// Values already computed at this position, by graph value index.
    pub values: &'a [Option<Lowered>],
    /// Which values this loop computes (rather than reads from memory).
    pub inline: &'a [bool],
}

impl ElementContext<'_> {
    fn get(&self, v: Value) -> Result<Lowered, CompileError> {
        self.values[v.index()].ok_or_else(|| {
            CompileError::Codegen(format!(
                "value %{} is read before it is computed in its loop",
                v.0
            ))
        })
    }

    fn float(&self, b: &mut FunctionBuilder, v: Value) -> Result<ClifValue, CompileError> {
        Ok(self.get(v)?.float(self.simd, b))
    }

    /// `(x, y)` when `v` is a product computed in this loop and contraction
    /// is on.
    fn product_operands(&self, v: Value) -> Option<(Value, Value)> {
        let contract = self.contract_fma && self.simd.features.fma && self.inline[v.index()];
        match *self.graph.op(v) {
            Op::Binary(BinaryOp::Mul, x, y) if contract => Some((x, y)),
            _ => None,
        }
    }
}

/// Emits the instructions computing elementwise node `v`.
pub(crate) fn lower(
    cx: &ElementContext,
    b: &mut FunctionBuilder,
    v: Value,
) -> Result<Lowered, CompileError> {
    let s = cx.simd;
    let float = |b: &mut FunctionBuilder, x: Value| cx.float(b, x);
    let result = match *cx.graph.op(v) {
        Op::Unary(op, a) => {
            let x = float(b, a)?;
            Lowered::Float(match op {
                UnaryOp::Neg => s.neg(b, x),
                UnaryOp::Exp => math::exp(s, b, x),
                UnaryOp::Log => math::log(s, b, x),
                UnaryOp::Recip => {
                    let one = s.constant(b, 1.0);
                    s.div(b, one, x)
                }
                UnaryOp::Sqrt => s.sqrt(b, x),
                UnaryOp::Abs => s.abs(b, x),
                UnaryOp::Floor => math::floor(s, b, x),
            })
        }
        Op::Binary(op, x, y) => Lowered::Float(lower_binary(cx, b, op, x, y)?),
        Op::Compare(op, x, y) => {
            let (a, c) = (float(b, x)?, float(b, y)?);
            Lowered::Mask(s.compare(b, float_cc(op), a, c))
        }
        Op::Select {
            cond,
            on_true,
            on_false,
        } => {
            let mask = cx.get(cond)?.truth(s, b);
            let (t, f) = (float(b, on_true)?, float(b, on_false)?);
            Lowered::Float(s.select(b, mask, t, f))
        }
        Op::Spike {
            v: membrane,
            threshold,
            max,
            ..
        } => {
            let (x, th) = (float(b, membrane)?, float(b, threshold)?);
            Lowered::Float(spike(s, b, x, th, max.get()))
        }
        Op::StopGradient(a) => cx.get(a)?,
        Op::Constant(_)
        | Op::Arg(_)
        | Op::Broadcast(_)
        | Op::Reshape(_)
        | Op::ReduceSum { .. }
        | Op::Matmul { .. } => {
            return Err(CompileError::Codegen(format!(
                "`{}` was scheduled as an elementwise value",
                cx.graph.describe(v)
            )))
        }
    };
    Ok(result)
}

fn lower_binary(
    cx: &ElementContext,
    b: &mut FunctionBuilder,
    op: BinaryOp,
    x: Value,
    y: Value,
) -> Result<ClifValue, CompileError> {
    let s = cx.simd;
    // a * b + c and c + a * b as one fused multiply-add.
    if op == BinaryOp::Add {
        for (product, addend) in [(x, y), (y, x)] {
            if let Some((p, q)) = cx.product_operands(product) {
                let (p, q, c) = (cx.float(b, p)?, cx.float(b, q)?, cx.float(b, addend)?);
                return Ok(s.mul_add(b, p, q, c));
            }
        }
    }
    let (a, c) = (cx.float(b, x)?, cx.float(b, y)?);
    Ok(match op {
        BinaryOp::Add => s.add(b, a, c),
        BinaryOp::Sub => s.sub(b, a, c),
        BinaryOp::Mul => s.mul(b, a, c),
        BinaryOp::Div => s.div(b, a, c),
        BinaryOp::Max => s.max(b, a, c),
        BinaryOp::Min => s.min(b, a, c),
    })
}

fn float_cc(op: CompareOp) -> FloatCC {
    match op {
        CompareOp::Lt => FloatCC::LessThan,
        CompareOp::Le => FloatCC::LessThanOrEqual,
        CompareOp::Gt => FloatCC::GreaterThan,
        CompareOp::Ge => FloatCC::GreaterThanOrEqual,
        CompareOp::Eq => FloatCC::Equal,
        // Unordered or unequal: true for NaN, like Rust's `!=`.
        CompareOp::Ne => FloatCC::NotEqual,
    }
}

/// `interp::spike_count` lane by lane:
/// `v >= th ? min(max(floor(v / th), 0), max) : 0`, where `max(q, 0)` maps
/// NaN to 0 like `f32::max`, and a NaN `max` leaves `q` as `f32::min` does.
fn spike(s: Simd, b: &mut FunctionBuilder, v: ClifValue, th: ClifValue, max: f32) -> ClifValue {
    let ratio = s.div(b, v, th);
    let q = math::floor(s, b, ratio);
    let zero = s.constant(b, 0.0);
    let positive = s.compare(b, FloatCC::GreaterThan, q, zero);
    let mut q = s.keep(b, positive, q);
    if !max.is_nan() {
        let cap = s.constant(b, max);
        let below = s.compare(b, FloatCC::LessThan, q, cap);
        q = s.select(b, below, q, cap);
    }
    let fires = s.compare(b, FloatCC::GreaterThanOrEqual, v, th);
    s.keep(b, fires, q)
}
