//! The zero-skipping blocked product: each row's nonzero terms are
//! gathered, then every column panel of that row is summed over them.

use super::blocked::Strided;
use super::tiles::{add_term, panels, store_sums};
use super::vector::{Tail, Vector, Ymm, Zmm};

/// Panel width (in vectors) of the zero-skipping kernel.
const SPARSE_VECTORS: usize = 4;

#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn sparse_avx512(
    m: usize,
    k: usize,
    n: usize,
    a: Strided,
    b: *const f32,
    c: *mut f32,
    accumulate: bool,
    terms: &mut Vec<(usize, f32)>,
) {
    unsafe { sparse_with::<Zmm>(m, k, n, a, b, c, accumulate, terms) }
}

#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn sparse_avx2(
    m: usize,
    k: usize,
    n: usize,
    a: Strided,
    b: *const f32,
    c: *mut f32,
    accumulate: bool,
    terms: &mut Vec<(usize, f32)>,
) {
    unsafe { sparse_with::<Ymm>(m, k, n, a, b, c, accumulate, terms) }
}
/// The zero-skipping product, one row of `c` at a time: the nonzero terms
/// of row `i` are gathered (see [`gather_row`]), then each panel of the row
/// is summed in registers over them.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn sparse_with<V: Vector>(
    m: usize,
    k: usize,
    n: usize,
    a: Strided,
    b: *const f32,
    c: *mut f32,
    accumulate: bool,
    terms: &mut Vec<(usize, f32)>,
) {
    terms.clear();
    terms.resize(k, (0, 0.0));
    // SAFETY: row `i < m` of `a` has `k` entries; the terms index rows
    // `p < k` of `b`; panels stay within `n` columns (masked tails).
    unsafe {
        for i in 0..m {
            let count = gather_row::<V>(a.ptr.add(i * a.row_stride), k, a.col_stride, n, terms);
            let terms = &terms[..count];
            let c_row = c.add(i * n);
            for panel in panels::<V>(n, SPARSE_VECTORS) {
                let (b, c) = (b.add(panel.start), c_row.add(panel.start));
                match (panel.vectors, panel.partial) {
                    (1, false) => sparse_panel::<V, 1, false>(terms, b, c, panel.tail, accumulate),
                    (1, true) => sparse_panel::<V, 1, true>(terms, b, c, panel.tail, accumulate),
                    (2, false) => sparse_panel::<V, 2, false>(terms, b, c, panel.tail, accumulate),
                    (2, true) => sparse_panel::<V, 2, true>(terms, b, c, panel.tail, accumulate),
                    (3, false) => sparse_panel::<V, 3, false>(terms, b, c, panel.tail, accumulate),
                    (3, true) => sparse_panel::<V, 3, true>(terms, b, c, panel.tail, accumulate),
                    (4, false) => sparse_panel::<V, 4, false>(terms, b, c, panel.tail, accumulate),
                    (4, true) => sparse_panel::<V, 4, true>(terms, b, c, panel.tail, accumulate),
                    _ => unreachable!("panels have 1 to 4 vectors"),
                }
            }
        }
    }
}

/// Writes the nonzero entries of one row of `a` (`k` entries `col_stride`
/// apart) into `terms` as `(p * n, a[i, p])` (the offset of row `p` of
/// `b`, and the factor), in ascending `p`; returns how many there are. A
/// contiguous row is scanned a vector at a time, visiting only the nonzero
/// lanes; otherwise entries are written without branches (so sparse spike
/// rows cost no mispredictions) and the count advances past nonzero ones.
///
/// # Safety
/// `row` addresses the `k` entries and `terms` holds at least `k`.
#[inline(always)]
unsafe fn gather_row<V: Vector>(
    row: *const f32,
    k: usize,
    col_stride: usize,
    n: usize,
    terms: &mut [(usize, f32)],
) -> usize {
    let (mut count, mut p) = (0, 0);
    // SAFETY: see above; `count <= p < k` at every write.
    unsafe {
        if col_stride == 1 {
            while p + V::LANES <= k {
                let mut bits = V::load(row.add(p)).nonzero_bits();
                while bits != 0 {
                    let q = p + bits.trailing_zeros() as usize;
                    *terms.get_unchecked_mut(count) = (q * n, *row.add(q));
                    count += 1;
                    bits &= bits - 1;
                }
                p += V::LANES;
            }
        }
        while p < k {
            let x = *row.add(p * col_stride);
            *terms.get_unchecked_mut(count) = (p * n, x);
            count += usize::from(x != 0.0);
            p += 1;
        }
    }
    count
}

/// `C` vectors of one row of `c`: the sum over `terms` (float offsets
/// `p * n` of rows of `b`, and the factors `a[i, p]`) of `x * b[p, panel]`.
#[inline(always)]
unsafe fn sparse_panel<V: Vector, const C: usize, const PARTIAL: bool>(
    terms: &[(usize, f32)],
    b: *const f32,
    c: *mut f32,
    tail: Tail<V::Mask>,
    accumulate: bool,
) {
    // SAFETY: see `sparse_with`.
    unsafe {
        let mut sums = [[V::zero(); C]; 1];
        for &(b_offset, x) in terms {
            // A one-row tile: `x` stands in for the term's column of `a`.
            add_term::<V, 1, C, PARTIAL>(&mut sums, &x, &[0], b.add(b_offset), tail);
        }
        store_sums::<V, C, PARTIAL>(&sums[0], c, tail, accumulate);
    }
}
