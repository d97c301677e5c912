//! Binding plans: for each argument and output of a program, which runtime
//! buffer it reads or writes. Plans are resolved once, when a session is
//! built, and checked against the buffers' lengths then, so the
//! per-timestep hot path only looks up addresses.

use crate::RuntimeError;
use neurojit_compiler::ir::{ArgKind, Graph, OutKind};

/// Where an argument's values come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Source {
    Param(usize),
    Hoisted(usize),
    State(usize),
    Input(usize),
    Target,
    Tape(usize),
    Sequence(usize),
    StateAdjoint(usize),
    Grad(usize),
    Moment(usize),
    Scalar(usize),
    Fixed(usize),
}

/// Where an output's values go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Sink {
    Hoisted(usize),
    State(usize),
    Prediction,
    Loss,
    Tape(usize),
    Sequence(usize),
    Record(usize),
    StateAdjoint(usize),
    Grad(usize),
    Param(usize),
    Moment(usize),
}

pub(crate) struct Plan {
    pub sources: Vec<Source>,
    pub sinks: Vec<Sink>,
}

pub(crate) fn plan(program: &'static str, graph: &Graph) -> Result<Plan, RuntimeError> {
    let sources = graph
        .args()
        .iter()
        .map(|a| match a.kind {
            ArgKind::Param => Source::Param(a.slot),
            ArgKind::Hoisted => Source::Hoisted(a.slot),
            ArgKind::State => Source::State(a.slot),
            ArgKind::Input => Source::Input(a.slot),
            ArgKind::Target => Source::Target,
            ArgKind::Tape => Source::Tape(a.slot),
            ArgKind::Sequence => Source::Sequence(a.slot),
            ArgKind::StateAdjoint => Source::StateAdjoint(a.slot),
            ArgKind::Grad => Source::Grad(a.slot),
            ArgKind::Moment => Source::Moment(a.slot),
            ArgKind::Scalar => Source::Scalar(a.slot),
            ArgKind::Fixed => Source::Fixed(a.slot),
        })
        .collect();
    let mut sinks = Vec::new();
    for o in graph.outputs() {
        let sink = match o.kind {
            OutKind::Hoisted => Sink::Hoisted(o.slot),
            OutKind::State => Sink::State(o.slot),
            OutKind::Prediction => Sink::Prediction,
            OutKind::Loss => Sink::Loss,
            OutKind::Tape => Sink::Tape(o.slot),
            OutKind::Sequence => Sink::Sequence(o.slot),
            OutKind::Record => Sink::Record(o.slot),
            OutKind::StateAdjoint => Sink::StateAdjoint(o.slot),
            OutKind::ParamGrad => Sink::Grad(o.slot),
            OutKind::Param => Sink::Param(o.slot),
            OutKind::Moment => Sink::Moment(o.slot),
        };
        if sinks.contains(&sink) {
            return Err(RuntimeError::SharedOutput {
                program,
                output: o.name.clone(),
            });
        }
        sinks.push(sink);
    }
    Ok(Plan { sources, sinks })
}
