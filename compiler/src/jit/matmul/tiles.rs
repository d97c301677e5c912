//! Building blocks shared by the dense and zero-skipping kernels: column
//! panels with a masked last vector, and one term added to a tile of sums
//! held in registers.

use super::vector::{Tail, Vector};

/// Where one panel of columns starts and how its last vector is masked.
#[derive(Clone, Copy)]
pub(super) struct Panel<M> {
    /// First column.
    pub(super) start: usize,
    /// Vectors across the panel (the last one possibly partial).
    pub(super) vectors: usize,
    /// Whether the last vector is partial, and its lanes.
    pub(super) partial: bool,
    pub(super) tail: Tail<M>,
}

/// Splits `n` columns into panels of at most `max_vectors` vectors.
#[inline(always)]
pub(super) unsafe fn panels<V: Vector>(
    n: usize,
    max_vectors: usize,
) -> impl Iterator<Item = Panel<V::Mask>> {
    let width = max_vectors * V::LANES;
    (0..n).step_by(width).map(move |start| {
        let cols = (n - start).min(width);
        let tail = cols % V::LANES;
        Panel {
            start,
            vectors: cols.div_ceil(V::LANES),
            partial: tail != 0,
            tail: {
                let count = if tail == 0 { V::LANES } else { tail };
                // SAFETY: `first_lanes` takes 1..=LANES.
                let mask = unsafe { V::first_lanes(count) };
                Tail {
                    mask,
                    count,
                    whole_rows: 0,
                }
            },
        }
    })
}

/// Adds one term `p` to the `R x C` sums of [`tile`]: row `r` of the
/// term's column of `op(a)` is at `a_col` plus `offsets[r]` bytes,
/// `b_row` points at the panel's first column of row `p` of `b`. With
/// `PARTIAL`, the last vector of the row of `b` is loaded masked.
///
/// A named function rather than a closure, so that `#[inline(always)]`
/// reaches down to the intrinsics: a closure written in `tile` has only
/// `tile`'s target features (none of its own; it is inlined into the
/// `avx512f` or `avx2` panel functions), so when LLVM left such a closure
/// out of line every intrinsic in it became a call (measured in a build
/// with more kernel instantiations: 2 GFLOP/s instead of ~100).
///
/// # Safety
/// As for the callers (`dense_with`, `sparse_with`): `a_col + offsets[r]`
/// and the `C` vectors from `b_row` are readable.
#[inline(always)]
pub(super) unsafe fn add_term<V: Vector, const R: usize, const C: usize, const PARTIAL: bool>(
    sums: &mut [[V; C]; R],
    a_col: *const f32,
    offsets: &[usize; R],
    b_row: *const f32,
    tail: Tail<V::Mask>,
) {
    // SAFETY: see above.
    unsafe {
        let mut row = [V::zero(); C];
        for (v, x) in row.iter_mut().enumerate() {
            let p = b_row.add(v * V::LANES);
            *x = if PARTIAL && v == C - 1 {
                V::load_tail(p, tail)
            } else {
                V::load(p)
            };
        }
        for (sums, &offset) in sums.iter_mut().zip(offsets) {
            let x = V::splat(*a_col.byte_add(offset));
            for (sum, &y) in sums.iter_mut().zip(&row) {
                *sum = x.mul_add(y, *sum);
            }
        }
    }
}

/// Writes one row of `C` sums to `c` (adds them to what is there when
/// `accumulate`), the last vector masked with `PARTIAL`.
///
/// # Safety
/// The `C` vectors at `c` (the last one partial with `PARTIAL`) are
/// writable.
#[inline(always)]
pub(super) unsafe fn store_sums<V: Vector, const C: usize, const PARTIAL: bool>(
    sums: &[V; C],
    c: *mut f32,
    tail: Tail<V::Mask>,
    accumulate: bool,
) {
    // SAFETY: see above.
    unsafe {
        for (v, &sum) in sums.iter().enumerate() {
            let p = c.add(v * V::LANES);
            let partial = PARTIAL && v == C - 1;
            let sum = if !accumulate {
                sum
            } else if partial {
                V::load_tail(p, tail).add(sum)
            } else {
                V::load(p).add(sum)
            };
            if partial {
                sum.store_tail(p, tail);
            } else {
                sum.store(p);
            }
        }
    }
}
