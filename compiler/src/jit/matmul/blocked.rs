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
//! `operands.rs`), made with [`transpose`].
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
//! This file is the kernels' interface; they are in `dense.rs` and
//! `sparse.rs`, built from `tiles.rs` and `vector.rs`.
//!
//! Kernels exist for AVX-512F (16-lane vectors) and AVX2 with FMA (8
//! lanes); [`host_isa`] says which one the host runs, or none (then the
//! caller uses another method).

#[cfg(target_arch = "x86_64")]
use super::dense::{dense_avx2, dense_avx512};
#[cfg(target_arch = "x86_64")]
use super::sparse::{sparse_avx2, sparse_avx512};

/// The instruction set a kernel is compiled for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KernelIsa {
    Avx512,
    Avx2Fma,
}

impl KernelIsa {
    /// Floats per vector register.
    pub fn lanes(self) -> usize {
        match self {
            KernelIsa::Avx512 => 16,
            KernelIsa::Avx2Fma => 8,
        }
    }
}

/// The best instruction set the host offers these kernels, if any.
pub(crate) fn host_isa() -> Option<KernelIsa> {
    #[cfg(target_arch = "x86_64")]
    {
        // Both kernel sets use AVX2 for transposes.
        let avx2_fma =
            std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma");
        if avx2_fma && std::is_x86_feature_detected!("avx512f") {
            return Some(KernelIsa::Avx512);
        }
        if avx2_fma {
            return Some(KernelIsa::Avx2Fma);
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
    simd: KernelIsa,
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
            KernelIsa::Avx512 => dense_avx512(m, k, n, a, b, c, accumulate),
            KernelIsa::Avx2Fma => dense_avx2(m, k, n, a, b, c, accumulate),
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (simd, m, k, n, a, b, c, accumulate);
        unreachable!("host_isa() is None off x86-64");
    }
}

/// Like [`dense`], skipping the zero entries of `op(a)`. `terms` is reused
/// working memory.
///
/// # Safety
/// As for [`dense`].
pub(crate) unsafe fn sparse(
    simd: KernelIsa,
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
            KernelIsa::Avx512 => sparse_avx512(m, k, n, a, b, c, accumulate, terms),
            KernelIsa::Avx2Fma => sparse_avx2(m, k, n, a, b, c, accumulate, terms),
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (simd, m, k, n, a, b, c, accumulate, terms);
        unreachable!("host_isa() is None off x86-64");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kernel set this host can run (a host without AVX-512 checks
    /// only the AVX2 kernels).
    fn host_simds() -> Vec<KernelIsa> {
        let mut simds = Vec::new();
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx512f") {
                simds.push(KernelIsa::Avx512);
            }
            if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                simds.push(KernelIsa::Avx2Fma);
            }
        }
        if simds.is_empty() {
            // The kernels never run on such a host (`host_isa` is None).
            eprintln!("no AVX2+FMA on this host: the blocked kernels are not checked");
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
}
