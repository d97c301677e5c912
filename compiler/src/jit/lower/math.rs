//! Inline `exp`, `log` and `floor` on `f32x4` values (see `simd.rs`).
//!
//! Cranelift has no exp/log instructions, and a libm call per element costs
//! several times a polynomial, so both are emitted inline as the Cephes
//! single-precision approximations (range reduction + minimax polynomial).
//! The measured accuracy is asserted by `tests/jit_props.rs`
//! (`jit_exp_and_log_polynomials_are_accurate`): relative error below
//! 1.5e-7 (at most one ulp from `f32::exp` / `f32::ln`) against the f64
//! results over the whole finite range, with the special values (0, ±inf,
//! NaN, negative, subnormal) matching `f32::exp` and `f32::ln` (within
//! 2.5e-7 where finite).
//!
//! `floor` is one `roundps` on hosts with SSE4.1; without it Cranelift would
//! call libm per lane, so [`floor`] emits a branch-free add-magic-number
//! sequence instead.

use super::simd::Simd;
use cranelift_codegen::ir::condcodes::FloatCC;
use cranelift_codegen::ir::{InstBuilder, Value};
use cranelift_frontend::FunctionBuilder;

/// 1.5 * 2^23: adding it to a float of magnitude below 2^22 rounds that
/// float to an integer held in the low mantissa bits.
const ROUNDING_MAGIC: f32 = 12_582_912.0;

/// ln 2 split as `LN2_HIGH - LN2_LOW`: the high part has 9 significant
/// bits, so `n * LN2_HIGH` is exact for the exponents exp and log meet.
const LN2_HIGH: f32 = 355.0 / 512.0; // 0.693359375
#[allow(clippy::excessive_precision)]
const LN2_LOW: f32 = 2.121_944_40e-4;

/// `floor(x)` lane by lane, NaN and infinities passed through.
pub(crate) fn floor(s: Simd, b: &mut FunctionBuilder, x: Value) -> Value {
    if s.features.round {
        return b.ins().floor(x);
    }
    // Round to nearest by adding and removing the magic number, then step
    // down where that rounded up. Valid for |x| < 2^22; larger floats are
    // already integers (and NaN fails the comparison), so they pass through.
    let magic = s.constant(b, ROUNDING_MAGIC);
    let shifted = s.add(b, x, magic);
    let rounded = s.sub(b, shifted, magic);
    let rounded_up = s.compare(b, FloatCC::GreaterThan, rounded, x);
    let one = s.keep_constant(b, rounded_up, 1.0);
    let floored = s.sub(b, rounded, one);
    let magnitude = s.abs(b, x);
    let limit = s.constant(b, 4_194_304.0);
    let small = s.compare(b, FloatCC::LessThan, magnitude, limit);
    s.select(b, small, floored, x)
}

/// `exp(x)`: Cephes `expf`.
///
/// `x = n ln2 + r` with `n = round(x / ln2)` (by the magic-number addition,
/// which also leaves `n` in the low bits of the sum) and `|r| <= ln2 / 2`;
/// `exp(r)` by a degree-6 polynomial; `2^n` applied in two halves so that
/// results from subnormal to overflow need no special cases.
pub(crate) fn exp(s: Simd, b: &mut FunctionBuilder, x: Value) -> Value {
    // Clamp so that n stays in [-150, 129]: below, exp underflows to 0;
    // above, to +inf. Comparisons (not fmin/fmax) keep NaN as it is.
    let hi = s.constant(b, 89.0);
    let lo = s.constant(b, -104.0);
    let too_big = s.compare(b, FloatCC::GreaterThan, x, hi);
    let x = s.select(b, too_big, hi, x);
    let too_small = s.compare(b, FloatCC::LessThan, x, lo);
    let x = s.select(b, too_small, lo, x);

    let log2e = s.constant(b, std::f32::consts::LOG2_E);
    let magic = s.constant(b, ROUNDING_MAGIC);
    let shifted = s.mul_add(b, x, log2e, magic);
    let n_float = s.sub(b, shifted, magic);

    // r = x - n ln2, with ln2 split in two so that n * C1 is exact.
    let c1 = s.constant(b, -LN2_HIGH);
    let c2 = s.constant(b, LN2_LOW);
    let r = s.mul_add(b, n_float, c1, x);
    let r = s.mul_add(b, n_float, c2, r);

    #[allow(clippy::excessive_precision)]
    const P: [f32; 6] = [
        1.987_569_150_0e-4,
        1.398_199_950_7e-3,
        8.333_451_907_3e-3,
        4.166_579_589_4e-2,
        1.666_666_545_9e-1,
        5.000_000_120_1e-1,
    ];
    let mut y = s.constant(b, P[0]);
    for &p in &P[1..] {
        let c = s.constant(b, p);
        y = s.mul_add(b, y, r, c);
    }
    let r2 = s.mul(b, r, r);
    let y = s.mul_add(b, y, r2, r);
    let one = s.constant(b, 1.0);
    let y = s.add(b, y, one);

    // n as an integer: the sum's bits minus the magic number's bits.
    let shifted_bits = s.float_to_bits(b, shifted);
    let magic_bits = s.int_constant(b, ROUNDING_MAGIC.to_bits() as i32);
    let n = b.ins().isub(shifted_bits, magic_bits);
    let half = b.ins().sshr_imm_u(n, 1);
    let rest = b.ins().isub(n, half);
    let first = power_of_two(s, b, half);
    let second = power_of_two(s, b, rest);
    let y = s.mul(b, y, first);
    s.mul(b, y, second)
}

/// `2^n` for integer lanes `n` in [-126, 127].
fn power_of_two(s: Simd, b: &mut FunctionBuilder, n: Value) -> Value {
    let bias = s.int_constant(b, 127);
    let biased = b.ins().iadd(n, bias);
    let bits = b.ins().ishl_imm_u(biased, 23);
    s.bits_to_float(b, bits)
}

/// `ln(x)`: Cephes `logf`.
///
/// `x = m 2^e` with `m` in [sqrt(1/2), sqrt(2)); `ln(m)` by a degree-9
/// polynomial in `m - 1`; `e ln2` added in two parts. Subnormals are scaled
/// up by 2^23 first; zero, negative, infinite and NaN inputs are patched at
/// the end to `f32::ln`'s answers.
pub(crate) fn log(s: Simd, b: &mut FunctionBuilder, x_in: Value) -> Value {
    let min_normal = s.constant(b, f32::MIN_POSITIVE);
    let subnormal = s.compare(b, FloatCC::LessThan, x_in, min_normal);
    let scale = s.constant(b, 8_388_608.0); // 2^23
    let scaled = s.mul(b, x_in, scale);
    let x = s.select(b, subnormal, scaled, x_in);
    let exponent_shift = s.keep_constant(b, subnormal, 23.0);

    // Split into exponent and a mantissa in [0.5, 1).
    let bits = s.float_to_bits(b, x);
    let biased = b.ins().ushr_imm_u(bits, 23);
    let bias = s.int_constant(b, 126);
    let e_int = b.ins().isub(biased, bias);
    let e = s.int_to_float(b, e_int);
    let e = s.sub(b, e, exponent_shift);
    let mantissa_mask = s.int_constant(b, 0x007f_ffff);
    let half_exponent = s.int_constant(b, 0x3f00_0000);
    let m_bits = b.ins().band(bits, mantissa_mask);
    let m_bits = b.ins().bor(m_bits, half_exponent);
    let m = s.bits_to_float(b, m_bits);

    // Move m into [sqrt(1/2), sqrt(2)) and subtract 1.
    let sqrt_half = s.constant(b, std::f32::consts::FRAC_1_SQRT_2);
    let below = s.compare(b, FloatCC::LessThan, m, sqrt_half);
    let one_if_below = s.keep_constant(b, below, 1.0);
    let e = s.sub(b, e, one_if_below);
    let m_if_below = s.keep(b, below, m);
    let one = s.constant(b, 1.0);
    let m = s.add(b, m, m_if_below);
    let m = s.sub(b, m, one);

    #[allow(clippy::excessive_precision)]
    const P: [f32; 9] = [
        7.037_683_629_2e-2,
        -1.151_461_031_0e-1,
        1.167_699_874_0e-1,
        -1.242_014_084_6e-1,
        1.424_932_278_7e-1,
        -1.666_805_766_5e-1,
        2.000_071_476_5e-1,
        -2.499_999_399_3e-1,
        3.333_333_117_4e-1,
    ];
    let mut y = s.constant(b, P[0]);
    for &p in &P[1..] {
        let c = s.constant(b, p);
        y = s.mul_add(b, y, m, c);
    }
    let z = s.mul(b, m, m);
    let y = s.mul(b, y, m);
    let y = s.mul(b, y, z);
    let c2 = s.constant(b, -LN2_LOW);
    let y = s.mul_add(b, e, c2, y);
    let minus_half = s.constant(b, -0.5);
    let y = s.mul_add(b, z, minus_half, y);
    let r = s.add(b, m, y);
    let c1 = s.constant(b, LN2_HIGH);
    let r = s.mul_add(b, e, c1, r);

    // Special values, as f32::ln gives them.
    let inf = s.constant(b, f32::INFINITY);
    let is_inf = s.compare(b, FloatCC::Equal, x_in, inf);
    let r = s.select(b, is_inf, inf, r);
    let zero = s.constant(b, 0.0);
    let is_zero = s.compare(b, FloatCC::Equal, x_in, zero);
    let minus_inf = s.constant(b, f32::NEG_INFINITY);
    let r = s.select(b, is_zero, minus_inf, r);
    let negative_or_nan = s.compare(b, FloatCC::UnorderedOrLessThan, x_in, zero);
    let nan = s.constant(b, f32::NAN);
    s.select(b, negative_or_nan, nan, r)
}
