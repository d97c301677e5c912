//! The matrix products generated code calls: one `extern "C"` entry point
//! that reads a descriptor (sizes, transposes, method) fixed at compile time
//! and runs one of three Rust routines:
//!
//! - `Gemm`: `matrixmultiply::sgemm` (packed, tuned kernels; the strides
//!   express the transposes, so nothing is copied). Best for all but tiny
//!   products.
//! - `Rows`: loops in the interpreter's summation order, blocked over
//!   columns and compiled for AVX2 when the host has it. No packing, so it
//!   wins on small products, and its results are bit-identical to the
//!   interpreter's.
//! - `SparseRows`: `Rows` that skips zero entries of `a`. Spike trains are
//!   mostly zeros, so `spikes @ weights` does a fraction of the work a dense
//!   GEMM does. Skipping `0 * b[p, j]` changes nothing unless `b` holds an
//!   infinity or NaN there (the interpreter then gets NaN).
//! - `Adaptive`: counts the zeros of `a` (cheap next to the product) and
//!   takes `SparseRows` or `Gemm` accordingly, for large products whose left
//!   operand may hold spikes (spike counts, or spike states and tape values
//!   that arrive as arguments).
//!
//! The generated code calls this only after the kernel wrapper has checked
//! every buffer's length, and descriptors are built from the graph's shapes,
//! so the slices formed here are in bounds.

/// How a product is computed (see the file comment).
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum MatmulMethod {
    Rows = 0,
    SparseRows = 1,
    Gemm = 2,
    /// Count the zeros of `a` at each call: `SparseRows` when at most an
    /// eighth of `a` is nonzero, `Gemm` otherwise.
    Adaptive = 3,
}

/// `Adaptive` takes the sparse path at or below this fraction of nonzeros
/// (measured: at 10% nonzero spikes, 32x128 @ 128x128 took 10.4 us sparse
/// against 13.4 us through GEMM; at 1%, 12.8 against 17.3 us with the
/// spike computation included).
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
    pub method: MatmulMethod,
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
        match d.method {
            MatmulMethod::Gemm => gemm(d, a, b, c),
            MatmulMethod::Rows => rows_dispatch(d, a, b, c, false),
            MatmulMethod::SparseRows => rows_dispatch(d, a, b, c, true),
            MatmulMethod::Adaptive => {
                let nonzeros = a.iter().filter(|&&x| x != 0.0).count();
                if nonzeros as f32 <= SPARSE_DENSITY * a.len() as f32 {
                    rows_dispatch(d, a, b, c, true)
                } else {
                    gemm(d, a, b, c)
                }
            }
        }
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

fn rows_dispatch(d: &MatmulDesc, a: &[f32], b: &[f32], c: &mut [f32], skip_zeros: bool) {
    WORKSPACE.with(|w| match w.try_borrow_mut() {
        Ok(mut w) => {
            let w = &mut *w;
            rows_best(d, a, b, c, skip_zeros, &mut w.terms, &mut w.transposed);
        }
        Err(_) => rows_best(d, a, b, c, skip_zeros, &mut Vec::new(), &mut Vec::new()),
    });
}

/// Per-thread buffers of the row loops, reused across calls.
#[derive(Default)]
struct Workspace {
    terms: Vec<(usize, f32)>,
    transposed: Vec<f32>,
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
        let (m, k, n) = (5, 7, 3);
        let a: Vec<f32> = (0..m * k).map(|i| ((i * 7) % 5) as f32 - 2.0).collect();
        let b: Vec<f32> = (0..k * n).map(|i| ((i * 3) % 4) as f32 * 0.5).collect();
        for method in [
            MatmulMethod::Rows,
            MatmulMethod::SparseRows,
            MatmulMethod::Gemm,
        ] {
            for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                let d = MatmulDesc {
                    m,
                    k,
                    n,
                    transpose_lhs: ta,
                    transpose_rhs: tb,
                    accumulate: true,
                    method,
                };
                let mut c = vec![1.0f32; m * n];
                unsafe { neurojit_matmul(&d, a.as_ptr(), b.as_ptr(), c.as_mut_ptr()) };
                let expected = naive(m, k, n, ta, tb, &a, &b);
                for (x, y) in c.iter().zip(&expected) {
                    // Small integers and halves: exact in any order.
                    assert_eq!(*x, y + 1.0, "{method:?} ta={ta} tb={tb}");
                }
            }
        }
    }
}
