//! neurojit-compiler: the graph IR, its tracing builder, symbolic autodiff,
//! the simplifier, the interpreter and the Cranelift code generator. It knows
//! tensors and ops, not neurons.

pub mod autodiff;
pub mod interp;
pub mod ir;
pub mod jit;
pub mod kernel;
pub mod program;
pub mod simplify;
