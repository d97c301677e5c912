//! Vector instruction helpers. Every element computation is emitted on
//! `f32x4` values: full vectors in a loop's body, and, for rows shorter
//! than a vector, partial vectors (1 to 3 live lanes, loaded and stored in
//! 64- and 32-bit pieces). Lanes past a partial vector hold zeros and
//! their results are never stored, so one branch-free code path serves
//! both. (Longer rows end with a full vector that overlaps the one before
//! it: see `loops.rs`.)
//!
//! Comparisons produce a [`Mask`]: an all-ones/all-zeros `f32x4` (the
//! `i32x4` result of `fcmp` reinterpreted), which `select` and `keep` use
//! as a bit mask.

use super::constants::{Lanes, VectorConstants};
use cranelift_codegen::ir::condcodes::FloatCC;
use cranelift_codegen::ir::types::{F32, F32X4, F64, F64X2, I32X4};
use cranelift_codegen::ir::{InstBuilder, MemFlagsData, Type, Value};
use cranelift_frontend::FunctionBuilder;

/// Lanes per vector: Cranelift's x64 backend handles 128-bit vectors.
pub(crate) const LANES: usize = 4;

/// Host capabilities the emitted code may rely on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Features {
    /// `fma` lowers to one instruction (x86: AVX and FMA).
    pub fma: bool,
    /// `floor` lowers to one instruction (x86: SSE4.1 `roundps`).
    pub round: bool,
}

/// A lane-wise truth value (see the file comment).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Mask(pub Value);

/// Memory flags for element loads and stores: never trapping (buffer sizes
/// are checked before the call) but not 16-byte aligned, so x64 keeps
/// vector loads as `movups` instead of folding them into SSE operands that
/// require alignment.
pub(crate) fn element_flags() -> MemFlagsData {
    MemFlagsData::new().with_notrap()
}

/// Flags for reinterpreting vectors with a different lane count: lanes in
/// the host's memory order, so that the `f64` loaded from two consecutive
/// floats holds `f32` lanes 0 and 1.
fn lane_order() -> MemFlagsData {
    use cranelift_codegen::ir::Endianness;
    let host = if cfg!(target_endian = "big") {
        Endianness::Big
    } else {
        Endianness::Little
    };
    MemFlagsData::new().with_endianness(host)
}

/// The instruction helpers, specialised to the host's features, with the
/// kernel's constants.
#[derive(Clone, Copy)]
pub(crate) struct Simd<'a> {
    pub features: Features,
    constants: &'a VectorConstants,
}

impl<'a> Simd<'a> {
    pub fn new(features: Features, constants: &'a VectorConstants) -> Simd<'a> {
        Simd {
            features,
            constants,
        }
    }

    pub fn float_type(self) -> Type {
        F32X4
    }

    pub fn int_type(self) -> Type {
        I32X4
    }

    // ----- constants and memory ----------------------------------------------

    /// `x` in every lane (see `constants.rs`).
    pub fn constant(self, b: &mut FunctionBuilder, x: f32) -> Value {
        self.constants.get(b, F32X4, [x.to_bits(); LANES])
    }

    pub fn int_constant(self, b: &mut FunctionBuilder, x: i32) -> Value {
        self.constants.get(b, I32X4, [x as u32; LANES])
    }

    /// Broadcasts an `f32` to all lanes.
    pub fn splat(self, b: &mut FunctionBuilder, scalar: Value) -> Value {
        b.ins().splat(F32X4, scalar)
    }

    /// Loads four consecutive floats at `base + offset` bytes.
    pub fn load(self, b: &mut FunctionBuilder, base: Value, offset: i32) -> Value {
        b.ins().load(F32X4, element_flags(), base, offset)
    }

    pub fn store(self, b: &mut FunctionBuilder, x: Value, base: Value, offset: i32) {
        b.ins().store(element_flags(), x, base, offset);
    }

    /// Loads `lanes` (1 to 3) consecutive floats into the low lanes; the
    /// other lanes are zero. Pairs of lanes move as one 64-bit load.
    pub fn load_partial(
        self,
        b: &mut FunctionBuilder,
        base: Value,
        offset: i32,
        lanes: usize,
    ) -> Value {
        if lanes == 1 {
            let first = b.ins().load(F32, element_flags(), base, offset);
            return b.ins().scalar_to_vector(F32X4, first);
        }
        let pair = b.ins().load(F64, element_flags(), base, offset);
        let pair = b.ins().scalar_to_vector(F64X2, pair);
        let mut v = b.ins().bitcast(F32X4, lane_order(), pair);
        if lanes == 3 {
            let x = b.ins().load(F32, element_flags(), base, offset + 8);
            v = b.ins().insertlane(v, x, 2);
        }
        v
    }

    /// Stores the low `lanes` (1 to 3) lanes of `x`, pairs of lanes as one
    /// 64-bit store.
    pub fn store_partial(
        self,
        b: &mut FunctionBuilder,
        x: Value,
        base: Value,
        offset: i32,
        lanes: usize,
    ) {
        if lanes == 1 {
            let v = b.ins().extractlane(x, 0);
            b.ins().store(element_flags(), v, base, offset);
            return;
        }
        let pairs = b.ins().bitcast(F64X2, lane_order(), x);
        let pair = b.ins().extractlane(pairs, 0);
        b.ins().store(element_flags(), pair, base, offset);
        if lanes == 3 {
            let v = b.ins().extractlane(x, 2);
            b.ins().store(element_flags(), v, base, offset + 8);
        }
    }

    // ----- arithmetic ------------------------------------------------------------

    pub fn add(self, b: &mut FunctionBuilder, x: Value, y: Value) -> Value {
        b.ins().fadd(x, y)
    }
    pub fn sub(self, b: &mut FunctionBuilder, x: Value, y: Value) -> Value {
        b.ins().fsub(x, y)
    }
    pub fn mul(self, b: &mut FunctionBuilder, x: Value, y: Value) -> Value {
        b.ins().fmul(x, y)
    }
    pub fn div(self, b: &mut FunctionBuilder, x: Value, y: Value) -> Value {
        b.ins().fdiv(x, y)
    }
    /// `x` with its sign bits flipped. Cranelift's own `fneg` builds the
    /// sign mask in registers at every use (compare, shift, then xor: three
    /// instructions); here the mask is a constant (see `constants.rs`):
    /// one load, one xor.
    pub fn neg(self, b: &mut FunctionBuilder, x: Value) -> Value {
        let sign = self.constant(b, -0.0);
        b.ins().bxor(x, sign)
    }
    /// `x` with its sign bits cleared (as `neg`, one `and` with a constant).
    pub fn abs(self, b: &mut FunctionBuilder, x: Value) -> Value {
        let magnitude = self.constant(b, f32::from_bits(0x7fff_ffff));
        b.ins().band(x, magnitude)
    }
    pub fn sqrt(self, b: &mut FunctionBuilder, x: Value) -> Value {
        b.ins().sqrt(x)
    }
    /// NaN-propagating maximum (Cranelift's `fmax`, like the interpreter).
    pub fn max(self, b: &mut FunctionBuilder, x: Value, y: Value) -> Value {
        b.ins().fmax(x, y)
    }
    /// NaN-propagating minimum.
    pub fn min(self, b: &mut FunctionBuilder, x: Value, y: Value) -> Value {
        b.ins().fmin(x, y)
    }

    /// `x * y + z`, as one fused instruction when the host has FMA and as a
    /// rounded multiply then add otherwise (never a libm call).
    pub fn mul_add(self, b: &mut FunctionBuilder, x: Value, y: Value, z: Value) -> Value {
        if self.features.fma {
            b.ins().fma(x, y, z)
        } else {
            let p = b.ins().fmul(x, y);
            b.ins().fadd(p, z)
        }
    }

    // ----- masks -----------------------------------------------------------------

    pub fn compare(self, b: &mut FunctionBuilder, cc: FloatCC, x: Value, y: Value) -> Mask {
        let raw = b.ins().fcmp(cc, x, y);
        Mask(b.ins().bitcast(F32X4, MemFlagsData::new(), raw))
    }

    /// `mask ? on_true : on_false`, lane by lane.
    pub fn select(
        self,
        b: &mut FunctionBuilder,
        mask: Mask,
        on_true: Value,
        on_false: Value,
    ) -> Value {
        b.ins().bitselect(mask.0, on_true, on_false)
    }

    /// `mask ? x : +0.0`.
    pub fn keep(self, b: &mut FunctionBuilder, mask: Mask, x: Value) -> Value {
        b.ins().band(mask.0, x)
    }

    /// `mask ? c : +0.0` for a constant `c`.
    pub fn keep_constant(self, b: &mut FunctionBuilder, mask: Mask, c: f32) -> Value {
        let value = self.constant(b, c);
        self.keep(b, mask, value)
    }

    /// `x` with lanes `0..count` (1 to 3) replaced by -0.0, the identity of
    /// addition (`old + -0.0` is `old`, bit for bit): what a row's
    /// overlapping last vector adds into memory, so that the lanes it
    /// shares with the vector before it are added once (see
    /// `loops.rs`).
    pub fn negative_zero_in_first_lanes(
        self,
        b: &mut FunctionBuilder,
        x: Value,
        count: usize,
    ) -> Value {
        debug_assert!((1..LANES).contains(&count), "{count} lanes");
        let pattern = |first: u32, rest: u32| -> Lanes {
            std::array::from_fn(|i| if i < count { first } else { rest })
        };
        let keep = self.constants.get(b, F32X4, pattern(0, u32::MAX));
        let sign = self
            .constants
            .get(b, F32X4, pattern((-0.0f32).to_bits(), 0));
        let kept = b.ins().band(x, keep);
        b.ins().bor(kept, sign)
    }

    /// 1.0 where the mask holds, 0.0 elsewhere.
    pub fn mask_to_float(self, b: &mut FunctionBuilder, mask: Mask) -> Value {
        let one = self.constant(b, 1.0);
        self.keep(b, mask, one)
    }

    // ----- bit manipulation (exp/log) ----------------------------------------------

    pub fn float_to_bits(self, b: &mut FunctionBuilder, x: Value) -> Value {
        b.ins().bitcast(self.int_type(), MemFlagsData::new(), x)
    }

    pub fn bits_to_float(self, b: &mut FunctionBuilder, x: Value) -> Value {
        b.ins().bitcast(self.float_type(), MemFlagsData::new(), x)
    }

    /// Signed integer lanes to float lanes.
    pub fn int_to_float(self, b: &mut FunctionBuilder, x: Value) -> Value {
        b.ins().fcvt_from_sint(self.float_type(), x)
    }

    // ----- reductions ---------------------------------------------------------------

    /// Sum of the four lanes of a vector, as an `f32`.
    pub fn horizontal_sum(b: &mut FunctionBuilder, x: Value) -> Value {
        let l0 = b.ins().extractlane(x, 0);
        let l1 = b.ins().extractlane(x, 1);
        let l2 = b.ins().extractlane(x, 2);
        let l3 = b.ins().extractlane(x, 3);
        let s01 = b.ins().fadd(l0, l1);
        let s23 = b.ins().fadd(l2, l3);
        b.ins().fadd(s01, s23)
    }
}
