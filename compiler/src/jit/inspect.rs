//! Inspection: the Cranelift IR and machine code the JIT emits for a graph,
//! as Cranelift prints them. Compiling for inspection does not touch the
//! kernel cache.

use super::module::{compile, Listing};
use super::JitOptions;
use crate::ir::Graph;
use crate::kernel::CompileError;

fn listing(graph: &Graph, options: &JitOptions) -> Result<Listing, CompileError> {
    let (_code, listing) = compile(graph, options, true)?;
    listing.ok_or_else(|| CompileError::Codegen("no listing was produced".to_string()))
}

/// The kernel function's CLIF as emitted, before Cranelift optimises it.
pub fn clif_text_with(graph: &Graph, options: &JitOptions) -> Result<String, CompileError> {
    Ok(listing(graph, options)?.clif)
}

/// The kernel function's CLIF after Cranelift's optimisations (GVN, LICM,
/// alias analysis, legalisation): what instruction selection sees.
pub fn optimized_clif_text_with(
    graph: &Graph,
    options: &JitOptions,
) -> Result<String, CompileError> {
    Ok(listing(graph, options)?.optimized_clif)
}

/// The kernel's register-allocated machine code, one instruction a line.
pub fn asm_text_with(graph: &Graph, options: &JitOptions) -> Result<String, CompileError> {
    Ok(listing(graph, options)?.asm)
}

/// [`clif_text_with`] under default options.
pub fn clif_text(graph: &Graph) -> Result<String, CompileError> {
    clif_text_with(graph, &JitOptions::default())
}

/// [`optimized_clif_text_with`] under default options.
pub fn optimized_clif_text(graph: &Graph) -> Result<String, CompileError> {
    optimized_clif_text_with(graph, &JitOptions::default())
}

/// [`asm_text_with`] under default options.
pub fn asm_text(graph: &Graph) -> Result<String, CompileError> {
    asm_text_with(graph, &JitOptions::default())
}
