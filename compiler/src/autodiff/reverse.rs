//! The reverse sweep: walks the graph from its last node to its first,
//! handing each node's (complete) adjoint to its derivative rule and summing
//! the contributions each operand receives.
//!
//! Node order is topological, so when the walk reaches a node every user of
//! it has already been visited and its adjoint is final. Nodes appended by
//! the rules lie past the end of the walk and are never visited. A missing
//! adjoint means zero: nothing is built for it.

use super::rules;
use crate::ir::{Graph, GraphError, Value};

/// The adjoint of each `wrt` value, or `None` where the seeds do not depend
/// on it (its gradient is zero).
pub(super) fn adjoints(
    graph: &mut Graph,
    seeds: &[(Value, Value)],
    wrt: &[Value],
) -> Result<Vec<Option<Value>>, GraphError> {
    let walked = graph.len();
    let wanted = leads_to(graph, wrt);
    let mut adjoint_of: Vec<Option<Value>> = vec![None; walked];
    for &(value, seed) in seeds {
        if wanted[value.index()] {
            accumulate(graph, &mut adjoint_of, value, seed)?;
        }
    }
    for out in (0..walked as u32).rev().map(Value) {
        let Some(g) = adjoint_of[out.index()] else {
            continue;
        };
        for (operand, contribution) in rules::pullback(graph, out, g, &wanted)? {
            accumulate(graph, &mut adjoint_of, operand, contribution)?;
        }
    }
    Ok(wrt.iter().map(|w| adjoint_of[w.index()]).collect())
}

/// `wanted[v]`: `v` is in `wrt` or reads (transitively) a value that is.
/// Only these values need an adjoint.
fn leads_to(graph: &Graph, wrt: &[Value]) -> Vec<bool> {
    let mut wanted = vec![false; graph.len()];
    for w in wrt {
        wanted[w.index()] = true;
    }
    for v in graph.values() {
        if graph.op(v).operands().iter().any(|x| wanted[x.index()]) {
            wanted[v.index()] = true;
        }
    }
    wanted
}

/// Adds `contribution` to the adjoint of `value`, checking its shape.
fn accumulate(
    graph: &mut Graph,
    adjoint_of: &mut [Option<Value>],
    value: Value,
    contribution: Value,
) -> Result<(), GraphError> {
    if graph.shape(contribution) != graph.shape(value) {
        return Err(GraphError::Expected {
            what: format!("adjoint of %{}", value.0),
            expected: graph.shape(value).clone(),
            got: graph.shape(contribution).clone(),
        });
    }
    let sum = match adjoint_of[value.index()] {
        None => contribution,
        Some(previous) => graph.add(previous, contribution)?,
    };
    adjoint_of[value.index()] = Some(sum);
    Ok(())
}
