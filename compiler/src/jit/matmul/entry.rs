//! The descriptor generated code passes, the `extern "C"` entry point it
//! calls, and the choice of routine for each call (method, zero skipping,
//! host instruction set).

use super::blocked::host_isa;
use super::exact::exact_dispatch;
use super::gemm::gemm;
use super::operands::blocked_dispatch;

/// How a dense product is computed (see the file comment).
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum DenseMethod {
    Exact = 0,
    Blocked = 1,
    Gemm = 2,
    /// Straight-line code in the kernel itself, in the interpreter's order
    /// (see `lower/matmuls.rs`); never called here, and computed like
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
            DenseMethod::Blocked | DenseMethod::Gemm => match host_isa() {
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
    clear_upper_vector_state();
}

/// Issues `vzeroupper` after the routines' wide (AVX/AVX-512) kernels, so that the
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
