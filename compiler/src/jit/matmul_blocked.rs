//! Matrix products without packing, for the products a training step runs
//! every timestep: few rows (the batch), and right operands (weights,
//! gradients) that fit in the L2 cache.
//!
//! A packed GEMM copies both operands into blocked buffers before
//! multiplying; at these sizes the copying costs as much as the product
//! (measured: 16x128 @ 128x128, packing ~40% of the time). Here nothing is
//! copied: `c[i0..i0+R, j0..j0+W]` is held in registers (R rows, W = C
//! vectors of columns), and for each `p` one row slice of `b` is loaded and
//! multiplied by `a[i, p]` broadcast, with fused multiply-adds. The left
//! operand is read through strides, so a transposed left operand costs
//! nothing; a transposed right operand needs a copy (see
//! `matmul_shims.rs`), made with [`transpose`].
//!
//! The zero-skipping variant (`sparse`) computes one row of `c` at a time
//! from the nonzero entries of that row of `a`: spike trains are mostly
//! zeros, so it does a fraction of the dense work. Skipping `0 * b[p, j]`
//! changes nothing unless `b` holds an infinity or NaN there.
//!
//! Results differ from the interpreter's by float reassociation: products
//! are fused with the additions (FMA), and accumulating outputs add the
//! whole sum at the end, as the interpreter does.
//!
//! Kernels exist for AVX-512F (16-lane vectors) and AVX2 with FMA (8
//! lanes); [`host_simd`] says which one the host runs, or none (then the
//! caller uses another method).

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// The instruction set a kernel is compiled for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Simd {
    Avx512,
    Avx2Fma,
}

impl Simd {
    /// Floats per vector register.
    pub fn lanes(self) -> usize {
        match self {
            Simd::Avx512 => 16,
            Simd::Avx2Fma => 8,
        }
    }
}

/// The best instruction set the host offers these kernels, if any.
pub(crate) fn host_simd() -> Option<Simd> {
    #[cfg(target_arch = "x86_64")]
    {
        // Both kernel sets use AVX2 for transposes.
        let avx2_fma =
            std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma");
        if avx2_fma && std::is_x86_feature_detected!("avx512f") {
            return Some(Simd::Avx512);
        }
        if avx2_fma {
            return Some(Simd::Avx2Fma);
        }
    }
    None
}

/// A left operand seen through strides: element `(i, p)` of `op(a)` is at
/// `ptr + i * row_stride + p * col_stride`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Strided {
    pub ptr: *const f32,
    pub row_stride: usize,
    pub col_stride: usize,
}

/// `c = op(a) @ b` (or `c += ...` when `accumulate`), `op(a)` being
/// `m x k` and `b` a row-major `k x n` matrix, `c` row-major `m x n`.
///
/// # Safety
/// The host supports `simd`; `a` addresses an `m x k` matrix, `b` holds
/// `k * n` floats and `c` `m * n` floats, `c` overlapping neither.
pub(crate) unsafe fn dense(
    simd: Simd,
    (m, k, n): (usize, usize, usize),
    a: Strided,
    b: *const f32,
    c: *mut f32,
    accumulate: bool,
) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: forwarded from the caller.
    unsafe {
        match simd {
            Simd::Avx512 => dense_avx512(m, k, n, a, b, c, accumulate),
            Simd::Avx2Fma => dense_avx2(m, k, n, a, b, c, accumulate),
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (simd, m, k, n, a, b, c, accumulate);
        unreachable!("host_simd() is None off x86-64");
    }
}

/// Like [`dense`], skipping the zero entries of `op(a)`. `terms` is reused
/// working memory.
///
/// # Safety
/// As for [`dense`].
pub(crate) unsafe fn sparse(
    simd: Simd,
    (m, k, n): (usize, usize, usize),
    a: Strided,
    b: *const f32,
    c: *mut f32,
    accumulate: bool,
    terms: &mut Vec<(usize, f32)>,
) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: forwarded from the caller.
    unsafe {
        match simd {
            Simd::Avx512 => sparse_avx512(m, k, n, a, b, c, accumulate, terms),
            Simd::Avx2Fma => sparse_avx2(m, k, n, a, b, c, accumulate, terms),
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (simd, m, k, n, a, b, c, accumulate, terms);
        unreachable!("host_simd() is None off x86-64");
    }
}

/// Writes (or, with `accumulate`, adds) the `cols x rows` transpose of the
/// row-major `rows x cols` matrix `src` into `dst`.
///
/// # Safety
/// `src` holds `rows * cols` floats and `dst` as many, not overlapping; on
/// x86-64 the host has AVX2 (any host `host_simd` accepts).
pub(crate) unsafe fn transpose(
    src: *const f32,
    rows: usize,
    cols: usize,
    dst: *mut f32,
    accumulate: bool,
) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: forwarded from the caller.
    unsafe {
        transpose_avx2(src, rows, cols, dst, accumulate)
    }
    #[cfg(not(target_arch = "x86_64"))]
    // SAFETY: forwarded from the caller.
    unsafe {
        transpose_block(src, cols, dst, rows, (rows, cols), accumulate)
    }
}

/// Blocks of 8 x 8 through registers; the ragged edges element by element.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn transpose_avx2(
    src: *const f32,
    rows: usize,
    cols: usize,
    dst: *mut f32,
    accumulate: bool,
) {
    let (full_rows, full_cols) = (rows / 8 * 8, cols / 8 * 8);
    // SAFETY: blocks stay within `rows x cols` of `src` and the transposed
    // extent of `dst`.
    unsafe {
        for r in (0..full_rows).step_by(8) {
            for c in (0..full_cols).step_by(8) {
                transpose_8x8(
                    src.add(r * cols + c),
                    cols,
                    dst.add(c * rows + r),
                    rows,
                    accumulate,
                );
            }
            let edge = (8, cols - full_cols);
            let (s, d) = (src.add(r * cols + full_cols), dst.add(full_cols * rows + r));
            transpose_block(s, cols, d, rows, edge, accumulate);
        }
        let edge = (rows - full_rows, cols);
        let (s, d) = (src.add(full_rows * cols), dst.add(full_rows));
        transpose_block(s, cols, d, rows, edge, accumulate);
    }
}

/// One 8 x 8 block: `dst[c * dst_stride + r] (+)= src[r * src_stride + c]`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn transpose_8x8(
    src: *const f32,
    src_stride: usize,
    dst: *mut f32,
    dst_stride: usize,
    accumulate: bool,
) {
    // SAFETY: the caller guarantees 8 rows of 8 floats at both ends.
    unsafe {
        let row = |r: usize| _mm256_loadu_ps(src.add(r * src_stride));
        let (r0, r1, r2, r3) = (row(0), row(1), row(2), row(3));
        let (r4, r5, r6, r7) = (row(4), row(5), row(6), row(7));
        // Interleave pairs of rows, then pairs of pairs, then halves.
        let (t0, t1) = (_mm256_unpacklo_ps(r0, r1), _mm256_unpackhi_ps(r0, r1));
        let (t2, t3) = (_mm256_unpacklo_ps(r2, r3), _mm256_unpackhi_ps(r2, r3));
        let (t4, t5) = (_mm256_unpacklo_ps(r4, r5), _mm256_unpackhi_ps(r4, r5));
        let (t6, t7) = (_mm256_unpacklo_ps(r6, r7), _mm256_unpackhi_ps(r6, r7));
        let (u0, u1) = (
            _mm256_shuffle_ps::<0x44>(t0, t2),
            _mm256_shuffle_ps::<0xEE>(t0, t2),
        );
        let (u2, u3) = (
            _mm256_shuffle_ps::<0x44>(t1, t3),
            _mm256_shuffle_ps::<0xEE>(t1, t3),
        );
        let (u4, u5) = (
            _mm256_shuffle_ps::<0x44>(t4, t6),
            _mm256_shuffle_ps::<0xEE>(t4, t6),
        );
        let (u6, u7) = (
            _mm256_shuffle_ps::<0x44>(t5, t7),
            _mm256_shuffle_ps::<0xEE>(t5, t7),
        );
        let columns = [
            _mm256_permute2f128_ps::<0x20>(u0, u4),
            _mm256_permute2f128_ps::<0x20>(u1, u5),
            _mm256_permute2f128_ps::<0x20>(u2, u6),
            _mm256_permute2f128_ps::<0x20>(u3, u7),
            _mm256_permute2f128_ps::<0x31>(u0, u4),
            _mm256_permute2f128_ps::<0x31>(u1, u5),
            _mm256_permute2f128_ps::<0x31>(u2, u6),
            _mm256_permute2f128_ps::<0x31>(u3, u7),
        ];
        for (c, column) in columns.into_iter().enumerate() {
            let p = dst.add(c * dst_stride);
            let value = if accumulate {
                _mm256_add_ps(_mm256_loadu_ps(p), column)
            } else {
                column
            };
            _mm256_storeu_ps(p, value);
        }
    }
}

/// `dst[c * dst_stride + r] (+)= src[r * src_stride + c]` for `r, c` in
/// `0..rows x 0..cols`, element by element.
unsafe fn transpose_block(
    src: *const f32,
    src_stride: usize,
    dst: *mut f32,
    dst_stride: usize,
    (rows, cols): (usize, usize),
    accumulate: bool,
) {
    // SAFETY: the caller guarantees the extents.
    unsafe {
        for r in 0..rows {
            for c in 0..cols {
                let x = *src.add(r * src_stride + c);
                let p = dst.add(c * dst_stride + r);
                *p = if accumulate { *p + x } else { x };
            }
        }
    }
}

/// One SIMD register of floats and the operations the kernels need.
#[cfg(target_arch = "x86_64")]
trait Vector: Copy {
    const LANES: usize;
    type Mask: Copy;
    /// The mask selecting the first `count` lanes (`1..=LANES`).
    unsafe fn first_lanes(count: usize) -> Self::Mask;
    unsafe fn zero() -> Self;
    unsafe fn splat(x: f32) -> Self;
    unsafe fn load(p: *const f32) -> Self;
    /// Loads the masked lanes (others zero), touching no other memory.
    unsafe fn load_first(p: *const f32, mask: Self::Mask) -> Self;
    unsafe fn store(self, p: *mut f32);
    unsafe fn store_first(self, p: *mut f32, mask: Self::Mask);
    /// `self * b + c`, rounded once.
    unsafe fn mul_add(self, b: Self, c: Self) -> Self;
    unsafe fn add(self, b: Self) -> Self;
    /// Bit `l` set when lane `l` is not zero (NaN counts as nonzero).
    unsafe fn nonzero_bits(self) -> u32;

    /// Loads the first `tail.count` lanes (others zero). A masked access
    /// whose masked-off lanes reach into a page the others do not touch
    /// costs a microcode assist when that page is not accessible (measured:
    /// a 100x2 @ 2x3 product took 3.4 us instead of 0.3 us with its right
    /// operand ending a page), so such accesses go through a copy.
    #[inline(always)]
    unsafe fn load_tail(p: *const f32, tail: Tail<Self::Mask>) -> Self {
        unsafe {
            if tail_leaves_page(p, tail.count, Self::LANES) {
                let mut lanes = [0.0f32; 16];
                std::ptr::copy_nonoverlapping(p, lanes.as_mut_ptr(), tail.count);
                Self::load(lanes.as_ptr())
            } else {
                Self::load_first(p, tail.mask)
            }
        }
    }

    /// Stores the first `tail.count` lanes (see [`Vector::load_tail`]).
    #[inline(always)]
    unsafe fn store_tail(self, p: *mut f32, tail: Tail<Self::Mask>) {
        unsafe {
            if tail_leaves_page(p, tail.count, Self::LANES) {
                let mut lanes = [0.0f32; 16];
                self.store(lanes.as_mut_ptr());
                std::ptr::copy_nonoverlapping(lanes.as_ptr(), p, tail.count);
            } else {
                self.store_first(p, tail.mask);
            }
        }
    }
}

/// The lanes of a partial vector: a mask selecting the first `count`.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
struct Tail<M> {
    mask: M,
    count: usize,
    /// Leading rows of the right operand (from the current chunk's first)
    /// whose partial vector may be loaded whole, its lanes past the panel
    /// still inside the operand (in the rows that follow).
    whole_rows: usize,
}

/// Whether floats `count..lanes` from `p` lie (partly) in a later page
/// than floats `0..count`.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn tail_leaves_page(p: *const f32, count: usize, lanes: usize) -> bool {
    const PAGE_BITS: u32 = 12;
    let last_used = p as usize + 4 * count - 1;
    let last = p as usize + 4 * lanes - 1;
    (last_used ^ last) >> PAGE_BITS != 0
}

#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
struct Zmm(__m512);

// The methods are inlined into the `avx512f` functions below, where the
// intrinsics are available; they are only ever called from there.
#[cfg(target_arch = "x86_64")]
impl Vector for Zmm {
    const LANES: usize = 16;
    type Mask = __mmask16;
    #[inline(always)]
    unsafe fn first_lanes(count: usize) -> __mmask16 {
        ((1u32 << count) - 1) as __mmask16
    }
    #[inline(always)]
    unsafe fn zero() -> Zmm {
        Zmm(_mm512_setzero_ps())
    }
    #[inline(always)]
    unsafe fn splat(x: f32) -> Zmm {
        Zmm(_mm512_set1_ps(x))
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Zmm {
        unsafe { Zmm(_mm512_loadu_ps(p)) }
    }
    #[inline(always)]
    unsafe fn load_first(p: *const f32, mask: __mmask16) -> Zmm {
        unsafe { Zmm(_mm512_maskz_loadu_ps(mask, p)) }
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        unsafe { _mm512_storeu_ps(p, self.0) }
    }
    #[inline(always)]
    unsafe fn store_first(self, p: *mut f32, mask: __mmask16) {
        unsafe { _mm512_mask_storeu_ps(p, mask, self.0) }
    }
    #[inline(always)]
    unsafe fn mul_add(self, b: Zmm, c: Zmm) -> Zmm {
        Zmm(_mm512_fmadd_ps(self.0, b.0, c.0))
    }
    #[inline(always)]
    unsafe fn add(self, b: Zmm) -> Zmm {
        Zmm(_mm512_add_ps(self.0, b.0))
    }
    #[inline(always)]
    unsafe fn nonzero_bits(self) -> u32 {
        _mm512_cmp_ps_mask::<_CMP_NEQ_UQ>(self.0, _mm512_setzero_ps()) as u32
    }
}

#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
struct Ymm(__m256);

#[cfg(target_arch = "x86_64")]
impl Vector for Ymm {
    const LANES: usize = 8;
    type Mask = __m256i;
    #[inline(always)]
    unsafe fn first_lanes(count: usize) -> __m256i {
        let lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        _mm256_cmpgt_epi32(_mm256_set1_epi32(count as i32), lanes)
    }
    #[inline(always)]
    unsafe fn zero() -> Ymm {
        Ymm(_mm256_setzero_ps())
    }
    #[inline(always)]
    unsafe fn splat(x: f32) -> Ymm {
        Ymm(_mm256_set1_ps(x))
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Ymm {
        unsafe { Ymm(_mm256_loadu_ps(p)) }
    }
    #[inline(always)]
    unsafe fn load_first(p: *const f32, mask: __m256i) -> Ymm {
        unsafe { Ymm(_mm256_maskload_ps(p, mask)) }
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        unsafe { _mm256_storeu_ps(p, self.0) }
    }
    #[inline(always)]
    unsafe fn store_first(self, p: *mut f32, mask: __m256i) {
        unsafe { _mm256_maskstore_ps(p, mask, self.0) }
    }
    #[inline(always)]
    unsafe fn mul_add(self, b: Ymm, c: Ymm) -> Ymm {
        Ymm(_mm256_fmadd_ps(self.0, b.0, c.0))
    }
    #[inline(always)]
    unsafe fn add(self, b: Ymm) -> Ymm {
        Ymm(_mm256_add_ps(self.0, b.0))
    }
    #[inline(always)]
    unsafe fn nonzero_bits(self) -> u32 {
        let nonzero = _mm256_cmp_ps::<_CMP_NEQ_UQ>(self.0, _mm256_setzero_ps());
        _mm256_movemask_ps(nonzero) as u32
    }
}

/// Widest panel (in vectors) of the dense product: 48 columns with
/// AVX-512 (32 vector registers), 16 with AVX2 (16 registers). The row
/// blocks for each panel width are chosen in `panel_avx512` and
/// `panel_avx2`.
#[cfg(target_arch = "x86_64")]
const AVX512_VECTORS: usize = 3;
#[cfg(target_arch = "x86_64")]
const AVX2_VECTORS: usize = 2;
/// Tiles at least this many vectors wide address the rows of `a` as LLVM
/// likes (see [`row_offsets`]); narrower ones through offsets in registers.
#[cfg(target_arch = "x86_64")]
const WIDE_TILE: usize = 3;
/// Terms (`p`) per chunk of the dense product: a panel of `b` (at most
/// 128 rows of 48 floats, 24 KB of data; up to 32 KB of cache lines when
/// rows do not start on a line) fits in the L1 cache.
#[cfg(target_arch = "x86_64")]
const DEPTH_CHUNK: usize = 128;
/// Rows per chunk of the dense product: 256 rows of `a` (at most 128 KB)
/// fit in the L2 cache.
#[cfg(target_arch = "x86_64")]
const ROW_CHUNK: usize = 256;
/// Panel width (in vectors) of the zero-skipping kernel.
#[cfg(target_arch = "x86_64")]
const SPARSE_VECTORS: usize = 4;

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
unsafe fn dense_avx512(
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

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
unsafe fn dense_avx2(
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

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
unsafe fn sparse_avx512(
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

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
unsafe fn sparse_avx2(
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

/// Where one panel of columns starts and how its last vector is masked.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
struct Panel<M> {
    /// First column.
    start: usize,
    /// Vectors across the panel (the last one possibly partial).
    vectors: usize,
    /// Whether the last vector is partial, and its lanes.
    partial: bool,
    tail: Tail<M>,
}

/// Splits `n` columns into panels of at most `max_vectors` vectors.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn panels<V: Vector>(n: usize, max_vectors: usize) -> impl Iterator<Item = Panel<V::Mask>> {
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

/// The dense product in chunks of `DEPTH_CHUNK` terms (so a panel of `b`
/// stays in the L1 cache) and `ROW_CHUNK` rows (so those rows of `a` stay
/// in the L2 cache), panel by panel of columns: one panel of `b`, at most
/// `C` vectors wide, serves every row block of the chunk (`panel` computes
/// all rows of one panel).
#[cfg(target_arch = "x86_64")]
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
#[cfg(target_arch = "x86_64")]
type Shape = (usize, usize, usize);

/// One panel with AVX-512: blocks of 8 rows for panels of 1 to 3 vectors
/// (at most 24 accumulators, 3 loads of `b` and a broadcast: 28 of the 32
/// registers). Measured against panels of 4 vectors in blocks of 4 rows,
/// alternating in one process (see docs/performance.md): 8 x 3 took 15-38%
/// less time on 16x128x128, 128x3200x128 (transposed left operand) and
/// 32x256x256 products, and up to 10% more on products only 16 or 32
/// terms deep.
#[cfg(target_arch = "x86_64")]
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
#[cfg(target_arch = "x86_64")]
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
#[cfg(target_arch = "x86_64")]
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
#[cfg(target_arch = "x86_64")]
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
#[cfg(target_arch = "x86_64")]
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
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn add_term<V: Vector, const R: usize, const C: usize, const PARTIAL: bool>(
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
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn store_sums<V: Vector, const C: usize, const PARTIAL: bool>(
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

/// The zero-skipping product, one row of `c` at a time: the nonzero terms
/// of row `i` are gathered (see [`gather_row`]), then each panel of the row
/// is summed in registers over them.
#[cfg(target_arch = "x86_64")]
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
#[cfg(target_arch = "x86_64")]
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
#[cfg(target_arch = "x86_64")]
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kernel set this host can run (a host without AVX-512 checks
    /// only the AVX2 kernels).
    fn host_simds() -> Vec<Simd> {
        let mut simds = Vec::new();
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx512f") {
                simds.push(Simd::Avx512);
            }
            if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                simds.push(Simd::Avx2Fma);
            }
        }
        simds
    }

    /// Values in [-1, 1) with every third one zero, from a fixed seed.
    fn data(len: usize, seed: u32) -> Vec<f32> {
        let mut s = seed.wrapping_mul(2_654_435_761) | 1;
        (0..len)
            .map(|i| {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                let x = (s >> 8) as f32 / (1u32 << 23) as f32 - 1.0;
                if i % 3 == 0 {
                    0.0
                } else {
                    x
                }
            })
            .collect()
    }

    /// Guard values after each buffer's end catch writes past it.
    const GUARD: usize = 17;
    const GUARD_VALUE: f32 = 12345.0;

    #[test]
    fn dense_and_sparse_match_the_definition_at_every_edge() {
        for simd in host_simds() {
            for (m, k, n) in [
                (1, 1, 1),
                (1, 3, 3),
                (3, 5, 7),
                (7, 9, 17),
                (8, 16, 32),
                (9, 17, 33),
                (13, 1, 50),
                (16, 128, 10),
                (33, 40, 65),
                (15, 6, 129),
                // Deeper than one chunk of terms (`DEPTH_CHUNK`): 8 x 3
                // tiles then a partial vector, one leftover row.
                (17, 130, 51),
                // Whole 3-vector panels, 8-row blocks only.
                (24, 200, 48),
                // A partial 3-vector panel, rows in blocks of 8, 4, 2, 1,
                // over a second chunk of terms.
                (15, 131, 47),
                // 3- and 2-vector panels (AVX-512) or 2-vector panels in
                // blocks of 6 (AVX2), over two chunks.
                (12, 129, 80),
                // More rows than one chunk of rows (`ROW_CHUNK`).
                (260, 3, 20),
            ] {
                for transpose_lhs in [false, true] {
                    let a = data(m * k, (m * 31 + k) as u32);
                    let b = data(k * n, (k * 17 + n) as u32);
                    let lhs = if transpose_lhs {
                        Strided {
                            ptr: a.as_ptr(),
                            row_stride: 1,
                            col_stride: m,
                        }
                    } else {
                        Strided {
                            ptr: a.as_ptr(),
                            row_stride: k,
                            col_stride: 1,
                        }
                    };
                    let at = |i: usize, p: usize| a[i * lhs.row_stride + p * lhs.col_stride];
                    for accumulate in [false, true] {
                        for skip_zeros in [false, true] {
                            let mut c: Vec<f32> =
                                (0..m * n).map(|j| (j % 7) as f32 - 3.0).collect();
                            let before = c.clone();
                            c.extend([GUARD_VALUE; GUARD]);
                            let mut terms = Vec::new();
                            unsafe {
                                if skip_zeros {
                                    sparse(
                                        simd,
                                        (m, k, n),
                                        lhs,
                                        b.as_ptr(),
                                        c.as_mut_ptr(),
                                        accumulate,
                                        &mut terms,
                                    );
                                } else {
                                    dense(
                                        simd,
                                        (m, k, n),
                                        lhs,
                                        b.as_ptr(),
                                        c.as_mut_ptr(),
                                        accumulate,
                                    );
                                }
                            }
                            let what = format!(
                                "{simd:?} {m}x{k}x{n} ta={transpose_lhs} acc={accumulate} skip={skip_zeros}"
                            );
                            assert!(
                                c[m * n..].iter().all(|&x| x == GUARD_VALUE),
                                "{what}: wrote past c"
                            );
                            for i in 0..m {
                                for j in 0..n {
                                    let (mut sum, mut size) = (0.0f64, 0.0f64);
                                    for p in 0..k {
                                        let t = at(i, p) as f64 * b[p * n + j] as f64;
                                        sum += t;
                                        size += t.abs();
                                    }
                                    let start = if accumulate {
                                        before[i * n + j] as f64
                                    } else {
                                        0.0
                                    };
                                    let want = start + sum;
                                    let got = c[i * n + j] as f64;
                                    let tol = 1e-6 * (size + start.abs()) + 1e-30;
                                    assert!(
                                        (got - want).abs() <= tol,
                                        "{what} at ({i}, {j}): {got} vs {want}"
                                    );
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn transpose_writes_and_adds_the_transpose() {
        for (rows, cols) in [(1, 1), (3, 9), (8, 8), (16, 24), (17, 9), (9, 17), (40, 3)] {
            let src = data(rows * cols, (rows * 7 + cols) as u32);
            for accumulate in [false, true] {
                let start: Vec<f32> = (0..rows * cols).map(|j| j as f32).collect();
                let mut dst = start.clone();
                dst.extend([GUARD_VALUE; GUARD]);
                unsafe { transpose(src.as_ptr(), rows, cols, dst.as_mut_ptr(), accumulate) };
                assert!(dst[rows * cols..].iter().all(|&x| x == GUARD_VALUE));
                for r in 0..rows {
                    for c in 0..cols {
                        let x = src[r * cols + c];
                        let want = if accumulate {
                            start[c * rows + r] + x
                        } else {
                            x
                        };
                        assert_eq!(
                            dst[c * rows + r],
                            want,
                            "{rows}x{cols} acc={accumulate} ({r}, {c})"
                        );
                    }
                }
            }
        }
    }
}
