//! Quotients by parameters become products with a reciprocal.
//!
//! The surrogate gradient divides by the threshold and a time constant's
//! gradient by the time constant, at every step and for every element. A
//! time-varying `x / d` whose divisor depends on parameters only becomes
//! `x * recip(d)`: the reciprocal is then hoisted into the prologue (or
//! joins the invariant factors that `factor` gathers), and each step
//! multiplies instead of dividing. A division's latency is three to four
//! times a product's, and it sat on the longest dependency chain of the
//! backward LIF loop.
//!
//! When the divisor is a broadcast (a per-neuron threshold stretched over
//! the batch), the reciprocal is taken before the broadcast, so the
//! hoisted buffer stays parameter-sized.
//!
//! Multiplying by a rounded reciprocal is not exact (an ulp or so, and a
//! subnormal divisor has an infinite reciprocal), so only gradient values
//! are rewritten: values the forward outputs need are left as traced, since
//! their rounding decides spikes. Divisors that are constants are left to
//! the simplifier, which uses the reciprocal only when it is exact.

use super::hoist::dependence_of_each_value;
use super::{needed_by_forward, rebuild};
use crate::ir::{BinaryOp, Graph, Op, UnaryOp, Value};

/// `graph` with each gradient-only, time-varying `x / d` by a parameter-only
/// `d` replaced by `x * recip(d)`; same arguments and outputs.
pub(crate) fn reciprocals_of_invariant_divisors(graph: &Graph) -> Graph {
    let dependence = dependence_of_each_value(graph);
    let forward = needed_by_forward(graph);
    rebuild(graph, |rewritten, v, copy_of| {
        let Op::Binary(BinaryOp::Div, x, d) = *graph.op(v) else {
            return None;
        };
        let gradient_only = dependence[v.index()].on_time && !forward[v.index()];
        let d_dependence = dependence[d.index()];
        if !(gradient_only && d_dependence.on_params && !d_dependence.on_time) {
            return None;
        }
        let reciprocal = reciprocal_of(graph, rewritten, copy_of, d);
        let product = Op::Binary(BinaryOp::Mul, copy_of[x.index()], reciprocal);
        Some(rewritten.add_node(product, graph.shape(v).clone()))
    })
}

/// `recip(d)` in `rewritten`, taken before `d`'s broadcast if it has one.
fn reciprocal_of(graph: &Graph, rewritten: &mut Graph, copy_of: &[Value], d: Value) -> Value {
    match *graph.op(d) {
        Op::Broadcast(source) => {
            let shape = graph.shape(source).clone();
            let reciprocal = Op::Unary(UnaryOp::Recip, copy_of[source.index()]);
            let reciprocal = rewritten.add_node(reciprocal, shape);
            rewritten.add_node(Op::Broadcast(reciprocal), graph.shape(d).clone())
        }
        _ => {
            let reciprocal = Op::Unary(UnaryOp::Recip, copy_of[d.index()]);
            rewritten.add_node(reciprocal, graph.shape(d).clone())
        }
    }
}
