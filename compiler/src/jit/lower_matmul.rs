//! Codegen for matmul steps: a call to `neurojit_matmul` (see
//! `matmul_shims.rs`) with a descriptor fixed at compile time.
//!
//! The methods come from the options: the blocked kernels unless
//! `JitOptions::exact_matmul` asks for the interpreter's order or the
//! product reaches `JitOptions::packed_gemm_from`; with
//! `JitOptions::sparse_spikes`, every product checks at each call whether
//! its left operand is mostly zeros (spike trains often are, whether they
//! come from a spike op or arrive as a state or tape argument, but not
//! always).

use super::matmul_shims::{DenseMethod, MatmulDesc, ZeroSkipping};
use super::JitOptions;
use crate::ir::{Graph, Op, Value};

/// The descriptor for matmul node `v`, writing (or adding into) its result.
pub(crate) fn describe(
    graph: &Graph,
    v: Value,
    accumulate: bool,
    options: &JitOptions,
) -> Option<MatmulDesc> {
    let Op::Matmul {
        lhs,
        rhs: _,
        transpose_lhs,
        transpose_rhs,
    } = *graph.op(v)
    else {
        return None;
    };
    let (m, n) = (graph.shape(v).dims()[0], graph.shape(v).dims()[1]);
    let lhs_dims = graph.shape(lhs).dims();
    let k = if transpose_lhs {
        lhs_dims[0]
    } else {
        lhs_dims[1]
    };
    let work = m.saturating_mul(k).saturating_mul(n);
    let dense = if options.exact_matmul {
        DenseMethod::Exact
    } else if work >= options.packed_gemm_from {
        DenseMethod::Gemm
    } else {
        DenseMethod::Blocked
    };
    let zeros = if options.sparse_spikes {
        ZeroSkipping::WhenSparse
    } else {
        ZeroSkipping::Never
    };
    Some(MatmulDesc {
        m,
        k,
        n,
        transpose_lhs,
        transpose_rhs,
        accumulate,
        dense,
        zeros,
    })
}
