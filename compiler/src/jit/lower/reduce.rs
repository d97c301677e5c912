//! Codegen support for reduce_sum, which is a *sink* of the loop over its
//! operand's shape (see `loops.rs`), never a loop of its own:
//!
//! - reducing the innermost axis (after collapsing): each row sums into one
//!   target element. The vector part accumulates in an `f32x4` register,
//!   the four lanes are added, then the tail's new lanes in order. This
//!   reassociates the sum (the interpreter adds elements one by one), so
//!   results differ from the interpreter's by rounding only; rows shorter
//!   than four elements are summed exactly in the interpreter's order.
//! - reducing any other axis: the target is filled with the sums' start
//!   before the loop and each position adds its value into the target
//!   element it maps to. The loop walks positions in row-major order, so
//!   every target element receives its terms in the interpreter's order:
//!   bit-identical results.
//!
//! Sums start where the interpreter's do (`interp::sum_start`: `-0.0`, an
//! empty one `+0.0`).
//! This file holds the filling; the accumulation lives with the loop body.

use super::loops::vector_loop;
use super::simd::{element_flags, Simd, LANES};
use super::Emitter;
use cranelift_codegen::ir::{InstBuilder, Value as ClifValue};

/// Fills `len` floats at `base` with `value`. Short buffers get
/// straight-line stores; longer ones a do-while loop of vector stores and a
/// scalar tail.
pub(crate) fn fill(e: &mut Emitter, base: ClifValue, len: usize, value: f32) {
    let vector = Simd::new(e.features, e.constants);
    let chunks = len / LANES;
    const UNROLLED_CHUNKS: usize = 4;
    if chunks > 0 {
        let splat = vector.constant(&mut e.b, value);
        if chunks <= UNROLLED_CHUNKS {
            for c in 0..chunks {
                vector.store(&mut e.b, splat, base, (4 * LANES * c) as i32);
            }
        } else {
            vector_loop(e, chunks, |e, offset| {
                let address = e.b.ins().iadd(base, offset);
                vector.store(&mut e.b, splat, address, 0);
            });
        }
    }
    if !len.is_multiple_of(LANES) {
        let scalar = e.b.ins().f32const(value);
        for t in chunks * LANES..len {
            e.b.ins()
                .store(element_flags(), scalar, base, (4 * t) as i32);
        }
    }
}
