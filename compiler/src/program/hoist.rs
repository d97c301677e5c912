//! Hoisting: finds the values of a step graph that depend only on parameters
//! (and constants), such as `alpha = exp(-dt / tau)` or the time-invariant
//! factor of a gradient, so the prologue computes them once per call and
//! the step programs read them as `Hoisted` arguments.
//!
//! Only the frontier is hoisted: the invariant values that a time-varying
//! node (or an output) of the step reads. Their invariant ancestors stay in
//! the prologue alone. Three kinds of invariant value are left in the step:
//! - parameter arguments and constants themselves (nothing to compute);
//! - `broadcast` and `reshape` of invariant values: they are views, which
//!   the code generator folds into the loops that read them, and hoisting
//!   the operand instead keeps hoisted buffers at parameter size;
//! - values that read no parameter at all (pure constant expressions): the
//!   simplifier folds those.

use crate::ir::{ArgKind, Graph, Op, Value};

/// How a value depends on the graph's arguments.
#[derive(Clone, Copy, Default)]
pub(crate) struct Dependence {
    /// Reads a parameter (or an already hoisted value).
    pub on_params: bool,
    /// Reads an argument that changes from step to step.
    pub on_time: bool,
}

impl Dependence {
    /// Depends on parameters only: the prologue can compute it.
    pub fn is_invariant(self) -> bool {
        self.on_params && !self.on_time
    }
}

/// The values to hoist out of `step`, in topological order.
pub(crate) fn hoisted_values(step: &Graph) -> Vec<Value> {
    let dependence = dependence_of_each_value(step);
    // Walk from the outputs towards the arguments; `in_step[v]` marks values
    // the step programs need, and the walk stops at hoisted ones.
    let mut in_step = vec![false; step.len()];
    for out in step.outputs() {
        in_step[out.value.index()] = true;
    }
    let mut hoisted = Vec::new();
    for v in step.values().rev() {
        if !in_step[v.index()] {
            continue;
        }
        let d = dependence[v.index()];
        let stays_in_step = match step.op(v) {
            Op::Arg(_) | Op::Constant(_) | Op::Broadcast(_) | Op::Reshape(_) => true,
            Op::Unary(..)
            | Op::Binary(..)
            | Op::Compare(..)
            | Op::Select { .. }
            | Op::ReduceSum { .. }
            | Op::Matmul { .. }
            | Op::Transpose(_)
            | Op::Spike { .. }
            | Op::StopGradient(_) => false,
        };
        if d.is_invariant() && !stays_in_step {
            hoisted.push(v);
            continue;
        }
        for operand in step.op(v).operands() {
            in_step[operand.index()] = true;
        }
    }
    hoisted.reverse();
    hoisted
}

/// The dependence of every value of `graph`, by index.
pub(crate) fn dependence_of_each_value(graph: &Graph) -> Vec<Dependence> {
    let mut dependence = vec![Dependence::default(); graph.len()];
    for v in graph.values() {
        dependence[v.index()] = match graph.arg_of(v) {
            Some(arg) => match arg.kind {
                ArgKind::Param | ArgKind::Hoisted | ArgKind::Fixed => Dependence {
                    on_params: true,
                    on_time: false,
                },
                ArgKind::State
                | ArgKind::Input
                | ArgKind::Target
                | ArgKind::Tape
                | ArgKind::Sequence
                | ArgKind::StateAdjoint
                | ArgKind::Grad
                | ArgKind::Moment
                | ArgKind::Scalar => Dependence {
                    on_params: false,
                    on_time: true,
                },
            },
            None => graph
                .op(v)
                .operands()
                .iter()
                .fold(Dependence::default(), |acc, x| {
                    let d = dependence[x.index()];
                    Dependence {
                        on_params: acc.on_params || d.on_params,
                        on_time: acc.on_time || d.on_time,
                    }
                }),
        };
    }
    dependence
}
