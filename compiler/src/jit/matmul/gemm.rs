//! The packed GEMM (`matrixmultiply::sgemm`).

use super::entry::MatmulDesc;

/// `c = op(a) @ op(b)` (or `+=`) with the packed GEMM.
pub(super) fn gemm(d: &MatmulDesc, a: &[f32], b: &[f32], c: &mut [f32]) {
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
}
