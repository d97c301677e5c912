//! Runs an optimiser's update program (built by the front end as a graph,
//! so it is compiled like everything else) over a session's parameters.
//!
//! The program reads `Param(p)`, `Grad(p)`, `Moment(m)` and `Scalar(k)`
//! arguments and writes `Param(p)` and `Moment(m)` outputs. Outputs go to
//! spare buffers that are then swapped in, so no kernel ever reads and
//! writes the same buffer.

use crate::binding::Takeable;
use crate::session::{BoundProgram, Readable, Writable};
use crate::{RuntimeError, Session};
use neurojit_compiler::ir::{ArgKind, Graph, OutKind};
use neurojit_compiler::kernel::Backend;

pub struct Optimizer {
    program: BoundProgram,
    moments: Vec<Vec<f32>>,
    next_moments: Vec<Vec<f32>>,
    next_params: Vec<Vec<f32>>,
    updated_params: Vec<usize>,
    steps_taken: u64,
}

impl Optimizer {
    pub fn new(update: &Graph, backend: &dyn Backend, session: &Session) -> Result<Optimizer, RuntimeError> {
        let program = BoundProgram::compile("optimiser", update, backend)?;
        let moment_count = update
            .args()
            .iter()
            .filter(|a| a.kind == ArgKind::Moment)
            .map(|a| a.slot + 1)
            .max()
            .unwrap_or(0);
        let mut moments = vec![Vec::new(); moment_count];
        for a in update.args().iter().filter(|a| a.kind == ArgKind::Moment) {
            moments[a.slot] = vec![0.0; a.shape.numel()];
        }
        let updated_params = update
            .outputs()
            .iter()
            .filter(|o| o.kind == OutKind::Param)
            .map(|o| o.slot)
            .collect();
        Ok(Optimizer {
            program,
            next_moments: moments.clone(),
            moments,
            next_params: session.params.clone(),
            updated_params,
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
    pub fn set_moments(&mut self, moments: Vec<Vec<f32>>, steps_taken: u64) -> Result<(), RuntimeError> {
        if moments.len() != self.moments.len()
            || moments.iter().zip(&self.moments).any(|(a, b)| a.len() != b.len())
        {
            return Err(RuntimeError::Length {
                what: "optimiser moments".into(),
                expected: self.moments.iter().map(Vec::len).sum(),
                got: moments.iter().map(Vec::len).sum(),
            });
        }
        self.moments = moments;
        self.steps_taken = steps_taken;
        Ok(())
    }

    /// Applies one update using the session's current gradients. `scalars`
    /// are the program's `Scalar(k)` arguments for this step.
    pub fn step(&mut self, session: &mut Session, scalars: &[f32]) -> Result<(), RuntimeError> {
        {
            let readable = Readable {
                params: &session.params,
                grads: &session.grads,
                moments: &self.moments,
                scalars,
                ..Readable::default()
            };
            let writable = Writable {
                params: Takeable::whole(&mut self.next_params),
                moments: Takeable::whole(&mut self.next_moments),
                ..Writable::default()
            };
            self.program.call(readable, writable)?;
        }
        for &p in &self.updated_params {
            std::mem::swap(&mut session.params[p], &mut self.next_params[p]);
        }
        std::mem::swap(&mut self.moments, &mut self.next_moments);
        self.steps_taken += 1;
        Ok(())
    }
}
