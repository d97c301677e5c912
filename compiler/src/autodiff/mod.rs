//! Reverse-mode symbolic differentiation: gradients are built as ordinary
//! nodes of the same graph, so they go through the same simplifier,
//! interpreter and code generator as the forward pass.

use crate::ir::{Graph, GraphError, Value};

/// Appends to `graph` the nodes that compute, for each value in `wrt`, the
/// gradient of `sum_i <adjoint_i, value_i>` over the `seeds` pairs
/// `(value_i, adjoint_i)` (each adjoint has its value's shape). A value in
/// `wrt` that the seeds do not depend on gets a zero constant.
pub fn backprop(
    graph: &mut Graph,
    seeds: &[(Value, Value)],
    wrt: &[Value],
) -> Result<Vec<Value>, GraphError> {
    let _ = (graph, seeds, wrt);
    todo!("reverse-mode autodiff")
}
