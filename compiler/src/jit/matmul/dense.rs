//! The dense blocked product: chunks of the sum that stay in the caches,
//! column panels of the right operand, and `R x C` register tiles of the
//! result summed with fused multiply-adds.

use super::blocked::Strided;
use super::tiles::{add_term, panels, store_sums, Panel};
use super::vector::{Tail, Vector, Ymm, Zmm};
use std::arch::x86_64::*;

/// Widest panel (in vectors) of the dense product: 48 columns with
/// AVX-512 (32 vector registers), 16 with AVX2 (16 registers). The row
/// blocks for each panel width are chosen in `panel_avx512` and
/// `panel_avx2`.
const AVX512_VECTORS: usize = 3;
const AVX2_VECTORS: usize = 2;
/// Tiles at least this many vectors wide address the rows of `a` as LLVM
/// likes (see [`row_offsets`]); narrower ones through offsets in registers.
const WIDE_TILE: usize = 3;
/// Terms (`p`) per chunk of the dense product: a panel of `b` (at most
/// 128 rows of 48 floats, 24 KB of data; up to 32 KB of cache lines when
/// rows do not start on a line) fits in the L1 cache.
const DEPTH_CHUNK: usize = 128;
/// Rows per chunk of the dense product: 256 rows of `a` (at most 128 KB)
/// fit in the L2 cache.
const ROW_CHUNK: usize = 256;
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn dense_avx512(
    m: usize,
    k: usize,
    n: usize,
    a: Strided,
    b: *const f32,
    c: *mut f32,
    accumulate: bool,
) {
    unsafe { dense_with::<Zmm, AVX512_VECTORS>(m, k, n, a, b, c, accumulate, panel_avx512) }
}

#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn dense_avx2(
    m: usize,
    k: usize,
    n: usize,
    a: Strided,
    b: *const f32,
    c: *mut f32,
    accumulate: bool,
) {
    unsafe { dense_with::<Ymm, AVX2_VECTORS>(m, k, n, a, b, c, accumulate, panel_avx2) }
}
/// The dense product in chunks of `DEPTH_CHUNK` terms (so a panel of `b`
/// stays in the L1 cache) and `ROW_CHUNK` rows (so those rows of `a` stay
/// in the L2 cache), panel by panel of columns: one panel of `b`, at most
/// `C` vectors wide, serves every row block of the chunk (`panel` computes
/// all rows of one panel).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn dense_with<V: Vector, const C: usize>(
    m: usize,
    k: usize,
    n: usize,
    a: Strided,
    b: *const f32,
    c: *mut f32,
    accumulate: bool,
    panel: unsafe fn(&Panel<V::Mask>, Shape, Strided, *const f32, *mut f32, bool),
) {
    // SAFETY (whole body): every tile reads rows `i..i + rows` of `a`,
    // rows `0..k` of `b` at columns inside the panel, and writes `c`
    // inside rows `i..i + rows` and the panel; chunks, panels and row
    // blocks stay within `m`, `k` and `n`, and partial vectors are masked.
    unsafe {
        for p0 in (0..k).step_by(DEPTH_CHUNK) {
            let depth = (k - p0).min(DEPTH_CHUNK);
            // Later chunks add to what the first one wrote.
            let accumulate = accumulate || p0 > 0;
            for i0 in (0..m).step_by(ROW_CHUNK) {
                let rows = (m - i0).min(ROW_CHUNK);
                let a = Strided {
                    ptr: a.ptr.add(i0 * a.row_stride + p0 * a.col_stride),
                    ..a
                };
                let (b, c) = (b.add(p0 * n), c.add(i0 * n));
                for mut p in panels::<V>(n, C) {
                    // Row `q` of `b` may be loaded whole across the panel
                    // while `q*n + start + vectors*LANES <= k*n`.
                    let reach = p.start + p.vectors * V::LANES;
                    let whole = (k * n).checked_sub(reach).map_or(0, |room| room / n + 1);
                    p.tail.whole_rows = whole.saturating_sub(p0).min(depth);
                    let (b, c) = (b.add(p.start), c.add(p.start));
                    panel(&p, (rows, depth, n), a, b, c, accumulate);
                }
            }
        }
    }
}

/// `(m, k, n)`: `op(a)` is `m x k`, `b` is `k x n`.
type Shape = (usize, usize, usize);

/// One panel with AVX-512: blocks of 8 rows for panels of 1 to 3 vectors
/// (at most 24 accumulators, 3 loads of `b` and a broadcast: 28 of the 32
/// registers). Measured against panels of 4 vectors in blocks of 4 rows,
/// alternating in one process (see docs/performance.md): 8 x 3 took 15-38%
/// less time on 16x128x128, 128x3200x128 (transposed left operand) and
/// 32x256x256 products, and up to 10% more on products only 16 or 32
/// terms deep.
#[target_feature(enable = "avx512f")]
unsafe fn panel_avx512(
    p: &Panel<__mmask16>,
    shape: Shape,
    a: Strided,
    b: *const f32,
    c: *mut f32,
    acc: bool,
) {
    let t = p.tail;
    // SAFETY: forwarded from `dense_with`.
    unsafe {
        match (p.vectors, p.partial) {
            (1, false) => rows_of_panel::<Zmm, 8, 1, false>(shape, a, b, c, t, acc),
            (1, true) => rows_of_panel::<Zmm, 8, 1, true>(shape, a, b, c, t, acc),
            (2, false) => rows_of_panel::<Zmm, 8, 2, false>(shape, a, b, c, t, acc),
            (2, true) => rows_of_panel::<Zmm, 8, 2, true>(shape, a, b, c, t, acc),
            (3, false) => rows_of_panel::<Zmm, 8, 3, false>(shape, a, b, c, t, acc),
            (3, true) => rows_of_panel::<Zmm, 8, 3, true>(shape, a, b, c, t, acc),
            _ => unreachable!("AVX-512 panels have 1 to 3 vectors"),
        }
    }
}

/// One panel with AVX2: blocks of 8 rows for panels of 1 vector, 6 rows
/// for 2 (at most 12 accumulators of the 16 registers).
#[target_feature(enable = "avx2,fma")]
unsafe fn panel_avx2(
    p: &Panel<__m256i>,
    shape: Shape,
    a: Strided,
    b: *const f32,
    c: *mut f32,
    acc: bool,
) {
    let t = p.tail;
    // SAFETY: forwarded from `dense_with`.
    unsafe {
        match (p.vectors, p.partial) {
            (1, false) => rows_of_panel::<Ymm, 8, 1, false>(shape, a, b, c, t, acc),
            (1, true) => rows_of_panel::<Ymm, 8, 1, true>(shape, a, b, c, t, acc),
            (2, false) => rows_of_panel::<Ymm, 6, 2, false>(shape, a, b, c, t, acc),
            (2, true) => rows_of_panel::<Ymm, 6, 2, true>(shape, a, b, c, t, acc),
            _ => unreachable!("AVX2 panels have 1 or 2 vectors"),
        }
    }
}

/// All rows of `c` for one panel: blocks of `R` rows, then the remaining
/// rows in blocks of 4, 2 and 1.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn rows_of_panel<V: Vector, const R: usize, const C: usize, const PARTIAL: bool>(
    (m, k, n): Shape,
    a: Strided,
    b: *const f32,
    c: *mut f32,
    tail: Tail<V::Mask>,
    accumulate: bool,
) {
    let mut i = 0;
    // SAFETY: see `dense_with`; each call covers rows `i..i + R` (or 4, 2, 1).
    unsafe {
        let at = |i: usize| a.ptr.add(i * a.row_stride);
        while i + R <= m {
            tile::<V, R, C, PARTIAL>(k, at(i), a, b, n, c.add(i * n), tail, accumulate);
            i += R;
        }
        if R > 4 && i + 4 <= m {
            tile::<V, 4, C, PARTIAL>(k, at(i), a, b, n, c.add(i * n), tail, accumulate);
            i += 4;
        }
        if R > 2 && i + 2 <= m {
            tile::<V, 2, C, PARTIAL>(k, at(i), a, b, n, c.add(i * n), tail, accumulate);
            i += 2;
        }
        if i < m {
            tile::<V, 1, C, PARTIAL>(k, at(i), a, b, n, c.add(i * n), tail, accumulate);
        }
    }
}

/// `R x C` vectors of `c`, starting at `c` (row stride `n`), summed in
/// registers over `p = 0..k`: `a_rows` points at `op(a)[i, 0]`, `b` at the
/// panel's first column of row 0 (row stride `n`).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn tile<V: Vector, const R: usize, const C: usize, const PARTIAL: bool>(
    k: usize,
    a_rows: *const f32,
    a: Strided,
    b: *const f32,
    n: usize,
    c: *mut f32,
    tail: Tail<V::Mask>,
    accumulate: bool,
) {
    // SAFETY: see `dense_with`.
    unsafe {
        let mut sums = [[V::zero(); C]; R];
        let mut a_col = a_rows;
        let mut b_row = b;
        // A partial last vector of `b` is loaded whole in the first
        // `whole_rows` terms (see `Tail::whole_rows`): its extra lanes only
        // reach lanes of `sums` that are never stored.
        let whole_rows = if PARTIAL { tail.whole_rows.min(k) } else { k };
        let offsets = row_offsets::<R, C>(a.row_stride);
        for _ in 0..whole_rows {
            add_term::<V, R, C, false>(&mut sums, a_col, &offsets, b_row, tail);
            a_col = a_col.add(a.col_stride);
            b_row = b_row.add(n);
        }
        for _ in whole_rows..k {
            add_term::<V, R, C, PARTIAL>(&mut sums, a_col, &offsets, b_row, tail);
            a_col = a_col.add(a.col_stride);
            b_row = b_row.add(n);
        }
        for (r, sums) in sums.iter().enumerate() {
            store_sums::<V, C, PARTIAL>(sums, c.add(r * n), tail, accumulate);
        }
    }
}

/// The byte offsets of `R` rows of `op(a)`, `row_stride` floats apart.
///
/// For tiles narrower than [`WIDE_TILE`] vectors they are hidden from the
/// optimiser (`black_box`), so that each stays in a general-purpose
/// register and every broadcast of `a` is one `base + offset` load.
/// Otherwise LLVM walks the rows with a chain of additions, one per row,
/// which an 8 x 1 tile (8 multiply-adds per term) cannot hide (measured on
/// AVX-512 in three runs: 16x128 @ 128x10 from 0.76-0.88 to 0.50-0.80 µs,
/// 16x64 @ 64x10 from 0.39-0.47 to 0.27-0.44 µs). Wide tiles keep the
/// chain behind their 24 multiply-adds per term, and with R more live
/// registers their loop would run short of general-purpose registers (not
/// measured). This is a hint to code generation: a compiler update could
/// undo it without changing any result, only the speed.
#[inline(always)]
fn row_offsets<const R: usize, const C: usize>(row_stride: usize) -> [usize; R] {
    let bytes = row_stride * std::mem::size_of::<f32>();
    std::array::from_fn(|r| {
        if C < WIDE_TILE {
            std::hint::black_box(r * bytes)
        } else {
            r * bytes
        }
    })
}
