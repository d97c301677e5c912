//! Builds the one Cranelift function that computes a scheduled graph.
//!
//! Signature (System V on x86-64):
//! `extern "C" fn(args: *const *const f32, outputs: *const *mut f32, scratch: *mut f32)`
//! — a table of argument buffers in `graph.args()` order, a table of output
//! buffers in `graph.outputs()` order, and the kernel's scratch buffer. The
//! body runs the schedule's steps in order: loops (`loops.rs`), matmuls
//! (`matmuls.rs`: inline code or calls) and transposes (`transposes.rs`).
//! Buffer base addresses are loaded once, at the top level, so every later
//! step can use them; first, small arguments that a loop short of
//! registers rereads every row are copied into scratch (`staging.rs`).
//!
//! A loop is planned into strided accesses (`loop_plan.rs`, with the index
//! math of `access.rs`) and emitted as a body of two `f32x4` vectors per
//! iteration and a tail, one rule per op (`elementwise.rs`, with `math.rs`
//! for exp/log/floor and `reduce.rs` for the sums' start values); `simd.rs`
//! holds the vector helpers and `constants.rs` the vector constants. A
//! matmul step's code comes from `matmuls.rs`; the calls it emits go
//! through [`Emitter::call_matmul`], which keeps their descriptors alive.

mod access;
mod constants;
mod elementwise;
mod loop_plan;
mod loops;
mod math;
pub(super) mod matmuls;
mod reduce;
mod simd;
pub(super) mod staging;
mod transposes;

use super::matmul::{DenseMethod, MatmulDesc};
use super::schedule::{Home, Schedule, StepKind};
use super::JitOptions;
use crate::ir::{Graph, Value};
use crate::kernel::CompileError;
use constants::VectorConstants;
use cranelift_codegen::ir::types::I64;
use cranelift_codegen::ir::{
    AbiParam, FuncRef, Function, InstBuilder, MemFlagsData, Signature, Value as ClifValue,
};
use cranelift_codegen::isa::{CallConv, TargetFrontendConfig};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
pub(super) use simd::Features;
use std::collections::HashMap;

/// The kernel function's signature.
pub(crate) fn kernel_signature(call_conv: CallConv) -> Signature {
    let mut sig = Signature::new(call_conv);
    for _ in 0..3 {
        sig.params.push(AbiParam::new(I64));
    }
    sig
}

/// The signature of `neurojit_matmul(desc, a, b, c)`.
pub(crate) fn matmul_signature(call_conv: CallConv) -> Signature {
    let mut sig = Signature::new(call_conv);
    for _ in 0..4 {
        sig.params.push(AbiParam::new(I64));
    }
    sig
}

/// State shared by the step emitters while one function is built.
pub(crate) struct Emitter<'a, 'f> {
    pub b: FunctionBuilder<'f>,
    pub graph: &'a Graph,
    pub schedule: &'a Schedule,
    pub features: Features,
    pub options: &'a JitOptions,
    /// The vector constants the kernel's loops use.
    pub constants: &'a VectorConstants,
    args_table: ClifValue,
    outputs_table: ClifValue,
    pub(crate) scratch: ClifValue,
    bases: HashMap<Home, ClifValue>,
    matmul_fn: FuncRef,
    /// Descriptors whose addresses the code embeds; they must live as long
    /// as the code (boxed so each keeps its address as the vector grows).
    #[allow(clippy::vec_box)]
    descriptors: Vec<Box<MatmulDesc>>,
    /// Arguments copied into scratch at the kernel's entry.
    pub staging: staging::Staging,
}

/// Fills `func` (whose signature must be [`kernel_signature`]) with the code
/// for `schedule`, calling matmuls through `matmul_fn`. Returns the matmul
/// descriptors the code points to.
#[allow(clippy::too_many_arguments, clippy::vec_box)]
pub(crate) fn build_function(
    func: &mut Function,
    frontend: TargetFrontendConfig,
    graph: &Graph,
    schedule: &Schedule,
    features: Features,
    options: &JitOptions,
    matmul_fn: FuncRef,
) -> Result<(Vec<Box<MatmulDesc>>, usize), CompileError> {
    let mut fctx = FunctionBuilderContext::new();
    let mut b = FunctionBuilder::new(func, &mut fctx);
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    let params = b.block_params(entry).to_vec();
    // Constants go to stack slots when a matmul routine is called (see
    // `constants.rs`).
    let calls_out = schedule
        .order
        .iter()
        .any(|&step| match schedule.steps[step].kind {
            StepKind::Matmul { value, accumulate } => {
                matmuls::describe(graph, value, accumulate, options)
                    .is_none_or(|d| d.dense != DenseMethod::Inline)
            }
            StepKind::Loop(_) | StepKind::Transpose { .. } => false,
        });
    let constants = VectorConstants::new(calls_out);
    let mut e = Emitter {
        b,
        graph,
        schedule,
        features,
        options,
        constants: &constants,
        args_table: params[0],
        outputs_table: params[1],
        scratch: params[2],
        bases: HashMap::new(),
        matmul_fn,
        descriptors: Vec::new(),
        staging: staging::choose(graph, schedule, options),
    };
    staging::emit_copies(&mut e);
    for &step in &schedule.order {
        match &schedule.steps[step].kind {
            StepKind::Loop(l) => loops::emit(&mut e, l)?,
            StepKind::Matmul { value, accumulate } => matmuls::emit(&mut e, *value, *accumulate)?,
            StepKind::Transpose { value } => transposes::emit(&mut e, *value)?,
        }
    }
    e.b.ins().return_(&[]);
    e.b.seal_all_blocks();
    let descriptors = std::mem::take(&mut e.descriptors);
    let staged_len = e.staging.len;
    e.b.finalize(frontend);
    constants.store_all(func);
    Ok((descriptors, staged_len))
}

impl Emitter<'_, '_> {
    /// The buffer holding `v`, or an error naming it when the schedule gave
    /// it none (a scheduler bug, reported instead of crashing).
    pub fn home(&self, v: Value) -> Result<Home, CompileError> {
        self.schedule.homes[v.index()].ok_or_else(|| {
            CompileError::Codegen(format!(
                "value %{} = {} has no buffer",
                v.0,
                self.graph.describe(v)
            ))
        })
    }

    /// The address of a buffer, computed once at the top level of the
    /// function. Call only while the builder is positioned at the top level
    /// (before a step's loops), so the value dominates all later code.
    pub fn base(&mut self, home: Home) -> ClifValue {
        if let Some(&v) = self.bases.get(&home) {
            return v;
        }
        let table_flags = MemFlagsData::trusted().with_readonly().with_can_move();
        let v = match home {
            Home::Arg(i) => self
                .b
                .ins()
                .load(I64, table_flags, self.args_table, (8 * i) as i32),
            Home::Output(i) => {
                self.b
                    .ins()
                    .load(I64, table_flags, self.outputs_table, (8 * i) as i32)
            }
            Home::Scratch(offset) => self.b.ins().iadd_imm_s(self.scratch, (4 * offset) as i64),
        };
        self.bases.insert(home, v);
        v
    }

    /// Emits a call of the matmul routine with `desc`, which is kept alive
    /// as long as the code that embeds its address.
    pub fn call_matmul(&mut self, desc: MatmulDesc, (a, b, c): (ClifValue, ClifValue, ClifValue)) {
        let desc = Box::new(desc);
        let desc_address = &*desc as *const MatmulDesc as i64;
        self.descriptors.push(desc);
        let d = self.b.ins().iconst(I64, desc_address);
        self.b.ins().call(self.matmul_fn, &[d, a, b, c]);
    }
}
