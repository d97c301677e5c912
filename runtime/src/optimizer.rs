//! Runs an optimiser's update program (built by the front end as a graph,
//! so it is compiled like everything else) over a session's parameters.
//!
//! The program reads `Param(p)`, `Grad(p)`, `Moment(m)` and `Scalar(k)`
//! arguments and writes `Param(p)` and `Moment(m)` outputs. Outputs go to
//! spare buffers: moments are swapped in, updated parameters copied into
//! the session's own buffers (whose addresses must not change).

use crate::binding::{plan, Plan, Sink, Source};
use crate::{RuntimeError, Session};
use neurojit_compiler::ir::{ArgKind, Graph};
use neurojit_compiler::kernel::{check_graph, Backend, Kernel};

pub struct Optimizer {
    kernel: Box<dyn Kernel>,
    plan: Plan,
    moments: Vec<Vec<f32>>,
    next_moments: Vec<Vec<f32>>,
    next_params: Vec<Vec<f32>>,
    steps_taken: u64,
}

impl Optimizer {
    pub fn new(
        update: &Graph,
        backend: &dyn Backend,
        session: &Session,
    ) -> Result<Optimizer, RuntimeError> {
        // Before the moments are allocated from the graph's shapes.
        check_graph(update).map_err(|source| RuntimeError::Compile {
            program: "optimiser",
            source,
        })?;
        let plan = plan("optimiser", update)?;
        let moment_args = || update.args().iter().filter(|a| a.kind == ArgKind::Moment);
        // Moments are numbered from 0 without gaps; a buffer is made per slot.
        let moment_count = moment_args().count();
        if let Some(a) = moment_args().find(|a| a.slot >= moment_count) {
            return Err(RuntimeError::SlotOutOfRange {
                program: "optimiser",
                kind: "moment",
                slot: a.slot,
                name: a.name.clone(),
                max: moment_count - 1,
            });
        }
        // Distinct slots (`Graph::arg` declares each once), all below the
        // count: exactly `0..moment_count`.
        let mut moments = vec![Vec::new(); moment_count];
        for a in moment_args() {
            moments[a.slot] = vec![0.0; a.shape.numel()];
        }
        let unbound = |what: String| RuntimeError::Unbound {
            program: "optimiser",
            what,
        };
        for (source, arg) in plan.sources.iter().zip(update.args()) {
            match source {
                Source::Param(i) | Source::Grad(i) if *i < session.params().len() => {}
                Source::Moment(_) | Source::Scalar(_) => {}
                Source::Fixed(_) => return Err(unbound(format!("fixed tensor `{}`", arg.name))),
                other => return Err(unbound(format!("argument `{}` ({other:?})", arg.name))),
            }
        }
        for (sink, out) in plan.sinks.iter().zip(update.outputs()) {
            match sink {
                Sink::Param(i) if *i < session.params().len() => {}
                Sink::Moment(i) if *i < moment_count => {}
                other => return Err(unbound(format!("output `{}` ({other:?})", out.name))),
            }
        }
        let kernel = backend
            .compile(update)
            .map_err(|source| RuntimeError::Compile {
                program: "optimiser",
                source,
            })?;
        Ok(Optimizer {
            kernel,
            plan,
            next_moments: moments.clone(),
            moments,
            next_params: session.params().to_vec(),
            steps_taken: 0,
        })
    }

    /// Updates taken so far (Adam's bias corrections count from 1).
    pub fn steps_taken(&self) -> u64 {
        self.steps_taken
    }

    pub fn moments(&self) -> &[Vec<f32>] {
        &self.moments
    }

    /// Restores moments (e.g. from a checkpoint) and the step counter.
    pub fn set_moments(
        &mut self,
        moments: Vec<Vec<f32>>,
        steps_taken: u64,
    ) -> Result<(), RuntimeError> {
        if moments.len() != self.moments.len() {
            return Err(RuntimeError::Length {
                what: format!(
                    "optimiser moments ({} tensors, given {})",
                    self.moments.len(),
                    moments.len()
                ),
                expected: self.moments.iter().map(Vec::len).sum(),
                got: moments.iter().map(Vec::len).sum(),
            });
        }
        let mismatch = moments
            .iter()
            .zip(&self.moments)
            .position(|(given, own)| given.len() != own.len());
        if let Some(k) = mismatch {
            return Err(RuntimeError::Length {
                what: format!("optimiser moment {k}"),
                expected: self.moments[k].len(),
                got: moments[k].len(),
            });
        }
        self.moments = moments;
        self.steps_taken = steps_taken;
        Ok(())
    }

    /// Applies one update using the session's current gradients. `scalars`
    /// are the program's `Scalar(k)` arguments for this step.
    pub fn step(&mut self, session: &mut Session, scalars: &[f32]) -> Result<(), RuntimeError> {
        // The session this optimiser was built for, or one of its shape
        // (checked every step, without allocating).
        let (own, given) = (&self.next_params, session.params());
        if own.len() != given.len() {
            return Err(RuntimeError::Length {
                what: format!(
                    "parameters of the session given to the optimiser ({} tensors; it was built \
                     for {})",
                    given.len(),
                    own.len()
                ),
                expected: own.iter().map(Vec::len).sum(),
                got: given.iter().map(Vec::len).sum(),
            });
        }
        if let Some(k) = (0..own.len()).find(|&k| own[k].len() != given[k].len()) {
            return Err(RuntimeError::Length {
                what: format!("parameter {k} of the session given to the optimiser"),
                expected: own[k].len(),
                got: given[k].len(),
            });
        }
        {
            let params = session.params();
            let grads = session.grads();
            let mut args: Vec<&[f32]> = Vec::with_capacity(self.plan.sources.len());
            for source in &self.plan.sources {
                args.push(match *source {
                    Source::Param(i) => &params[i],
                    Source::Grad(i) => &grads[i],
                    Source::Moment(i) => &self.moments[i],
                    Source::Scalar(i) => scalars.get(i..=i).ok_or(RuntimeError::Length {
                        what: "optimiser scalars".into(),
                        expected: i.saturating_add(1),
                        got: scalars.len(),
                    })?,
                    _ => unreachable!("checked in Optimizer::new"),
                });
            }
            let mut param_outs: Vec<Option<&mut [f32]>> = self
                .next_params
                .iter_mut()
                .map(|b| Some(b.as_mut_slice()))
                .collect();
            let mut moment_outs: Vec<Option<&mut [f32]>> = self
                .next_moments
                .iter_mut()
                .map(|b| Some(b.as_mut_slice()))
                .collect();
            let mut outputs: Vec<&mut [f32]> = Vec::with_capacity(self.plan.sinks.len());
            for sink in &self.plan.sinks {
                let taken = match *sink {
                    Sink::Param(i) => param_outs[i].take(),
                    Sink::Moment(i) => moment_outs[i].take(),
                    _ => None,
                };
                outputs.push(taken.expect("plans have one output per buffer"));
            }
            self.kernel
                .run(&args, &mut outputs)
                .map_err(|source| RuntimeError::Kernel {
                    program: "optimiser",
                    source,
                })?;
        }
        for sink in &self.plan.sinks {
            if let Sink::Param(p) = *sink {
                session.buffers.params[p].copy_from_slice(&self.next_params[p]);
            }
        }
        std::mem::swap(&mut self.moments, &mut self.next_moments);
        self.steps_taken += 1;
        Ok(())
    }
}
