//! The Cranelift backend: lowers graphs to fused, vectorised native kernels.
//!
//! One graph becomes one native function (see `lower/mod.rs` for its
//! calling convention). The pipeline:
//! - `schedule.rs` groups elementwise work into fused loops, folds
//!   constants, broadcasts and reshapes into index math, attaches
//!   reduce_sums to the loop over their operand, and assigns buffers;
//! - `lower/` emits the Cranelift function step by step:
//!   - `loop_plan.rs` resolves what each loop reads and writes into strided
//!     accesses over its collapsed domain (`access.rs` for index math);
//!   - `loops.rs` emits each loop as a body of two `f32x4` vectors per
//!     iteration and a tail (a vector overlapping the last one, or a
//!     partial vector for rows shorter than four), summing reduce_sums as
//!     it goes (`elementwise.rs` per op, `math.rs` for exp/log/floor,
//!     `reduce.rs` for the sums' start values, `simd.rs` for the
//!     vector helpers, `constants.rs` for vector constants (in stack slots
//!     when the kernel calls out));
//!   - `transposes.rs` copies a matrix into its transpose (scalar loops;
//!     transposes are typically of weights, once per call of the prologue);
//!   - `matmuls.rs` picks each product's method at compile time, emits
//!     tiny ones inline and calls the routines of `matmul/` for the
//!     others;
//! - `matmul/` holds those routines (register-blocked FMA kernels, with
//!   zero-skipping rows for spike trains; tuned GEMM; exact row loops);
//! - `module.rs` compiles with Cranelift for the host (`opt_level=speed`,
//!   FMA when the host has AVX+FMA), `cache.rs` reuses code for identical
//!   graphs, `compiled.rs` is the callable kernel, `inspect.rs` prints the
//!   schedule, CLIF and assembly.
//!
//! Results match the interpreter (`interp::rules`) bit for bit (up to the
//! sign of zero and NaN payloads) except:
//! - `exp`/`log`: polynomials, relative error below 1.5e-7 (measured
//!   8.2e-8 against the exact values, at most one ulp from `f32::exp` /
//!   `f32::ln`; `tests/jit_props.rs`);
//! - `reduce_sum` over the innermost axis of four or more elements: summed
//!   in vector lanes (reassociated);
//! - matrix products other than tiny inline ones: summed in another
//!   order, with fused multiply-adds
//!   (float reassociation error, growing with the length of the sums);
//!   skipping zero spikes differs only where the right operand holds inf
//!   or NaN. With `JitOptions::exact_matmul` they are computed in the
//!   interpreter's order and match bit for bit;
//! - with `JitOptions::contract_fma`, fused multiply-adds.

mod cache;
mod compiled;
mod inspect;
mod lower;
mod matmul;
mod module;
mod schedule;

pub use cache::CacheStats;
pub use compiled::JitKernel;
pub use inspect::{
    asm_text, asm_text_with, clif_text, clif_text_with, optimized_clif_text,
    optimized_clif_text_with, schedule_text, schedule_text_with,
};

use crate::ir::Graph;
use crate::kernel::{Backend, CompileError, Kernel};
use cache::KernelCache;
use std::sync::Arc;

/// Code generation choices. The defaults are what the project runs with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct JitOptions {
    /// Compute `a * b + c` (both in one loop) as a fused multiply-add when
    /// the host has FMA. Off by default: elementwise results then equal the
    /// interpreter's bit for bit, so spike decisions never differ.
    pub contract_fma: bool,
    /// Let the exp/log polynomials use fused multiply-adds when the host has
    /// FMA (more accurate and faster).
    pub allow_fma: bool,
    /// Use the host's `roundps` for floor when it has SSE4.1; when false (or
    /// without SSE4.1), a portable add-magic-number sequence.
    pub native_floor: bool,
    /// Matmuls with at most this many multiply-adds (m*k*n), and at most
    /// this many operand and result elements each, are emitted as
    /// straight-line code in the interpreter's order (exact) instead of
    /// calling a matmul routine, whose call costs more than such a product.
    /// (The element counts bound the code of empty products: `k = 0`
    /// still stores `m*n` zeros.)
    pub inline_matmul: usize,
    /// Compute every matrix product in the interpreter's summation order
    /// (row loops, no FMA), bit-identical to the interpreter. Off by
    /// default: the blocked FMA kernels are 3-5x faster.
    pub exact_matmul: bool,
    /// Products with at least this many multiply-adds (m*k*n) call the
    /// packed GEMM instead of the blocked kernels. Never, by default: the
    /// blocked kernels were as fast or faster on every product measured
    /// (up to 512x512x512), except within 10% on 6400-long sums.
    pub packed_gemm_from: usize,
    /// Matmuls count the zeros of their left operand at each call and skip
    /// them when at most an eighth of it is nonzero, as spike trains often
    /// are (see `matmul/mod.rs`; differs from the interpreter only where
    /// the right operand holds an infinity or NaN).
    pub sparse_spikes: bool,
    /// Run Cranelift's verifier on each kernel's IR before compiling it,
    /// turning a malformed kernel (a bug in the lowering, never in the
    /// user's graph, which is checked before) into a compile error. On in
    /// debug builds and in the JIT's differential tests; off by default in
    /// release builds, where it took 19-35% of the compile time of the
    /// benchmark presets (see docs/performance.md).
    pub verify_ir: bool,
    /// Copy small arguments that a loop short of address registers rereads
    /// every row into scratch at the kernel's entry (see
    /// `lower/staging.rs`). On by default; the same results either way.
    pub stage_arguments: bool,
}

impl Default for JitOptions {
    fn default() -> JitOptions {
        JitOptions {
            contract_fma: false,
            allow_fma: true,
            native_floor: true,
            inline_matmul: 64,
            exact_matmul: false,
            packed_gemm_from: usize::MAX,
            sparse_spikes: true,
            verify_ir: cfg!(debug_assertions),
            stage_arguments: true,
        }
    }
}

/// The Cranelift backend. Clones share one kernel cache.
#[derive(Clone, Default)]
pub struct Jit {
    options: JitOptions,
    cache: Arc<KernelCache>,
}

impl Jit {
    pub fn new() -> Jit {
        Jit::default()
    }

    pub fn with_options(options: JitOptions) -> Jit {
        Jit {
            options,
            cache: Arc::default(),
        }
    }

    pub fn options(&self) -> &JitOptions {
        &self.options
    }

    /// Compiles `graph`, or reuses the code of an identical graph compiled
    /// before by this backend (or a clone of it).
    pub fn compile_kernel(&self, graph: &Graph) -> Result<JitKernel, CompileError> {
        let code = self.cache.get_or_compile(graph, &self.options, || {
            module::compile(graph, &self.options, false).map(|(code, _)| code)
        })?;
        Ok(JitKernel::new(graph.clone(), code))
    }

    pub fn cache_stats(&self) -> CacheStats {
        self.cache.stats()
    }

    /// The CLIF of `graph`'s kernel under this backend's options.
    pub fn clif_text(&self, graph: &Graph) -> Result<String, CompileError> {
        clif_text_with(graph, &self.options)
    }

    /// The machine code of `graph`'s kernel under this backend's options.
    pub fn asm_text(&self, graph: &Graph) -> Result<String, CompileError> {
        asm_text_with(graph, &self.options)
    }
}

impl Backend for Jit {
    fn name(&self) -> &'static str {
        "jit"
    }

    fn compile(&self, graph: &Graph) -> Result<Box<dyn Kernel>, CompileError> {
        Ok(Box::new(self.compile_kernel(graph)?))
    }
}
