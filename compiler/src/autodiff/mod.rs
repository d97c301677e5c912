//! Reverse-mode symbolic differentiation: gradients are built as ordinary
//! nodes of the same graph, so they go through the same simplifier,
//! interpreter and code generator as the forward pass.
//!
//! `rules` holds the derivative of every op; `reverse` walks the graph and
//! sums adjoints.
//!
//! ```
//! use neurojit_compiler::autodiff::backprop;
//! use neurojit_compiler::ir::{ArgKind, Graph, Shape};
//!
//! let mut g = Graph::new();
//! let x = g.arg(ArgKind::Param, 0, "x", Shape::from([3]));
//! let y = g.exp(x);
//! let loss = g.sum_all(y);
//! let one = g.scalar(1.0);
//! let dx = backprop(&mut g, &[(loss, one)], &[x]).unwrap();
//! assert_eq!(g.shape(dx[0]), &Shape::from([3]));
//! ```

mod reverse;
mod rules;

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
    let adjoints = gradients(graph, seeds, wrt)?;
    let mut result = Vec::with_capacity(wrt.len());
    for (&w, adjoint) in wrt.iter().zip(adjoints) {
        result.push(match adjoint {
            Some(a) => a,
            None => graph.constant(0.0, graph.shape(w).clone()),
        });
    }
    Ok(result)
}

/// Like [`backprop`], but gives `None` instead of a zero constant for a value
/// the seeds do not depend on, so callers can skip it.
pub fn gradients(
    graph: &mut Graph,
    seeds: &[(Value, Value)],
    wrt: &[Value],
) -> Result<Vec<Option<Value>>, GraphError> {
    for &(value, adjoint) in seeds {
        if graph.shape(value) != graph.shape(adjoint) {
            return Err(GraphError::Expected {
                what: format!("seed adjoint of %{}", value.0),
                expected: graph.shape(value).clone(),
                got: graph.shape(adjoint).clone(),
            });
        }
    }
    reverse::adjoints(graph, seeds, wrt)
}
