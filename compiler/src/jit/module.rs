//! Turning a graph into finalised machine code: the host ISA (detected by
//! `cranelift_native`, optimised for speed), one `JITModule` per kernel with
//! the matmul routine as its only import, and the compiled code's lifetime.

use super::lower::Features;
use super::lower::{build_function, kernel_signature, matmul_signature};
use super::matmul::{neurojit_matmul, MatmulDesc, MATMUL_SYMBOL};
use super::schedule::schedule;
use super::JitOptions;
use crate::ir::Graph;
use crate::kernel::CompileError;
use cranelift_codegen::isa::OwnedTargetIsa;
use cranelift_codegen::settings::{self, Configurable};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{default_libcall_names, Linkage, Module};
use std::sync::OnceLock;

/// The compiled function: argument table, output table, scratch buffer.
pub(crate) type KernelFn = unsafe extern "C" fn(*const *const f32, *const *mut f32, *mut f32);

/// Machine code for one graph, with what it points to.
pub(crate) struct CompiledCode {
    module: Option<JITModule>,
    entry: KernelFn,
    /// Matmul descriptors whose addresses are embedded in the code.
    #[allow(clippy::vec_box)]
    _descriptors: Vec<Box<MatmulDesc>>,
    /// Floats of scratch memory each call needs.
    pub scratch_len: usize,
}

// SAFETY: after `finalize_definitions` the module is never used again except
// to free its memory when the code is dropped; the code itself and the
// descriptors it reads are immutable, so sharing them between threads is
// sound. Each call gets scratch memory no other call uses (see
// `compiled.rs`).
unsafe impl Send for CompiledCode {}
unsafe impl Sync for CompiledCode {}

impl CompiledCode {
    pub fn entry(&self) -> KernelFn {
        self.entry
    }
}

impl Drop for CompiledCode {
    fn drop(&mut self) {
        if let Some(module) = self.module.take() {
            // SAFETY: the last owner of the code is going away; no pointer
            // to the function survives it (kernels hold an `Arc` of this).
            unsafe { module.free_memory() };
        }
    }
}

/// Text forms of a kernel, for inspection.
#[derive(Clone, Debug, Default)]
pub(crate) struct Listing {
    /// CLIF as emitted, before Cranelift's optimisations.
    pub clif: String,
    /// CLIF after optimisation (egraph, LICM, legalisation).
    pub optimized_clif: String,
    /// Register-allocated machine code.
    pub asm: String,
}

fn codegen_error(what: &str, e: impl std::fmt::Display) -> CompileError {
    CompileError::Codegen(format!("{what}: {e}"))
}

/// The host ISA, built once per process.
fn host_isa() -> Result<OwnedTargetIsa, CompileError> {
    static ISA: OnceLock<Result<OwnedTargetIsa, String>> = OnceLock::new();
    ISA.get_or_init(|| {
        let mut flags = settings::builder();
        for (name, value) in [
            ("opt_level", "speed"),
            ("use_colocated_libcalls", "false"),
            ("is_pic", "false"),
            // Verification is `JitOptions::verify_ir`'s choice, per kernel.
            ("enable_verifier", "false"),
        ] {
            flags.set(name, value).map_err(|e| e.to_string())?;
        }
        let builder = cranelift_native::builder().map_err(|e| e.to_string())?;
        builder
            .finish(settings::Flags::new(flags))
            .map_err(|e| e.to_string())
    })
    .clone()
    .map_err(|e| codegen_error("host ISA", e))
}

/// What the generated code may use on this host under `options`.
pub(crate) fn host_features(options: &JitOptions) -> Result<Features, CompileError> {
    let isa = host_isa()?;
    Ok(Features {
        fma: options.allow_fma && isa.has_native_fma(),
        round: options.native_floor && isa.has_round(),
    })
}

/// Compiles `graph` to machine code; with `listing`, also returns its CLIF
/// and assembly text.
pub(crate) fn compile(
    graph: &Graph,
    options: &JitOptions,
    listing: bool,
) -> Result<(CompiledCode, Option<Listing>), CompileError> {
    let schedule = schedule(graph)?;
    let features = host_features(options)?;
    let isa = host_isa()?;
    let mut jit_builder = JITBuilder::with_isa(isa, default_libcall_names());
    jit_builder.symbol(MATMUL_SYMBOL, neurojit_matmul as *const u8);
    let mut module = JITModule::new(jit_builder);
    let call_conv = module.isa().default_call_conv();
    let matmul_id = module
        .declare_function(MATMUL_SYMBOL, Linkage::Import, &matmul_signature(call_conv))
        .map_err(|e| codegen_error("declaring the matmul routine", e))?;
    let kernel_id = module
        .declare_function("kernel", Linkage::Local, &kernel_signature(call_conv))
        .map_err(|e| codegen_error("declaring the kernel", e))?;

    let mut ctx = module.make_context();
    ctx.func.signature = kernel_signature(call_conv);
    let matmul_fn = module.declare_func_in_func(matmul_id, &mut ctx.func);
    let (descriptors, staged_len) = build_function(
        &mut ctx.func,
        module.isa().frontend_config(),
        graph,
        &schedule,
        features,
        options,
        matmul_fn,
    )?;
    let clif = if listing {
        ctx.func.display().to_string()
    } else {
        String::new()
    };
    if options.verify_ir {
        cranelift_codegen::verify_function(&ctx.func, module.isa())
            .map_err(|e| codegen_error("verifying the generated code", e))?;
    }
    ctx.set_disasm(listing);
    module
        .define_function(kernel_id, &mut ctx)
        .map_err(|e| codegen_error("compiling the kernel", format!("{e:?}")))?;
    let listing = listing.then(|| Listing {
        clif,
        optimized_clif: ctx.func.display().to_string(),
        asm: ctx
            .compiled_code()
            .and_then(|c| c.vcode.clone())
            .unwrap_or_default(),
    });
    module.clear_context(&mut ctx);
    module
        .finalize_definitions()
        .map_err(|e| codegen_error("finalising the kernel", e))?;
    let address = module.get_finalized_function(kernel_id);
    // SAFETY: the function was declared with `kernel_signature`, which is
    // this type under the host's C calling convention.
    let entry: KernelFn = unsafe { std::mem::transmute::<*const u8, KernelFn>(address) };
    Ok((
        CompiledCode {
            module: Some(module),
            entry,
            _descriptors: descriptors,
            scratch_len: schedule.scratch_len + staged_len,
        },
        listing,
    ))
}
