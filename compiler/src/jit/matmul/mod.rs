//! The matrix products generated code calls: one `extern "C"` entry point
//! (`entry.rs`) that reads a descriptor (sizes, transposes, methods) fixed
//! at compile time (by `lower/matmuls.rs`) and runs one of these Rust routines:
//!
//! - `Blocked` (`blocked.rs`): register-blocked FMA kernels that
//!   read the operands in place, without packing. The default: on the
//!   products training runs (a few to thousands of rows, up to 6400-long
//!   sums) they matched or beat the packed GEMM, by up to 1.5x on the
//!   per-timestep ones where packing costs as much as the product.
//! - `Gemm` (`gemm.rs`): `matrixmultiply::sgemm` (packed, tuned kernels; the strides
//!   express the transposes, so nothing is copied).
//! - `Exact` (`exact.rs`): loops in the interpreter's summation order, blocked over
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
//! (see `operands.rs`).
//!
//! The generated code calls this only after the kernel wrapper has checked
//! every buffer's length, and descriptors are built from the graph's shapes,
//! so the slices formed here are in bounds.
//!
//! | file | holds |
//! |---|---|
//! | `entry.rs` | the descriptor, the entry point, each call's choices (zero skipping, the host's fallback) |
//! | `workspace.rs` | per-thread buffers reused across calls |
//! | `operands.rs` | the way into `Blocked`: transposed copies, or the product computed transposed |
//! | `blocked.rs` | the blocked kernels' interface: instruction sets, strided operands |
//! | `dense.rs`, `sparse.rs` | the dense and zero-skipping blocked kernels (x86-64) |
//! | `tiles.rs`, `vector.rs` | their building blocks: column panels, register tiles, SIMD vectors (x86-64) |
//! | `transpose.rs` | transposed copies, in 8 x 8 register blocks |
//! | `gemm.rs`, `exact.rs` | the packed GEMM and the exact row loops |

mod blocked;
#[cfg(target_arch = "x86_64")]
mod dense;
mod entry;
mod exact;
mod gemm;
mod operands;
#[cfg(target_arch = "x86_64")]
mod sparse;
#[cfg(target_arch = "x86_64")]
mod tiles;
mod transpose;
#[cfg(target_arch = "x86_64")]
mod vector;
mod workspace;

pub(crate) use entry::{neurojit_matmul, DenseMethod, MatmulDesc, ZeroSkipping, MATMUL_SYMBOL};
