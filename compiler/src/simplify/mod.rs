//! The simplifier: constant folding, exact algebraic identities,
//! common-subexpression elimination and dead-code elimination.
//!
//! It runs after autodiff, on any graph (forward, backward, optimiser). Every
//! rewrite it makes is exact in IEEE f32 with the interpreter's semantics:
//! the simplified graph computes bit-identical outputs, up to the payload and
//! sign of NaNs (see `docs/simplifier.md` for the list of rewrites and the
//! ones deliberately left out).
//!
//! One round rebuilds the graph node by node in topological order through a
//! [`Rebuilder`]: each node, with its operands already rebuilt, is first
//! constant-folded ([`fold`]), then matched against the identities
//! ([`identities`]), and only then added with `Graph::add_node`, whose
//! hash-consing merges identical nodes (CSE). A rewrite that builds new nodes
//! sends them through the same path, so they are simplified too. Dead-code
//! elimination ([`dce`]) then keeps only what the outputs read. Rounds repeat
//! until the graph stops changing, which makes `simplify` idempotent.

mod dce;
mod fold;
mod identities;
mod zero_sign;

use crate::interp::live_values;
use crate::ir::{F32Bits, Graph, Op, Shape, Value};

/// More rounds than any graph has needed: one round normally reaches the
/// fixpoint and the second only confirms it.
const MAX_ROUNDS: usize = 8;

/// Returns a simplified copy of `graph` with the same arguments (same order,
/// kinds, slots, names and shapes, used or not) and the same outputs (kinds,
/// slots, names, accumulate flags), computing the same values.
///
/// ```
/// use neurojit_compiler::ir::{ArgKind, Graph, OutKind, Shape};
/// use neurojit_compiler::simplify::simplify;
///
/// let mut g = Graph::new();
/// let x = g.arg(ArgKind::Input, 0, "x", Shape::from([3]));
/// let y = g.scale(x, 1.0);
/// let z = g.neg(y);
/// let w = g.neg(z);
/// g.output(OutKind::Prediction, 0, "y", w);
/// assert_eq!(simplify(&g).to_string(), "%0:f32[3] = input x\nout prediction y = %0\n");
/// ```
pub fn simplify(graph: &Graph) -> Graph {
    let mut current = simplify_round(graph);
    for _ in 1..MAX_ROUNDS {
        let next = simplify_round(&current);
        if same_graph(&next, &current) {
            break;
        }
        current = next;
    }
    current
}

/// One round: rewrite every live node, then drop what became dead.
fn simplify_round(graph: &Graph) -> Graph {
    let mut rebuilder = Rebuilder::new(graph);
    let mut rebuilt: Vec<Option<Value>> = vec![None; graph.len()];
    for v in live_values(graph) {
        let op = graph
            .op(v)
            .map_operands(|operand| rebuilt[operand.index()].expect("operands precede users"));
        rebuilt[v.index()] = Some(rebuilder.emit(op, graph.shape(v).clone()));
    }
    let mut rewritten = rebuilder.finish();
    let outputs = graph
        .outputs()
        .iter()
        .map(|out| {
            let mut out = out.clone();
            out.value = rebuilt[out.value.index()].expect("outputs are live");
            out
        })
        .collect();
    rewritten.set_outputs(outputs);
    dce::eliminate_dead_code(&rewritten)
}

/// Same nodes in the same order and same outputs (arguments never change).
fn same_graph(a: &Graph, b: &Graph) -> bool {
    a.nodes() == b.nodes() && a.outputs() == b.outputs()
}

/// Builds the simplified graph: every node goes through [`Rebuilder::emit`],
/// which folds, rewrites and hash-conses it.
struct Rebuilder {
    graph: Graph,
    /// For each node of `graph`: true when it can never hold `-0.0`
    /// (see [`zero_sign`]).
    never_negative_zero: Vec<bool>,
}

impl Rebuilder {
    /// An empty graph with the arguments of `source`.
    fn new(source: &Graph) -> Rebuilder {
        let mut graph = Graph::new();
        graph.set_args(source.args().to_vec());
        Rebuilder {
            graph,
            never_negative_zero: Vec::new(),
        }
    }

    fn finish(self) -> Graph {
        self.graph
    }

    /// The graph built so far; operands passed to `emit` live in it.
    fn graph(&self) -> &Graph {
        &self.graph
    }

    /// The value computing `op` (whose operands are values of this graph)
    /// with result `shape`: a constant if it folds, a simpler value if an
    /// identity applies, otherwise the (hash-consed) node itself.
    fn emit(&mut self, op: Op, shape: Shape) -> Value {
        if let Some(x) = fold::fold(&self.graph, &op) {
            return self.add(Op::Constant(F32Bits::new(x)), shape);
        }
        if let Some(v) = identities::rewrite(self, &op, &shape) {
            // Every identity preserves the shape; the check keeps a wrong
            // rule from corrupting the graph in release builds.
            debug_assert_eq!(self.graph.shape(v), &shape, "identity changed a shape");
            if self.graph.shape(v) == &shape {
                return v;
            }
        }
        self.add(op, shape)
    }

    /// A splat constant of `shape`.
    fn constant(&mut self, x: f32, shape: Shape) -> Value {
        self.add(Op::Constant(F32Bits::new(x)), shape)
    }

    /// True when `v` can never hold `-0.0`, whatever the arguments.
    fn never_negative_zero(&self, v: Value) -> bool {
        self.never_negative_zero[v.index()]
    }

    /// Adds a node as is (no folding, no rewriting).
    fn add(&mut self, op: Op, shape: Shape) -> Value {
        let v = self.graph.add_node(op, shape);
        if v.index() == self.never_negative_zero.len() {
            let fact = zero_sign::never_negative_zero(&self.graph, v, &self.never_negative_zero);
            self.never_negative_zero.push(fact);
        }
        v
    }
}
