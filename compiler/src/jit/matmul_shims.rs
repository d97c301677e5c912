//! The matrix products generated code calls: one `extern "C"` entry point
//! that reads a descriptor (sizes, transposes, methods) fixed at compile
//! time and runs one of these Rust routines:
//!
//! - `Blocked` (`matmul_blocked.rs`): register-blocked FMA kernels that
//!   read the operands in place, without packing. The default: on the
//!   products training runs (a few to thousands of rows, up to 6400-long
//!   sums) they matched or beat the packed GEMM, by up to 1.5x on the
//!   per-timestep ones where packing costs as much as the product.
//! - `Gemm`: `matrixmultiply::sgemm` (packed, tuned kernels; the strides
//!   express the transposes, so nothing is copied).
//! - `Exact`: loops in the interpreter's summation order, blocked over
//!   columns and compiled for AVX2 when the host has it. Bit-identical to
//!   the interpreter (`JitOptions::exact_matmul`), and the fallback of
//!   `Blocked` for small products on hosts without AVX2 and FMA.
//!
//! With `ZeroSkipping::WhenSparse`, each call counts the zeros of `a`
//! (cheap next to the product) and, when at most an eighth of `a` is
//! nonzero, runs the zero-skipping rows of `Blocked` (or of `Exact`):
//! spike trains are often mostly zeros, and then `spikes @ weights` does a
//! fraction of the work. Skipping `0 * b[p, j]` changes nothing unless `b`
//! holds an infinity or NaN there (the interpreter then gets NaN). Spike
//! trains are not always sparse (the benchmark presets' run 30-45%
//! nonzero), so the choice is made per call, whatever the operand is.
//!
//! A transposed right operand cannot be read in place by `Blocked`: it is
//! copied into row-major order, or the product is computed transposed
//! (see [`blocked`]).
//!
//! The generated code calls this only after the kernel wrapper has checked
//! every buffer's length, and descriptors are built from the graph's shapes,
//! so the slices formed here are in bounds.

use super::matmul_blocked::{self, host_simd, Simd, Strided};

/// How a dense product is computed (see the file comment).
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum DenseMethod {
    Exact = 0,
    Blocked = 1,
    Gemm = 2,
    /// Straight-line code in the kernel itself, in the interpreter's order
    /// (see `lower_matmul.rs`); never called here, and computed like
    /// `Exact` if it were.
    Inline = 3,
}

/// Whether the zero entries of the left operand are skipped.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum ZeroSkipping {
    Never = 0,
    /// Count the zeros at each call; skip them when at most
    /// `SPARSE_DENSITY` of the operand is nonzero.
    WhenSparse = 1,
}

/// `ZeroSkipping::WhenSparse` takes the sparse path at or below this
/// fraction of nonzeros. Measured, 32x256 @ 256x256 with the blocked
/// kernels: 5.1 us sparse against 40 us dense at 1% nonzeros, 14.6 against
/// 38 us at 10%, 38.9 against 38.0 us at 20%; 16x128 @ 128x10 broke even
/// at 1%. A later run of the `spike_density` bench (docs/performance.md)
/// put the crossing of 32x256 @ 256x256 nearer 27% and of 16x128 @ 128x128
/// near 35%: the machine's load moves these figures, and 1/8 stays on the
/// safe side of all of them.
const SPARSE_DENSITY: f32 = 0.125;

/// `c = op(a) @ op(b)` (or `c += ...` when `accumulate`), `op(a)` being
/// `m x k` and `op(b)` `k x n`, all row-major.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct MatmulDesc {
    pub m: usize,
    pub k: usize,
    pub n: usize,
    pub transpose_lhs: bool,
    pub transpose_rhs: bool,
    pub accumulate: bool,
    pub dense: DenseMethod,
    pub zeros: ZeroSkipping,
}

impl MatmulDesc {
    /// The methods, as the schedule listing shows them.
    pub fn method_text(&self) -> String {
        if self.dense == DenseMethod::Inline {
            return "Inline".to_string();
        }
        match self.zeros {
            ZeroSkipping::Never => format!("{:?}", self.dense),
            ZeroSkipping::WhenSparse => format!("{:?}, zeros skipped when sparse", self.dense),
        }
    }
}

/// The symbol generated code calls.
pub(crate) const MATMUL_SYMBOL: &str = "neurojit_matmul";

/// Entry point for generated code.
///
/// # Safety
/// `desc` points to a valid descriptor; `a`, `b` and `c` point to buffers of
/// `m*k`, `k*n` and `m*n` floats, `c` not overlapping the others.
pub(crate) unsafe extern "C" fn neurojit_matmul(
    desc: *const MatmulDesc,
    a: *const f32,
    b: *const f32,
    c: *mut f32,
) {
    // SAFETY: guaranteed by the caller (see above).
    unsafe {
        let d = &*desc;
        let (m, k, n) = (d.m, d.k, d.n);
        if m == 0 || n == 0 {
            return;
        }
        let c = std::slice::from_raw_parts_mut(c, m * n);
        if k == 0 {
            if !d.accumulate {
                c.fill(0.0);
            }
            return;
        }
        let a = std::slice::from_raw_parts(a, m * k);
        let b = std::slice::from_raw_parts(b, k * n);
        let skip_zeros = match d.zeros {
            ZeroSkipping::Never => false,
            ZeroSkipping::WhenSparse => is_sparse(a),
        };
        match d.dense {
            DenseMethod::Exact | DenseMethod::Inline => exact_dispatch(d, a, b, c, skip_zeros),
            DenseMethod::Gemm if !skip_zeros => gemm(d, a, b, c),
            DenseMethod::Blocked | DenseMethod::Gemm => match host_simd() {
                Some(simd) => blocked_dispatch(simd, d, a, b, c, skip_zeros),
                // Without AVX2 and FMA: the row loops where they are fast
                // (skipping zeros, or too small to pay for packing).
                None if skip_zeros || m * k * n <= SMALL_WITHOUT_FMA => {
                    exact_dispatch(d, a, b, c, skip_zeros)
                }
                None => gemm(d, a, b, c),
            },
        }
    }
}

/// Without the blocked kernels, dense products with at most this many
/// multiply-adds use the row loops rather than the packed GEMM (measured
/// crossover with AVX2 row loops).
const SMALL_WITHOUT_FMA: usize = 4096;

/// Whether at most `SPARSE_DENSITY` of `a` is nonzero. Counts in chunks
/// (which the compiler vectorises) and stops as soon as the count is
/// exceeded, so dense operands are rejected after a fraction of a scan.
fn is_sparse(a: &[f32]) -> bool {
    let limit = (SPARSE_DENSITY * a.len() as f32) as usize;
    let mut nonzeros = 0usize;
    for chunk in a.chunks(256) {
        nonzeros += chunk.iter().map(|&x| u32::from(x != 0.0)).sum::<u32>() as usize;
        if nonzeros > limit {
            return false;
        }
    }
    true
}

/// The blocked kernels of `matmul_blocked.rs`, with this thread's working
/// memory.
fn blocked_dispatch(
    simd: Simd,
    d: &MatmulDesc,
    a: &[f32],
    b: &[f32],
    c: &mut [f32],
    skip_zeros: bool,
) {
    WORKSPACE.with(|w| match w.try_borrow_mut() {
        Ok(mut w) => blocked(simd, d, a, b, c, skip_zeros, &mut w),
        Err(_) => blocked(simd, d, a, b, c, skip_zeros, &mut Workspace::default()),
    });
}

/// Runs the product on the blocked kernels, which read `op(a)` through
/// strides but need `op(b)` row-major. The product is computed transposed,
/// `c^T = op(b)^T @ op(a)^T` (then `c^T` is transposed into `c`), when that
/// copies less or uses the vector lanes better:
/// - a transposed right operand is either copied into row-major order
///   (`k*n` floats) or, when fewer, `op(a)` (unless stored transposed) and
///   the result are (`m*k + m*n` floats);
/// - a result narrower than a vector (`n` = 10 outputs) wastes most lanes;
///   with a transposed left operand, `c^T` (`m` wide) costs only the copy
///   of the result (measured: 256x6400 @ 6400x10 from 0.8 to 0.4 ms).
fn blocked(
    simd: Simd,
    d: &MatmulDesc,
    a: &[f32],
    b: &[f32],
    c: &mut [f32],
    skip_zeros: bool,
    w: &mut Workspace,
) {
    let (m, k, n) = (d.m, d.k, d.n);
    let row_major = |ptr: *const f32, cols: usize| Strided {
        ptr,
        row_stride: cols,
        col_stride: 1,
    };
    let lanes = simd.lanes();
    let transposed_product = !skip_zeros
        && if d.transpose_rhs {
            let lhs_copy = if d.transpose_lhs { 0 } else { m * k };
            lhs_copy + m * n < k * n
        } else {
            d.transpose_lhs && n < lanes && m >= 2 * lanes
        };
    // SAFETY (whole body): `host_simd` returned `simd`; every buffer handed
    // to a kernel holds the floats its shape says (the workspace buffers are
    // resized first), and outputs are distinct from inputs.
    unsafe {
        if transposed_product {
            // op(a)^T, k x m row-major: `a` itself when it is transposed.
            let lhs_t = if d.transpose_lhs {
                a.as_ptr()
            } else {
                resize(&mut w.lhs, k * m);
                matmul_blocked::transpose(a.as_ptr(), m, k, w.lhs.as_mut_ptr(), false);
                w.lhs.as_ptr()
            };
            // op(b)^T, n x k: `b` itself when it is transposed.
            let rhs_t = if d.transpose_rhs {
                row_major(b.as_ptr(), k)
            } else {
                Strided {
                    ptr: b.as_ptr(),
                    row_stride: 1,
                    col_stride: n,
                }
            };
            resize(&mut w.product, n * m);
            let product = w.product.as_mut_ptr();
            matmul_blocked::dense(simd, (n, k, m), rhs_t, lhs_t, product, false);
            matmul_blocked::transpose(product, n, m, c.as_mut_ptr(), d.accumulate);
        } else {
            let b = if d.transpose_rhs {
                resize(&mut w.rhs, k * n);
                matmul_blocked::transpose(b.as_ptr(), n, k, w.rhs.as_mut_ptr(), false);
                w.rhs.as_ptr()
            } else {
                b.as_ptr()
            };
            let lhs = if d.transpose_lhs && skip_zeros {
                // Rows of op(a) are scanned for nonzeros fastest when they
                // are contiguous.
                resize(&mut w.lhs, m * k);
                matmul_blocked::transpose(a.as_ptr(), k, m, w.lhs.as_mut_ptr(), false);
                row_major(w.lhs.as_ptr(), k)
            } else if d.transpose_lhs {
                Strided {
                    ptr: a.as_ptr(),
                    row_stride: 1,
                    col_stride: m,
                }
            } else {
                row_major(a.as_ptr(), k)
            };
            let c = c.as_mut_ptr();
            if skip_zeros {
                matmul_blocked::sparse(simd, (m, k, n), lhs, b, c, d.accumulate, &mut w.terms);
            } else {
                matmul_blocked::dense(simd, (m, k, n), lhs, b, c, d.accumulate);
            }
        }
    }
    clear_upper_vector_state();
}

/// Makes `buffer` hold exactly `len` floats (contents unspecified).
fn resize(buffer: &mut Vec<f32>, len: usize) {
    if buffer.len() != len {
        buffer.resize(len, 0.0);
    }
}

fn gemm(d: &MatmulDesc, a: &[f32], b: &[f32], c: &mut [f32]) {
    let (m, k, n) = (d.m, d.k, d.n);
    // Element (i, p) of op(a) is at i*rsa + p*csa, likewise for b.
    let (rsa, csa) = if d.transpose_lhs { (1, m) } else { (k, 1) };
    let (rsb, csb) = if d.transpose_rhs { (1, k) } else { (n, 1) };
    let beta = if d.accumulate { 1.0 } else { 0.0 };
    // SAFETY: the strides address exactly the m*k, k*n and m*n elements of
    // the slices; with beta = 0 sgemm does not read c.
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            1.0,
            a.as_ptr(),
            rsa as isize,
            csa as isize,
            b.as_ptr(),
            rsb as isize,
            csb as isize,
            beta,
            c.as_mut_ptr(),
            n as isize,
            1,
        );
    }
    clear_upper_vector_state();
}

/// Issues `vzeroupper` after wide (AVX/AVX-512) GEMM kernels, so that the
/// generated code's 128-bit instructions that follow pay no transition
/// penalty (measured at 40% on Zen 4 after an AVX-512 GEMM).
fn clear_upper_vector_state() {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx")]
        fn zero_upper() {
            std::arch::x86_64::_mm256_zeroupper();
        }
        if std::is_x86_feature_detected!("avx") {
            // SAFETY: the host supports AVX.
            unsafe { zero_upper() };
        }
    }
}

/// The exact row loops, with this thread's working memory.
fn exact_dispatch(d: &MatmulDesc, a: &[f32], b: &[f32], c: &mut [f32], skip_zeros: bool) {
    WORKSPACE.with(|w| match w.try_borrow_mut() {
        Ok(mut w) => {
            let w = &mut *w;
            rows_best(d, a, b, c, skip_zeros, &mut w.terms, &mut w.rhs);
        }
        Err(_) => rows_best(d, a, b, c, skip_zeros, &mut Vec::new(), &mut Vec::new()),
    });
}

/// Per-thread buffers of the row loops and blocked kernels, reused across
/// calls.
#[derive(Default)]
struct Workspace {
    /// Nonzero terms of one row of `a`.
    terms: Vec<(usize, f32)>,
    /// A transposed copy of `b`.
    rhs: Vec<f32>,
    /// A transposed copy of `a`.
    lhs: Vec<f32>,
    /// A product computed transposed.
    product: Vec<f32>,
}

thread_local! {
    static WORKSPACE: std::cell::RefCell<Workspace> = std::cell::RefCell::default();
}

/// [`rows`] compiled for the best instruction set the host has.
fn rows_best(
    d: &MatmulDesc,
    a: &[f32],
    b: &[f32],
    c: &mut [f32],
    skip_zeros: bool,
    terms: &mut Vec<(usize, f32)>,
    transposed: &mut Vec<f32>,
) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the host supports AVX2.
            unsafe { rows_avx2(d, a, b, c, skip_zeros, terms, transposed) };
            return;
        }
    }
    rows(d, a, b, c, skip_zeros, terms, transposed);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn rows_avx2(
    d: &MatmulDesc,
    a: &[f32],
    b: &[f32],
    c: &mut [f32],
    skip_zeros: bool,
    terms: &mut Vec<(usize, f32)>,
    transposed: &mut Vec<f32>,
) {
    rows(d, a, b, c, skip_zeros, terms, transposed);
}

/// The interpreter's summation order, blocked for speed: each element of
/// `c` is `0 + a[i, 0] * b[0, j] + a[i, 1] * b[1, j] + ...` in ascending `p`
/// (leaving out zero `a[i, p]` in sparse mode), each product rounded then
/// added, exactly as the interpreter computes it (Rust never contracts into
/// an FMA); an accumulating output then adds that sum into `c`, again as
/// the interpreter does. Results are bit-identical to the interpreter's.
///
/// Per row of `c`: the terms `(p, a[i, p])` are gathered first (without
/// branches, so sparse spike rows cost no mispredictions), then
/// `c[i, j..j + 64]` is summed in registers over the terms, which keeps 8
/// (AVX2) independent addition chains busy.
#[inline(always)]
fn rows(
    d: &MatmulDesc,
    a: &[f32],
    b: &[f32],
    c: &mut [f32],
    skip_zeros: bool,
    terms: &mut Vec<(usize, f32)>,
    transposed: &mut Vec<f32>,
) {
    let (m, k, n) = (d.m, d.k, d.n);
    let b = if d.transpose_rhs {
        // Rows of b (stored n x k) become rows of op(b), once per call.
        transposed.clear();
        transposed.resize(k * n, 0.0);
        for j in 0..n {
            for (p, &x) in b[j * k..(j + 1) * k].iter().enumerate() {
                transposed[p * n + j] = x;
            }
        }
        &transposed[..]
    } else {
        b
    };
    terms.clear();
    terms.resize(k, (0, 0.0));
    for i in 0..m {
        let mut count = 0;
        for p in 0..k {
            let x = if d.transpose_lhs {
                a[p * m + i]
            } else {
                a[i * k + p]
            };
            terms[count] = (p, x);
            count += usize::from(!skip_zeros || x != 0.0);
        }
        let terms = &terms[..count];
        let row = &mut c[i * n..(i + 1) * n];
        let mut j = 0;
        while j + 64 <= n {
            column_block::<64>(terms, b, n, j, &mut row[j..j + 64], d.accumulate);
            j += 64;
        }
        while j + 32 <= n {
            column_block::<32>(terms, b, n, j, &mut row[j..j + 32], d.accumulate);
            j += 32;
        }
        while j + 8 <= n {
            column_block::<8>(terms, b, n, j, &mut row[j..j + 8], d.accumulate);
            j += 8;
        }
        while j < n {
            column_block::<1>(terms, b, n, j, &mut row[j..j + 1], d.accumulate);
            j += 1;
        }
    }
}

/// `W` consecutive elements of one row of `c`, starting at column `j`:
/// the sum over `terms` of `x * b[p, j..j + W]`.
#[inline(always)]
fn column_block<const W: usize>(
    terms: &[(usize, f32)],
    b: &[f32],
    n: usize,
    j: usize,
    out: &mut [f32],
    accumulate: bool,
) {
    let mut sums = [0.0f32; W];
    for &(p, x) in terms {
        let b_row = &b[p * n + j..p * n + j + W];
        for (sum, &y) in sums.iter_mut().zip(b_row) {
            *sum += x * y;
        }
    }
    for (o, &sum) in out.iter_mut().zip(&sums) {
        *o = if accumulate { *o + sum } else { sum };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(m: usize, k: usize, n: usize, ta: bool, tb: bool, a: &[f32], b: &[f32]) -> Vec<f32> {
        let mut c = vec![0.0f32; m * n];
        for i in 0..m {
            for j in 0..n {
                for p in 0..k {
                    let x = if ta { a[p * m + i] } else { a[i * k + p] };
                    let y = if tb { b[j * k + p] } else { b[p * n + j] };
                    c[i * n + j] += x * y;
                }
            }
        }
        c
    }

    #[test]
    fn every_method_and_transpose_agrees_with_the_definition() {
        // (2, 20, 24) computes transposed-rhs products transposed.
        for (m, k, n) in [(5, 7, 3), (2, 20, 24)] {
            let dense: Vec<f32> = (0..m * k).map(|i| ((i * 7) % 5) as f32 - 2.0).collect();
            // One entry in eleven nonzero: below the sparse threshold.
            let sparse: Vec<f32> = (0..m * k)
                .map(|i| {
                    if i % 11 == 0 {
                        (i % 3) as f32 + 1.0
                    } else {
                        0.0
                    }
                })
                .collect();
            let b: Vec<f32> = (0..k * n).map(|i| ((i * 3) % 4) as f32 * 0.5).collect();
            for a in [&dense, &sparse] {
                for dense_method in [DenseMethod::Exact, DenseMethod::Blocked, DenseMethod::Gemm] {
                    for zeros in [ZeroSkipping::Never, ZeroSkipping::WhenSparse] {
                        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)]
                        {
                            for accumulate in [false, true] {
                                let d = MatmulDesc {
                                    m,
                                    k,
                                    n,
                                    transpose_lhs: ta,
                                    transpose_rhs: tb,
                                    accumulate,
                                    dense: dense_method,
                                    zeros,
                                };
                                let mut c = vec![1.0f32; m * n];
                                unsafe {
                                    neurojit_matmul(&d, a.as_ptr(), b.as_ptr(), c.as_mut_ptr())
                                };
                                let expected = naive(m, k, n, ta, tb, a, &b);
                                let start = if accumulate { 1.0 } else { 0.0 };
                                for (x, y) in c.iter().zip(&expected) {
                                    // Small integers and halves: exact in any order.
                                    assert_eq!(
                                        *x,
                                        y + start,
                                        "{m}x{k}x{n} {} ta={ta} tb={tb} acc={accumulate}",
                                        d.method_text()
                                    );
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// A buffer that ends exactly where an inaccessible page begins, so a
    /// routine reading or writing past its end crashes the test.
    #[cfg(unix)]
    struct Guarded {
        mapping: *mut libc::c_void,
        mapped: usize,
        floats: *mut f32,
    }

    #[cfg(unix)]
    impl Guarded {
        fn new(values: &[f32]) -> Guarded {
            const PAGE: usize = 4096;
            let pages = (4 * values.len()).div_ceil(PAGE) + 1;
            let mapped = pages * PAGE;
            unsafe {
                let mapping = libc::mmap(
                    std::ptr::null_mut(),
                    mapped,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                );
                assert_ne!(mapping, libc::MAP_FAILED);
                let guard = (mapping as *mut u8).add(mapped - PAGE);
                assert_eq!(libc::mprotect(guard.cast(), PAGE, libc::PROT_NONE), 0);
                let floats = (guard as *mut f32).sub(values.len());
                std::ptr::copy_nonoverlapping(values.as_ptr(), floats, values.len());
                Guarded {
                    mapping,
                    mapped,
                    floats,
                }
            }
        }
    }

    #[cfg(unix)]
    impl Drop for Guarded {
        fn drop(&mut self) {
            unsafe { libc::munmap(self.mapping, self.mapped) };
        }
    }

    #[test]
    #[cfg(unix)]
    fn no_method_touches_memory_past_its_buffers() {
        // Narrow and ragged shapes: partial vectors at every buffer's end.
        for (m, k, n) in [
            (1, 5, 3),
            (100, 2, 3),
            (16, 40, 10),
            (40, 16, 10),
            (7, 9, 17),
        ] {
            let dense: Vec<f32> = (0..m * k).map(|i| ((i * 7) % 5) as f32 - 2.0).collect();
            let sparse: Vec<f32> = (0..m * k)
                .map(|i| if i % 11 == 0 { 1.0 } else { 0.0 })
                .collect();
            let b: Vec<f32> = (0..k * n).map(|i| ((i * 3) % 4) as f32 * 0.5).collect();
            for a in [&dense, &sparse] {
                for dense_method in [DenseMethod::Exact, DenseMethod::Blocked, DenseMethod::Gemm] {
                    for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                        for accumulate in [false, true] {
                            let d = MatmulDesc {
                                m,
                                k,
                                n,
                                transpose_lhs: ta,
                                transpose_rhs: tb,
                                accumulate,
                                dense: dense_method,
                                zeros: ZeroSkipping::WhenSparse,
                            };
                            let (ga, gb) = (Guarded::new(a), Guarded::new(&b));
                            let gc = Guarded::new(&vec![1.0; m * n]);
                            unsafe { neurojit_matmul(&d, ga.floats, gb.floats, gc.floats) };
                            let c = unsafe { std::slice::from_raw_parts(gc.floats, m * n) };
                            let expected = naive(m, k, n, ta, tb, a, &b);
                            let start = if accumulate { 1.0 } else { 0.0 };
                            for (x, y) in c.iter().zip(&expected) {
                                assert_eq!(*x, y + start, "{m}x{k}x{n} {}", d.method_text());
                            }
                        }
                    }
                }
            }
        }
    }
}
