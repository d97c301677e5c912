//! Arranges a product's operands for the blocked kernels, which read the
//! left operand through strides but need the right one row-major:
//! transposed copies, or the whole product computed transposed.

use super::blocked::{self, KernelIsa, Strided};
use super::entry::MatmulDesc;
use super::transpose::transpose;
use super::workspace::{Workspace, WORKSPACE};

/// The blocked kernels (`blocked.rs`), with this thread's working
/// memory.
pub(super) fn blocked_dispatch(
    simd: KernelIsa,
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
    simd: KernelIsa,
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
    // SAFETY (whole body): `host_isa` returned `simd`; every buffer handed
    // to a kernel holds the floats its shape says (the workspace buffers are
    // resized first), and outputs are distinct from inputs.
    unsafe {
        if transposed_product {
            // op(a)^T, k x m row-major: `a` itself when it is transposed.
            let lhs_t = if d.transpose_lhs {
                a.as_ptr()
            } else {
                resize(&mut w.lhs, k * m);
                transpose(a.as_ptr(), m, k, w.lhs.as_mut_ptr(), false);
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
            blocked::dense(simd, (n, k, m), rhs_t, lhs_t, product, false);
            transpose(product, n, m, c.as_mut_ptr(), d.accumulate);
        } else {
            let b = if d.transpose_rhs {
                resize(&mut w.rhs, k * n);
                transpose(b.as_ptr(), n, k, w.rhs.as_mut_ptr(), false);
                w.rhs.as_ptr()
            } else {
                b.as_ptr()
            };
            let lhs = if d.transpose_lhs && skip_zeros {
                // Rows of op(a) are scanned for nonzeros fastest when they
                // are contiguous.
                resize(&mut w.lhs, m * k);
                transpose(a.as_ptr(), k, m, w.lhs.as_mut_ptr(), false);
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
                blocked::sparse(simd, (m, k, n), lhs, b, c, d.accumulate, &mut w.terms);
            } else {
                blocked::dense(simd, (m, k, n), lhs, b, c, d.accumulate);
            }
        }
    }
}

/// Makes `buffer` hold exactly `len` floats (contents unspecified).
fn resize(buffer: &mut Vec<f32>, len: usize) {
    if buffer.len() != len {
        buffer.resize(len, 0.0);
    }
}
