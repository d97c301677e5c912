//! Inspection: the Cranelift IR and machine code the JIT emits for a graph,
//! as Cranelift prints them. Compiling for inspection does not touch the
//! kernel cache.

use super::lower::{matmuls, staging};
use super::module::{compile, Listing};
use super::schedule::{schedule, Home, StepKind, StoreTarget};
use super::JitOptions;
use crate::ir::{Graph, Op};
use crate::kernel::CompileError;
use std::fmt::Write;

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

/// The kernel's plan, one line per step: each fused loop with its domain,
/// the values it computes and what it writes; each matmul with its method.
/// Scratch buffers are `s@offset`, outputs `out#i`, arguments `arg#i`;
/// a `staged` line lists the arguments copied into scratch at the
/// kernel's entry (see `lower/staging.rs`).
pub fn schedule_text(graph: &Graph) -> Result<String, CompileError> {
    schedule_text_with(graph, &JitOptions::default())
}

/// [`schedule_text`] under the given options.
pub fn schedule_text_with(graph: &Graph, options: &JitOptions) -> Result<String, CompileError> {
    let plan = schedule(graph)?;
    let home = |v: crate::ir::Value| match plan.homes[v.index()] {
        Some(Home::Arg(i)) => format!("arg#{i}"),
        Some(Home::Output(i)) => format!("out#{i}"),
        Some(Home::Scratch(o)) => format!("s@{o}"),
        None => "-".to_string(),
    };
    let mut text = String::new();
    for &step in &plan.order {
        let _ = match &plan.steps[step].kind {
            StepKind::Loop(l) => {
                let computed: Vec<String> = l.members.iter().map(|m| format!("%{}", m.0)).collect();
                let stores: Vec<String> = l
                    .stores
                    .iter()
                    .map(|s| match s.target {
                        StoreTarget::Home => format!("%{}->{}", s.value.0, home(s.value)),
                        StoreTarget::Output { index, accumulate } => {
                            let verb = if accumulate { "+>" } else { "->" };
                            format!("%{}{verb}out#{index}", s.value.0)
                        }
                    })
                    .collect();
                writeln!(
                    text,
                    "loop {}: computes {} | writes {}",
                    l.domain,
                    computed.join(" "),
                    stores.join(" ")
                )
            }
            StepKind::Matmul { value, accumulate } => {
                let method = matmuls::describe(graph, *value, *accumulate, options)
                    .map(|d| d.method_text())
                    .unwrap_or_default();
                let Op::Matmul { lhs, rhs, .. } = *graph.op(*value) else {
                    return Err(misscheduled(graph, *value, "matmul"));
                };
                let (lhs, rhs) = (lhs.0, rhs.0);
                let verb = if *accumulate { "+=" } else { "=" };
                writeln!(
                    text,
                    "matmul {} {verb} %{lhs} @ %{rhs} ({method}) -> {}",
                    graph.shape(*value),
                    home(*value)
                )
            }
            StepKind::Transpose { value } => {
                let Op::Transpose(operand) = *graph.op(*value) else {
                    return Err(misscheduled(graph, *value, "transpose"));
                };
                let operand = operand.0;
                writeln!(
                    text,
                    "transpose {} = %{operand}ᵀ -> {}",
                    graph.shape(*value),
                    home(*value)
                )
            }
        };
    }
    let staged = staging::choose(graph, &plan, options);
    if !staged.places.is_empty() {
        let places: Vec<String> = (staged.places.iter())
            .map(|(arg, (offset, _))| format!("arg#{arg}->s@{offset}"))
            .collect();
        let _ = writeln!(text, "staged: {}", places.join(" "));
    }
    let _ = writeln!(text, "scratch: {} floats", plan.scratch_len + staged.len);
    Ok(text)
}

/// The error for a step whose node is not of the step's kind (a scheduler
/// bug, reported instead of printed wrongly).
fn misscheduled(graph: &Graph, v: crate::ir::Value, kind: &str) -> CompileError {
    CompileError::Codegen(format!("`{}` was scheduled as a {kind}", graph.describe(v)))
}
