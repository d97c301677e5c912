//! neurojit-runtime: the thin executor. It owns the buffers (parameters,
//! gradients, optimiser moments, state, the per-timestep tape, inputs and
//! targets) and loops over time calling compiled kernels. The same API runs
//! whichever backend compiled them: the JIT or the interpreter.

mod binding;
mod buffers;
mod error;
mod optimizer;
mod session;
mod sharded;

pub use buffers::{check_buffer_sizes, fits_in_buffer, MAX_BUFFER_ELEMENTS};
pub use error::RuntimeError;
pub use optimizer::Optimizer;
pub use session::{LossParts, Session};
pub use sharded::{ShardedSession, MAX_THREADS};

use neurojit_compiler::interp::Interpreter;
use neurojit_compiler::jit::Jit;
use neurojit_compiler::kernel::Backend;
use std::sync::OnceLock;

/// The backends a session can run on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BackendKind {
    /// Cranelift-compiled fused kernels.
    Jit,
    /// The op-by-op interpreter (the reference and the baseline).
    Interp,
}

impl BackendKind {
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Jit => "jit",
            BackendKind::Interp => "interp",
        }
    }

    pub fn parse(name: &str) -> Option<BackendKind> {
        match name {
            "jit" => Some(BackendKind::Jit),
            "interp" => Some(BackendKind::Interp),
            _ => None,
        }
    }

    pub fn backend(self) -> Box<dyn Backend> {
        match self {
            BackendKind::Jit => jit_backend(),
            BackendKind::Interp => Box::new(Interpreter),
        }
    }
}

/// One JIT for the whole process, so that every session shares its kernel
/// cache: a network shape is compiled once, however many sessions use it.
fn jit_backend() -> Box<dyn Backend> {
    static JIT: OnceLock<Jit> = OnceLock::new();
    Box::new(JIT.get_or_init(Jit::new).clone())
}
