//! Binding plans: for each argument and output of a program, which runtime
//! buffer it reads or writes. Plans are resolved once, when a session is
//! built, so the per-timestep hot path only indexes vectors.

use crate::RuntimeError;
use neurojit_compiler::ir::{ArgKind, Graph, OutKind};
use smallvec::SmallVec;

/// Where an argument's values come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Source {
    Param(usize),
    Hoisted(usize),
    State(usize),
    Input(usize),
    Target,
    Tape(usize),
    StateAdjoint(usize),
    Grad(usize),
    Moment(usize),
    Scalar(usize),
}

/// Where an output's values go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Sink {
    Hoisted(usize),
    State(usize),
    Prediction,
    Loss,
    Tape(usize),
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
        .map(|a| {
            Ok(match a.kind {
                ArgKind::Param => Source::Param(a.slot),
                ArgKind::Hoisted => Source::Hoisted(a.slot),
                ArgKind::State => Source::State(a.slot),
                ArgKind::Input => Source::Input(a.slot),
                ArgKind::Target => Source::Target,
                ArgKind::Tape => Source::Tape(a.slot),
                ArgKind::StateAdjoint => Source::StateAdjoint(a.slot),
                ArgKind::Grad => Source::Grad(a.slot),
                ArgKind::Moment => Source::Moment(a.slot),
                ArgKind::Scalar => Source::Scalar(a.slot),
            })
        })
        .collect::<Result<Vec<_>, RuntimeError>>()?;
    let mut sinks = Vec::new();
    for o in graph.outputs() {
        let sink = match o.kind {
            OutKind::Hoisted => Sink::Hoisted(o.slot),
            OutKind::State => Sink::State(o.slot),
            OutKind::Prediction => Sink::Prediction,
            OutKind::Loss => Sink::Loss,
            OutKind::Tape => Sink::Tape(o.slot),
            OutKind::Record => Sink::Record(o.slot),
            OutKind::StateAdjoint => Sink::StateAdjoint(o.slot),
            OutKind::ParamGrad => Sink::Grad(o.slot),
            OutKind::Param => Sink::Param(o.slot),
            OutKind::Moment => Sink::Moment(o.slot),
        };
        if sinks.contains(&sink) {
            return Err(RuntimeError::Unbound {
                program,
                what: format!("a second output `{}` for the same buffer", o.name),
            });
        }
        sinks.push(sink);
    }
    Ok(Plan { sources, sinks })
}

/// A list of buffers from which each one can be taken mutably once, so that
/// several outputs can be borrowed from one `Vec<Vec<f32>>` at a time.
pub(crate) struct Takeable<'a>(SmallVec<[Option<&'a mut [f32]>; 8]>);

impl<'a> Takeable<'a> {
    pub fn whole(buffers: &'a mut [Vec<f32>]) -> Takeable<'a> {
        Takeable(buffers.iter_mut().map(|b| Some(b.as_mut_slice())).collect())
    }

    /// Row `t` of each buffer, seen as `rows` equal rows.
    pub fn row(buffers: &'a mut [Vec<f32>], t: usize, rows: usize) -> Takeable<'a> {
        Takeable(
            buffers
                .iter_mut()
                .map(|b| {
                    let n = b.len() / rows.max(1);
                    Some(&mut b[t * n..(t + 1) * n])
                })
                .collect(),
        )
    }

    pub fn empty() -> Takeable<'a> {
        Takeable(SmallVec::new())
    }

    pub fn take(&mut self, i: usize) -> Option<&'a mut [f32]> {
        self.0.get_mut(i).and_then(Option::take)
    }
}

/// Row `t` of a time-major buffer of `rows` rows.
pub(crate) fn row(buffer: &[f32], t: usize, rows: usize) -> &[f32] {
    let n = buffer.len() / rows.max(1);
    &buffer[t * n..(t + 1) * n]
}
