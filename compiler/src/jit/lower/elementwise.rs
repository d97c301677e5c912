//! Codegen rules for elementwise ops: one value of a fused loop, computed at
//! one position (an `f32x4` vector, possibly partial) from its operands'
//! values there.
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
    pub simd: Simd<'a>,
    /// Contract `a * b + c` (with `a * b` computed in the same loop) into
    /// one fused multiply-add.
    pub contract_fma: bool,
    /// Values already computed at this position, by graph value index.
    pub values: &'a [Option<Lowered>],
    /// Which values this loop computes (rather than reads from memory).
    pub inline: &'a [bool],
    /// The value of each constant (splat) the loop reads, by value index.
    pub constants: &'a [Option<f32>],
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

    /// `x / y`, as `x * (1 / y)` when `y` is a constant power of two (then
    /// both round the same exact quotient: bit-identical, and a multiply
    /// costs a fraction of a divide).
    fn divide(
        &self,
        b: &mut FunctionBuilder,
        x: Value,
        y: Value,
    ) -> Result<ClifValue, CompileError> {
        let s = self.simd;
        let numerator = self.float(b, x)?;
        if let Some(reciprocal) = self.constants[y.index()].and_then(exact_reciprocal) {
            if reciprocal == 1.0 {
                return Ok(numerator);
            }
            let r = s.constant(b, reciprocal);
            return Ok(s.mul(b, numerator, r));
        }
        let denominator = self.float(b, y)?;
        Ok(s.div(b, numerator, denominator))
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
            let ratio = cx.divide(b, membrane, threshold)?;
            let (x, th) = (float(b, membrane)?, float(b, threshold)?);
            Lowered::Float(spike(s, b, x, th, ratio, max.get()))
        }
        // Scheduled inline only when it adds or removes axes of size 1.
        Op::StopGradient(a) | Op::Reshape(a) => cx.get(a)?,
        // Scheduled inline only for an axis of size 1: the one term (sums
        // start from -0.0, and `-0.0 + x` is `x`).
        Op::ReduceSum { operand, .. } => Lowered::Float(float(b, operand)?),
        Op::Constant(_) | Op::Arg(_) | Op::Broadcast(_) | Op::Matmul { .. } | Op::Transpose(_) => {
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
    if op == BinaryOp::Div {
        return cx.divide(b, x, y);
    }
    let (a, c) = (cx.float(b, x)?, cx.float(b, y)?);
    Ok(match op {
        BinaryOp::Add => s.add(b, a, c),
        BinaryOp::Sub => s.sub(b, a, c),
        BinaryOp::Mul => s.mul(b, a, c),
        // Divisions return above; this arm keeps the match exhaustive.
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
/// `ratio` is `v / th`.
fn spike(
    s: Simd,
    b: &mut FunctionBuilder,
    v: ClifValue,
    th: ClifValue,
    ratio: ClifValue,
    max: f32,
) -> ClifValue {
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

/// `1 / c` when `c` is a power of two whose reciprocal is a normal float
/// (so `x * (1 / c)` rounds exactly like `x / c`).
fn exact_reciprocal(c: f32) -> Option<f32> {
    let r = 1.0 / c;
    let power_of_two = |x: f32| x.is_normal() && x.to_bits() & 0x007f_ffff == 0;
    (power_of_two(c) && power_of_two(r)).then_some(r)
}

#[cfg(test)]
mod tests {
    use super::exact_reciprocal;

    #[test]
    fn only_powers_of_two_have_exact_reciprocals() {
        assert_eq!(exact_reciprocal(1.0), Some(1.0));
        assert_eq!(exact_reciprocal(-0.25), Some(-4.0));
        assert_eq!(exact_reciprocal(3.0), None);
        assert_eq!(exact_reciprocal(0.0), None);
        assert_eq!(exact_reciprocal(f32::INFINITY), None);
        assert_eq!(exact_reciprocal(f32::MIN_POSITIVE), Some(2f32.powi(126)));
        // 2^127 has no normal reciprocal; subnormals are not normal.
        assert_eq!(exact_reciprocal(2f32.powi(127)), None);
        assert_eq!(exact_reciprocal(f32::MIN_POSITIVE / 2.0), None);
        assert_eq!(exact_reciprocal(f32::NAN), None);
    }
}
