//! The tape plan: which forward values the forward step stores for the
//! backward step.
//!
//! The backward step can read parameters, hoisted values, the input, the
//! target and the state adjoints directly, and computes from them whatever
//! it can (it is "free"). It cannot read the state at the start of the step,
//! and it does not redo matrix products, transposes or spikes. So every
//! forward value it reads must either be taped or recomputed from taped
//! values, and only elementwise, shape and reduction ops are recomputed
//! (they are as cheap as reading a tape entry); states, matmul results,
//! transposes and spikes are taped or not used at all. A spike is the
//! exception among elementwise ops: a division, a rounding and two clamps,
//! on the longest dependency chain of the backward LIF loop. Taping it
//! costs a store and a load per element (measured: the `small` preset's
//! step 425 -> 390 µs, with a tape half as large again).
//!
//! Among all such choices we tape as few bytes as possible: the tape is a
//! minimum vertex cut, weighted by element count, between the values that
//! cannot be recomputed (state arguments, forward matmuls, transposes and
//! spikes) and the forward values the backward step reads. Among minimum
//! cuts we take the one nearest the backward step, so nothing is recomputed
//! unless that makes the tape smaller. Apart from spikes, a value and
//! everything it was computed from are thus never both taped (a LIF layer
//! tapes its potentials and its spikes). Only values the forward outputs
//! need are candidates, so the forward step computes nothing extra for the
//! tape.

use super::min_cut::{FlowNetwork, UNBOUNDED};
use crate::ir::{ArgKind, Graph, Op, Output, Value};

/// The values of `step` to tape, in topological order, given the outputs of
/// the forward and of the backward program.
pub(crate) fn taped_values(step: &Graph, forward: &[Output], backward: &[Output]) -> Vec<Value> {
    let n = step.len();
    let forward_needs = step.read_by(forward);
    let free = free_in_backward(step);
    let is_state = |v: Value| matches!(step.arg_of(v), Some(a) if a.kind == ArgKind::State);
    // Candidates: forward values the backward cannot compute from scratch.
    let candidate: Vec<bool> = step
        .values()
        .map(|v| (forward_needs[v.index()] && !free[v.index()]) || is_state(v))
        .collect();
    // Products, transposes and spikes are not redone in the backward step.
    let root = |v: Value| {
        is_state(v)
            || matches!(
                step.op(v),
                Op::Matmul { .. } | Op::Transpose(_) | Op::Spike { .. }
            )
    };

    // Each candidate v is an edge in(v) -> out(v) weighted by its size: cutting
    // it means taping v.
    let (source, sink) = (2 * n, 2 * n + 1);
    let (vin, vout) = (|v: Value| 2 * v.index(), |v: Value| 2 * v.index() + 1);
    let mut net = FlowNetwork::new(2 * n + 2);
    for v in step.values().filter(|v| candidate[v.index()]) {
        net.add_edge(vin(v), vout(v), step.shape(v).numel() as u64);
        if root(v) {
            net.add_edge(source, vin(v), UNBOUNDED);
        } else {
            // Recomputing v needs its candidate operands.
            for x in step.op(v).operands() {
                if candidate[x.index()] {
                    net.add_edge(vout(x), vin(v), UNBOUNDED);
                }
            }
        }
    }
    for v in read_by_backward(step, backward, &candidate, &free) {
        net.add_edge(vout(v), sink, UNBOUNDED);
    }
    let sink_side = net.min_cut_sink_side(source, sink);
    step.values()
        .filter(|&v| candidate[v.index()] && !sink_side[vin(v)] && sink_side[vout(v)])
        .collect()
}

/// `free[v]`: the backward step computes `v` from its own arguments without
/// a matmul, a transpose or a spike (every argument but the state is its
/// own).
fn free_in_backward(graph: &Graph) -> Vec<bool> {
    let mut free = vec![false; graph.len()];
    for v in graph.values() {
        free[v.index()] = match graph.op(v) {
            Op::Arg(_) => !matches!(graph.arg_of(v), Some(a) if a.kind == ArgKind::State),
            Op::Constant(_) => true,
            Op::Matmul { .. } | Op::Transpose(_) | Op::Spike { .. } => false,
            op @ (Op::Unary(..)
            | Op::Binary(..)
            | Op::Compare(..)
            | Op::Select { .. }
            | Op::Broadcast(_)
            | Op::Reshape(_)
            | Op::ReduceSum { .. }
            | Op::StopGradient(_)) => op.operands().iter().all(|x| free[x.index()]),
        };
    }
    free
}

/// The candidates that backward-only nodes (or backward outputs) read.
fn read_by_backward(
    graph: &Graph,
    backward: &[Output],
    candidate: &[bool],
    free: &[bool],
) -> Vec<Value> {
    let mut reached = vec![false; graph.len()];
    for out in backward {
        reached[out.value.index()] = true;
    }
    let mut read = Vec::new();
    for v in graph.values().rev() {
        if !reached[v.index()] || free[v.index()] {
            continue;
        }
        if candidate[v.index()] {
            read.push(v);
            continue;
        }
        for x in graph.op(v).operands() {
            reached[x.index()] = true;
        }
    }
    read
}
