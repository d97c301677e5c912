//! Codegen for matmul steps: a call to `neurojit_matmul` (see
//! `matmul_shims.rs`) with a descriptor fixed at compile time.
//!
//! The method is chosen from the shapes: products with at most
//! `JitOptions::small_matmul` multiply-adds use the row loops (no packing
//! overhead; zero-skipping when the left operand is a spike count); larger
//! ones call the tuned GEMM, or, with `JitOptions::sparse_spikes` and a
//! non-transposed right operand, decide per call between GEMM and the
//! zero-skipping row loops by counting the left operand's zeros: spike
//! trains are mostly zeros, whether they come from a spike op or arrive as
//! a state or tape argument.

use super::matmul_shims::{MatmulDesc, MatmulMethod};
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
    let small = work <= options.small_matmul;
    let sparse = options.sparse_spikes && !transpose_rhs;
    let method = match (small, sparse) {
        (true, true) if is_spike_count(graph, lhs) => MatmulMethod::SparseRows,
        (true, _) => MatmulMethod::Rows,
        (false, true) => MatmulMethod::Adaptive,
        (false, false) => MatmulMethod::Gemm,
    };
    Some(MatmulDesc {
        m,
        k,
        n,
        transpose_lhs,
        transpose_rhs,
        accumulate,
        method,
    })
}

/// True when `v` is a spike count, possibly reshaped or gradient-stopped.
fn is_spike_count(graph: &Graph, v: Value) -> bool {
    match *graph.op(v) {
        Op::Spike { .. } => true,
        Op::Reshape(a) | Op::StopGradient(a) => is_spike_count(graph, a),
        Op::Constant(_)
        | Op::Arg(_)
        | Op::Unary(..)
        | Op::Binary(..)
        | Op::Compare(..)
        | Op::Select { .. }
        | Op::Broadcast(_)
        | Op::ReduceSum { .. }
        | Op::Matmul { .. } => false,
    }
}
