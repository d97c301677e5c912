//! Loops in the interpreter's summation order (bit-identical results),
//! blocked over columns and compiled for AVX2 when the host has it.

use super::entry::MatmulDesc;
use super::workspace::WORKSPACE;

/// The exact row loops, with this thread's working memory.
pub(super) fn exact_dispatch(
    d: &MatmulDesc,
    a: &[f32],
    b: &[f32],
    c: &mut [f32],
    skip_zeros: bool,
) {
    WORKSPACE.with(|w| match w.try_borrow_mut() {
        Ok(mut w) => {
            let w = &mut *w;
            rows_best(d, a, b, c, skip_zeros, &mut w.terms, &mut w.rhs);
        }
        Err(_) => rows_best(d, a, b, c, skip_zeros, &mut Vec::new(), &mut Vec::new()),
    });
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
