//! Width-generic instruction helpers: the same element computation is
//! emitted once for four lanes (`f32x4`, the loop body) and once for one lane
//! (`f32`, the scalar tail of a loop whose length is not a multiple of four).
//!
//! Comparisons produce a [`Mask`]: on vectors an all-ones/all-zeros `f32x4`
//! (the `i32x4` result of `fcmp` reinterpreted), on scalars the `i8` truth
//! value of `fcmp`. Selecting and masking go through this type so callers
//! never care which width they emit.

use cranelift_codegen::ir::condcodes::FloatCC;
use cranelift_codegen::ir::types::{F32, F32X4, I32, I32X4};
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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Width {
    /// Four lanes (`f32x4`).
    Vector,
    /// One lane (`f32`).
    Scalar,
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

/// The instruction helpers for one width.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Simd {
    pub width: Width,
    pub features: Features,
}

impl Simd {
    pub fn new(width: Width, features: Features) -> Simd {
        Simd { width, features }
    }

    /// The float type of one value at this width.
    pub fn float_type(self) -> Type {
        match self.width {
            Width::Vector => F32X4,
            Width::Scalar => F32,
        }
    }

    /// The integer type with the same lane layout.
    pub fn int_type(self) -> Type {
        match self.width {
            Width::Vector => I32X4,
            Width::Scalar => I32,
        }
    }

    // ----- constants and memory ----------------------------------------------

    pub fn constant(self, b: &mut FunctionBuilder, x: f32) -> Value {
        let scalar = b.ins().f32const(x);
        self.splat(b, scalar)
    }

    pub fn int_constant(self, b: &mut FunctionBuilder, x: i32) -> Value {
        let scalar = b.ins().iconst(I32, i64::from(x));
        match self.width {
            Width::Vector => b.ins().splat(I32X4, scalar),
            Width::Scalar => scalar,
        }
    }

    /// Broadcasts an `f32` to this width.
    pub fn splat(self, b: &mut FunctionBuilder, scalar: Value) -> Value {
        match self.width {
            Width::Vector => b.ins().splat(F32X4, scalar),
            Width::Scalar => scalar,
        }
    }

    /// Loads `lanes()` consecutive floats at `base + offset` bytes.
    pub fn load(self, b: &mut FunctionBuilder, base: Value, offset: i32) -> Value {
        b.ins()
            .load(self.float_type(), element_flags(), base, offset)
    }

    pub fn store(self, b: &mut FunctionBuilder, x: Value, base: Value, offset: i32) {
        b.ins().store(element_flags(), x, base, offset);
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
    pub fn neg(self, b: &mut FunctionBuilder, x: Value) -> Value {
        b.ins().fneg(x)
    }
    pub fn abs(self, b: &mut FunctionBuilder, x: Value) -> Value {
        b.ins().fabs(x)
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
        match self.width {
            Width::Vector => Mask(b.ins().bitcast(F32X4, MemFlagsData::new(), raw)),
            Width::Scalar => Mask(raw),
        }
    }

    /// `mask ? on_true : on_false`, lane by lane.
    pub fn select(self, b: &mut FunctionBuilder, mask: Mask, on_true: Value, on_false: Value) -> Value {
        match self.width {
            Width::Vector => b.ins().bitselect(mask.0, on_true, on_false),
            Width::Scalar => b.ins().select(mask.0, on_true, on_false),
        }
    }

    /// `mask ? x : +0.0`.
    pub fn keep(self, b: &mut FunctionBuilder, mask: Mask, x: Value) -> Value {
        match self.width {
            Width::Vector => b.ins().band(mask.0, x),
            Width::Scalar => {
                let zero = b.ins().f32const(0.0);
                b.ins().select(mask.0, x, zero)
            }
        }
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
