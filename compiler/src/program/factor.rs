//! Gathers the time-invariant factors of products so that hoisting can move
//! them into the prologue.
//!
//! The chain rule multiplies an adjoint by one local factor per op. For a
//! time constant that gives per-step chains like
//! `-((((g * alpha) * -dt) * r) * r)` where only `g` changes with time. This
//! pass flattens each such chain of `mul` and `neg` nodes (through operands
//! that are themselves time-varying products used nowhere else) and
//! regroups it as `(product of time-varying factors) * (product of the
//! others)`, so the second product is parameter-only and gets hoisted:
//! `g * -(alpha * -dt * r * r)`.
//!
//! A chain is regrouped only when that saves per-step work: at least two
//! invariant or constant factors, or one together with a negation.
//!
//! A chain is flattened through quotients that `reciprocal` turned into
//! products (`x * recip(d)`), so a reciprocal joins the other invariant
//! factors.
//!
//! Unlike the simplifier's rewrites this is not exact: reassociating a
//! product changes its rounding by a few ulps. So only gradient chains are
//! regrouped; values the forward outputs need are left as traced, since
//! their rounding decides spikes.

use super::hoist::{dependence_of_each_value, Dependence};
use super::{needed_by_forward, rebuild};
use crate::ir::{BinaryOp, Graph, Op, UnaryOp, Value};

/// `graph` with the invariant factors of time-varying products grouped;
/// same arguments and outputs. Replaced nodes are left dead (callers
/// extract or simplify afterwards).
pub(crate) fn factor_invariant_products(graph: &Graph) -> Graph {
    let dependence = dependence_of_each_value(graph);
    // Uses by live nodes only: the passes before this one leave the nodes
    // they replace dead.
    let live = graph.read_by(graph.outputs());
    let mut uses = vec![0usize; graph.len()];
    for v in graph.values().filter(|v| live[v.index()]) {
        for x in graph.op(v).operands() {
            uses[x.index()] += 1;
        }
    }
    for out in graph.outputs() {
        uses[out.value.index()] += 1;
    }
    let forward = needed_by_forward(graph);
    let is_varying_product = |v: Value| {
        let product = matches!(
            graph.op(v),
            Op::Binary(BinaryOp::Mul, ..) | Op::Unary(UnaryOp::Neg, _)
        );
        product && dependence[v.index()].on_time && !forward[v.index()]
    };

    rebuild(graph, |factored, v, copy_of| {
        if !is_varying_product(v) {
            return None;
        }
        let chain = flatten(graph, v, &|x| is_varying_product(x) && uses[x.index()] == 1);
        regroup(factored, &chain, &dependence, copy_of)
    })
}

/// The factors of a product chain and whether it is negated.
struct Chain {
    factors: Vec<Value>,
    negated: bool,
}

/// Flattens the product rooted at `root`, descending into operands for
/// which `inner` holds.
fn flatten(graph: &Graph, root: Value, inner: &dyn Fn(Value) -> bool) -> Chain {
    let mut chain = Chain {
        factors: Vec::new(),
        negated: false,
    };
    let mut pending = vec![root];
    while let Some(v) = pending.pop() {
        match *graph.op(v) {
            Op::Unary(UnaryOp::Neg, x) if v == root || inner(v) => {
                chain.negated = !chain.negated;
                pending.push(x);
            }
            Op::Binary(BinaryOp::Mul, a, b) if v == root || inner(v) => {
                pending.push(b);
                pending.push(a);
            }
            _ => chain.factors.push(v),
        }
    }
    chain
}

/// Builds `varying * invariant` for `chain` in `graph` (whose copies of the
/// source values are `copy_of`), or `None` when that would not save work.
fn regroup(
    graph: &mut Graph,
    chain: &Chain,
    dependence: &[Dependence],
    copy_of: &[Value],
) -> Option<Value> {
    let (varying, fixed): (Vec<Value>, Vec<Value>) = chain
        .factors
        .iter()
        .partition(|f| dependence[f.index()].on_time);
    let saves_work = fixed.len() >= 2 || (fixed.len() == 1 && chain.negated);
    if varying.is_empty() || !saves_work {
        return None;
    }
    let shape = graph.shape(copy_of[varying[0].index()]).clone();
    let mut product = |factors: &[Value]| {
        factors
            .iter()
            .map(|f| copy_of[f.index()])
            .reduce(|acc, f| graph.add_node(Op::Binary(BinaryOp::Mul, acc, f), shape.clone()))
    };
    let varying = product(&varying)?;
    let mut fixed = product(&fixed)?;
    if chain.negated {
        fixed = graph.add_node(Op::Unary(UnaryOp::Neg, fixed), shape.clone());
    }
    Some(graph.add_node(Op::Binary(BinaryOp::Mul, varying, fixed), shape))
}
