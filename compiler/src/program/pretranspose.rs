//! Gives products with a transposed parameter-only operand a transposed
//! copy of it, so that hoisting moves the transpose into the prologue.
//!
//! Back-propagating through `x @ W` gives `g @ Wᵀ` every timestep. Read in
//! place, `Wᵀ` is a strided operand: the JIT's matmul routine copies it (or
//! the other operand and the result) on every call, and the interpreter
//! walks it across rows. Rewritten as `g @ transpose(W)`, the transpose
//! depends on parameters only, so the prologue computes it once per call and
//! the step reads a plain row-major operand. The rewrite is exact: a product
//! with a transposed copy sums the same terms in the same order.

use super::hoist::dependence_of_each_value;
use super::rebuild;
use crate::ir::{Graph, Op, Value};

/// `graph` with every time-varying product that reads a transposed
/// parameter-only operand rewritten to read `transpose(operand)` instead;
/// same arguments and outputs. Replaced nodes are left dead (callers
/// extract or simplify afterwards).
pub(crate) fn pretranspose_invariant_operands(graph: &Graph) -> Graph {
    let dependence = dependence_of_each_value(graph);
    let invariant = |v: Value| dependence[v.index()].is_invariant();
    rebuild(graph, |rewritten, v, copy_of| {
        let Op::Matmul {
            lhs,
            rhs,
            transpose_lhs,
            transpose_rhs,
        } = *graph.op(v)
        else {
            return None;
        };
        if !dependence[v.index()].on_time {
            return None;
        }
        // Matmul operands are 2-D, so `transpose` succeeds; were it to fail,
        // the operand keeps its flag.
        let mut pretransposed = |x: Value, flag: bool| {
            let copy = copy_of[x.index()];
            if !(flag && invariant(x)) {
                return (copy, flag);
            }
            match rewritten.transpose(copy) {
                Ok(t) => (t, false),
                Err(_) => (copy, flag),
            }
        };
        let (new_lhs, flag_lhs) = pretransposed(lhs, transpose_lhs);
        let (new_rhs, flag_rhs) = pretransposed(rhs, transpose_rhs);
        let op = Op::Matmul {
            lhs: new_lhs,
            rhs: new_rhs,
            transpose_lhs: flag_lhs,
            transpose_rhs: flag_rhs,
        };
        Some(rewritten.add_node(op, graph.shape(v).clone()))
    })
}
