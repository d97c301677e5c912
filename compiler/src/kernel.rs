//! The interface every backend implements: a graph compiled into something
//! that can be called on buffers. The runtime only ever sees this.

use crate::ir::{Graph, Shape};
use thiserror::Error;

/// The most elements one value of a graph may hold: 2^28 floats, 1 GiB.
/// Shapes come from user code and files; beyond this a graph is refused
/// when compiled, so that no element count wraps and no buffer asks for
/// more memory than a machine has.
pub const MAX_VALUE_ELEMENTS: usize = 1 << 28;

/// A compiled graph. `args` are given in `graph.args()` order and `outputs`
/// in `graph.outputs()` order, each a flat row-major buffer of exactly the
/// value's element count. Outputs marked `accumulate` are added into.
pub trait Kernel: Send + Sync {
    fn run(&self, args: &[&[f32]], outputs: &mut [&mut [f32]]) -> Result<(), KernelError>;

    /// Runs on tables of raw buffer addresses, without checking them: the
    /// runtime's hot path, which checks its buffers once when it binds them.
    ///
    /// # Safety
    /// `args[i]` must point to `graph.args()[i].shape.numel()` readable
    /// floats and `outputs[j]` to as many writable floats as output `j` has
    /// elements, all valid for the duration of the call; no output buffer
    /// may overlap another output or any argument.
    unsafe fn run_unchecked(&self, args: &[*const f32], outputs: &[*mut f32]);

    /// Floats of caller-owned memory [`Kernel::run_unchecked_with_scratch`]
    /// needs; 0 when the kernel needs none (or keeps its own).
    fn scratch_len(&self) -> usize {
        0
    }

    /// [`Kernel::run_unchecked`] with working memory the caller owns, so
    /// that a call need not take the kernel's own (a lock per call).
    ///
    /// # Safety
    /// As for `run_unchecked`; `scratch` must hold at least
    /// [`Kernel::scratch_len`] floats and overlap no argument or output.
    unsafe fn run_unchecked_with_scratch(
        &self,
        args: &[*const f32],
        outputs: &[*mut f32],
        scratch: &mut [f32],
    ) {
        let _ = scratch;
        // SAFETY: forwarded from the caller.
        unsafe { self.run_unchecked(args, outputs) }
    }
}

/// Turns graphs into kernels.
pub trait Backend: Send + Sync {
    fn name(&self) -> &'static str;
    fn compile(&self, graph: &Graph) -> Result<Box<dyn Kernel>, CompileError>;
}

#[derive(Debug, Error, Clone, PartialEq)]
pub enum KernelError {
    #[error(transparent)]
    Compile(#[from] CompileError),
    #[error("expected {expected} argument buffers, got {got}")]
    ArgCount { expected: usize, got: usize },
    #[error("expected {expected} output buffers, got {got}")]
    OutputCount { expected: usize, got: usize },
    #[error("buffer for {what} `{name}` holds {got} values, expected {expected}")]
    BufferLength {
        what: &'static str,
        name: String,
        expected: usize,
        got: usize,
    },
}

#[derive(Debug, Error, Clone, PartialEq)]
pub enum CompileError {
    #[error("the {backend} backend does not support `{op}`")]
    Unsupported { backend: &'static str, op: String },
    #[error("code generation failed: {0}")]
    Codegen(String),
    #[error(
        "value %{value} has shape {shape}: expected at most {MAX_VALUE_ELEMENTS} elements \
         (1 GiB of f32) per value"
    )]
    TooLarge { value: usize, shape: Shape },
    #[error("malformed graph: {0}")]
    Malformed(String),
}

/// Refuses a graph that its builder could not have made (see
/// [`crate::ir::verify`]) or with a value of more than
/// [`MAX_VALUE_ELEMENTS`] elements (or whose count overflows). Every
/// backend calls this when it compiles: generated code loops over the
/// dimensions, and the buffers it is handed are checked against the
/// element counts.
pub fn check_graph(graph: &Graph) -> Result<(), CompileError> {
    crate::ir::verify(graph).map_err(CompileError::Malformed)?;
    for (value, node) in graph.nodes().iter().enumerate() {
        if node
            .shape
            .checked_numel()
            .is_none_or(|n| n > MAX_VALUE_ELEMENTS)
        {
            return Err(CompileError::TooLarge {
                value,
                shape: node.shape.clone(),
            });
        }
    }
    // An argument no node reads still gets a buffer length from its shape.
    if let Some(arg) = graph.args().iter().find(|a| {
        a.shape
            .checked_numel()
            .is_none_or(|n| n > MAX_VALUE_ELEMENTS)
    }) {
        return Err(CompileError::Malformed(format!(
            "argument `{}` has shape {}: expected at most {MAX_VALUE_ELEMENTS} elements",
            arg.name, arg.shape
        )));
    }
    Ok(())
}

/// Checks buffer counts and lengths against the graph's signature. Every
/// backend calls this before touching memory, so a kernel never reads or
/// writes outside the buffers it is handed.
pub fn check_buffers(
    graph: &Graph,
    args: &[&[f32]],
    outputs: &[&mut [f32]],
) -> Result<(), KernelError> {
    if args.len() != graph.args().len() {
        return Err(KernelError::ArgCount {
            expected: graph.args().len(),
            got: args.len(),
        });
    }
    if outputs.len() != graph.outputs().len() {
        return Err(KernelError::OutputCount {
            expected: graph.outputs().len(),
            got: outputs.len(),
        });
    }
    for (arg, buffer) in graph.args().iter().zip(args) {
        if buffer.len() != arg.shape.numel() {
            return Err(KernelError::BufferLength {
                what: "argument",
                name: arg.name.clone(),
                expected: arg.shape.numel(),
                got: buffer.len(),
            });
        }
    }
    for (out, buffer) in graph.outputs().iter().zip(outputs) {
        let expected = graph.shape(out.value).numel();
        if buffer.len() != expected {
            return Err(KernelError::BufferLength {
                what: "output",
                name: out.name.clone(),
                expected,
                got: buffer.len(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{ArgKind, OutKind};

    fn copy_of(dims: &[usize]) -> Graph {
        let mut g = Graph::new();
        let x = g.arg(ArgKind::Input, 0, "x", Shape::new(dims));
        let y = g.neg(x);
        g.output(OutKind::Record, 0, "y", y);
        g
    }

    #[test]
    fn the_size_limit_is_inclusive() {
        // Checked without allocating anything.
        assert!(check_graph(&copy_of(&[1 << 14, 1 << 14])).is_ok());
        let err = check_graph(&copy_of(&[(1 << 28) + 1])).unwrap_err();
        assert!(
            matches!(err, CompileError::TooLarge { value: 0, .. }),
            "{err}"
        );
        let err = check_graph(&copy_of(&[1 << 32, 1 << 32])).unwrap_err();
        assert!(err.to_string().contains("[4294967296,4294967296]"), "{err}");
        // An argument that no node reads gets a buffer all the same.
        let mut unread = copy_of(&[2]);
        let mut args = unread.args().to_vec();
        args.push(crate::ir::Arg {
            kind: ArgKind::Input,
            slot: 1,
            name: "unread".into(),
            shape: Shape::new(&[1 << 32, 1 << 32]),
        });
        unread.set_args(args);
        let err = check_graph(&unread).unwrap_err();
        assert!(err.to_string().contains("argument `unread`"), "{err}");
    }
}
