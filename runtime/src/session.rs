//! A training session: the compiled programs of one network and every buffer
//! they read and write. `forward` runs the prologue, then the forward step
//! for t = 0..T (writing the tape); `backward` runs the backward step for
//! t = T-1..0, accumulating parameter gradients.
//!
//! Data is handed over batch-major, `(B, T, ...)`, as users hold it, and
//! stored time-major, `(T, B, ...)`, so that each step reads one contiguous
//! row.

use crate::binding::{plan, row, Plan, Sink, Source, Takeable};
use crate::RuntimeError;
use neurojit_compiler::ir::{ArgKind, Graph};
use neurojit_compiler::kernel::{Backend, Kernel};
use neurojit_compiler::program::{Slot, TrainingPrograms};
use smallvec::SmallVec;
use std::time::Instant;

/// A program compiled by the session's backend, with its binding plan.
pub(crate) struct BoundProgram {
    pub name: &'static str,
    pub kernel: Box<dyn Kernel>,
    pub plan: Plan,
}

impl BoundProgram {
    pub fn compile(
        name: &'static str,
        graph: &Graph,
        backend: &dyn Backend,
    ) -> Result<BoundProgram, RuntimeError> {
        let plan = plan(name, graph)?;
        let kernel = backend
            .compile(graph)
            .map_err(|source| RuntimeError::Compile {
                program: name,
                source,
            })?;
        Ok(BoundProgram { name, kernel, plan })
    }

    /// Binds the program's arguments and outputs to these buffers and runs it.
    pub fn call(&self, readable: Readable, mut writable: Writable) -> Result<(), RuntimeError> {
        let args = readable
            .gather(&self.plan.sources)
            .map_err(|s| unbound(self.name, s))?;
        let mut outputs = writable
            .scatter(&self.plan.sinks)
            .map_err(|s| unbound(self.name, s))?;
        self.kernel
            .run(&args, &mut outputs)
            .map_err(|source| RuntimeError::Kernel {
                program: self.name,
                source,
            })
    }
}

/// The loss of the last forward pass, split as the trainer reports it.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LossParts {
    /// Sum over time of the per-step loss (e.g. the mse).
    pub task: f32,
    /// The parameter-only loss (e.g. the bound penalty).
    pub penalty: f32,
}

impl LossParts {
    pub fn total(&self) -> f32 {
        self.task + self.penalty
    }
}

/// Buffers a program may read, one view per argument kind.
#[derive(Default)]
pub(crate) struct Readable<'a> {
    pub params: &'a [Vec<f32>],
    pub hoisted: &'a [Vec<f32>],
    pub state: &'a [Vec<f32>],
    pub tape: &'a [Vec<f32>],
    pub adjoint: &'a [Vec<f32>],
    pub grads: &'a [Vec<f32>],
    pub moments: &'a [Vec<f32>],
    pub scalars: &'a [f32],
    /// Time-major inputs (slot 0: the network input; others: e.g. noise).
    pub inputs: &'a [Vec<f32>],
    pub target: &'a [f32],
    /// Rows of the time-major buffers (tape, inputs), and the row read.
    pub steps: usize,
    pub t: usize,
}

impl<'a> Readable<'a> {
    pub fn gather(&self, sources: &[Source]) -> Result<SmallVec<[&'a [f32]; 16]>, Source> {
        sources
            .iter()
            .map(|&s| {
                let found = match s {
                    Source::Param(i) => self.params.get(i).map(Vec::as_slice),
                    Source::Hoisted(i) => self.hoisted.get(i).map(Vec::as_slice),
                    Source::State(i) => self.state.get(i).map(Vec::as_slice),
                    Source::Tape(i) => self.tape.get(i).map(|b| row(b, self.t, self.steps)),
                    Source::StateAdjoint(i) => self.adjoint.get(i).map(Vec::as_slice),
                    Source::Grad(i) => self.grads.get(i).map(Vec::as_slice),
                    Source::Moment(i) => self.moments.get(i).map(Vec::as_slice),
                    Source::Scalar(i) => self.scalars.get(i..i + 1),
                    Source::Input(i) => self.inputs.get(i).map(|b| row(b, self.t, self.steps)),
                    Source::Target => Some(self.target),
                };
                found.ok_or(s)
            })
            .collect()
    }
}

/// Buffers a program may write; each can be handed out once per call.
pub(crate) struct Writable<'a> {
    pub hoisted: Takeable<'a>,
    pub state: Takeable<'a>,
    pub tape: Takeable<'a>,
    pub records: Takeable<'a>,
    pub adjoint: Takeable<'a>,
    pub grads: Takeable<'a>,
    pub params: Takeable<'a>,
    pub moments: Takeable<'a>,
    pub prediction: Option<&'a mut [f32]>,
    pub loss: Option<&'a mut [f32]>,
}

impl<'a> Default for Writable<'a> {
    fn default() -> Self {
        Writable {
            hoisted: Takeable::empty(),
            state: Takeable::empty(),
            tape: Takeable::empty(),
            records: Takeable::empty(),
            adjoint: Takeable::empty(),
            grads: Takeable::empty(),
            params: Takeable::empty(),
            moments: Takeable::empty(),
            prediction: None,
            loss: None,
        }
    }
}

impl<'a> Writable<'a> {
    pub fn scatter(&mut self, sinks: &[Sink]) -> Result<SmallVec<[&'a mut [f32]; 16]>, Sink> {
        sinks
            .iter()
            .map(|&s| {
                let found = match s {
                    Sink::Hoisted(i) => self.hoisted.take(i),
                    Sink::State(i) => self.state.take(i),
                    Sink::Tape(i) => self.tape.take(i),
                    Sink::Record(i) => self.records.take(i),
                    Sink::StateAdjoint(i) => self.adjoint.take(i),
                    Sink::Grad(i) => self.grads.take(i),
                    Sink::Param(i) => self.params.take(i),
                    Sink::Moment(i) => self.moments.take(i),
                    Sink::Prediction => self.prediction.take(),
                    Sink::Loss => self.loss.take(),
                };
                found.ok_or(s)
            })
            .collect()
    }
}

pub(crate) fn unbound<T: std::fmt::Debug>(program: &'static str, what: T) -> RuntimeError {
    RuntimeError::Unbound {
        program,
        what: format!("{what:?}"),
    }
}

/// The compiled training programs of one network and their buffers.
pub struct Session {
    programs: TrainingPrograms,
    prologue: BoundProgram,
    forward: BoundProgram,
    backward: BoundProgram,
    param_loss: BoundProgram,
    steps: usize,
    compile_seconds: f64,
    pub(crate) params: Vec<Vec<f32>>,
    pub(crate) grads: Vec<Vec<f32>>,
    hoisted: Vec<Vec<f32>>,
    state: Vec<Vec<f32>>,
    next_state: Vec<Vec<f32>>,
    adjoint: Vec<Vec<f32>>,
    next_adjoint: Vec<Vec<f32>>,
    tape: Vec<Vec<f32>>,
    records: Vec<Vec<f32>>,
    inputs: Vec<Vec<f32>>,
    targets: Vec<f32>,
    predictions: Vec<f32>,
    last_loss: LossParts,
}

fn zeros(slots: &[Slot], rows: usize) -> Vec<Vec<f32>> {
    slots
        .iter()
        .map(|s| vec![0.0; s.shape.numel() * rows])
        .collect()
}

impl Session {
    /// Compiles the four programs with `backend`, for `steps` timesteps.
    pub fn new(
        programs: TrainingPrograms,
        backend: &dyn Backend,
        steps: usize,
    ) -> Result<Session, RuntimeError> {
        let started = Instant::now();
        let prologue = BoundProgram::compile("prologue", &programs.prologue, backend)?;
        let forward = BoundProgram::compile("forward", &programs.forward, backend)?;
        let backward = BoundProgram::compile("backward", &programs.backward, backend)?;
        let param_loss = BoundProgram::compile("param_loss", &programs.param_loss, backend)?;
        let compile_seconds = started.elapsed().as_secs_f64();
        let p = &programs;
        Ok(Session {
            params: zeros(&p.params, 1),
            grads: zeros(&p.params, 1),
            hoisted: zeros(&p.hoisted, 1),
            state: zeros(&p.states, 1),
            next_state: zeros(&p.states, 1),
            adjoint: zeros(&p.states, 1),
            next_adjoint: zeros(&p.states, 1),
            tape: zeros(&p.tape, steps),
            records: zeros(&p.records, steps),
            inputs: input_buffers(&programs, steps),
            targets: vec![0.0; p.target.numel() * steps],
            predictions: vec![0.0; p.prediction.numel() * steps],
            last_loss: LossParts::default(),
            prologue,
            forward,
            backward,
            param_loss,
            steps,
            compile_seconds,
            programs,
        })
    }

    pub fn programs(&self) -> &TrainingPrograms {
        &self.programs
    }

    pub fn steps(&self) -> usize {
        self.steps
    }

    /// Seconds the backend took to compile the four programs.
    pub fn compile_seconds(&self) -> f64 {
        self.compile_seconds
    }

    pub fn params(&self) -> &[Vec<f32>] {
        &self.params
    }

    pub fn grads(&self) -> &[Vec<f32>] {
        &self.grads
    }

    pub(crate) fn grads_mut(&mut self) -> &mut [Vec<f32>] {
        &mut self.grads
    }

    /// The gradient of the last `forward` + `backward`, by parameter slot.
    pub fn grad(&self, slot: usize) -> &[f32] {
        &self.grads[slot]
    }

    pub fn set_param(&mut self, slot: usize, values: &[f32]) -> Result<(), RuntimeError> {
        let info = self
            .programs
            .params
            .get(slot)
            .ok_or_else(|| RuntimeError::UnknownParam(format!("#{slot}")))?;
        let buffer = &mut self.params[slot];
        if values.len() != buffer.len() {
            return Err(RuntimeError::Length {
                what: format!("parameter {}", info.name),
                expected: buffer.len(),
                got: values.len(),
            });
        }
        buffer.copy_from_slice(values);
        Ok(())
    }

    /// Sets a parameter by its name (module path).
    pub fn set_param_named(&mut self, name: &str, values: &[f32]) -> Result<(), RuntimeError> {
        let slot = self
            .programs
            .params
            .iter()
            .position(|s| s.name == name)
            .ok_or_else(|| RuntimeError::UnknownParam(name.to_string()))?;
        self.set_param(slot, values)
    }

    /// Sets inputs `(B, T, ...)` and targets `(B, T, ...)`, batch-major.
    pub fn set_data(&mut self, inputs: &[f32], targets: &[f32]) -> Result<(), RuntimeError> {
        let steps = self.steps;
        let batch = batch_of(&self.programs.input);
        to_time_major(inputs, &mut self.inputs[0], batch, steps, "inputs")?;
        to_time_major(targets, &mut self.targets, batch, steps, "targets")
    }

    /// Sets the extra input `slot` (1 and up, e.g. noise), batch-major.
    pub fn set_extra_input(&mut self, slot: usize, values: &[f32]) -> Result<(), RuntimeError> {
        let steps = self.steps;
        let batch = batch_of(&self.programs.input);
        let buffer = self.inputs.get_mut(slot).filter(|_| slot > 0).ok_or_else(|| {
            RuntimeError::Unbound {
                program: "forward",
                what: format!("input #{slot}"),
            }
        })?;
        to_time_major(values, buffer, batch, steps, "extra input")
    }

    /// Number of input slots (1 plus extra inputs such as noise).
    pub fn input_count(&self) -> usize {
        self.inputs.len()
    }

    /// Runs the network over all timesteps from zero state, storing the tape,
    /// predictions and records. Returns the loss. Also zeroes the gradients
    /// and adds the parameter-only loss's gradient to them, ready for
    /// `backward`.
    pub fn forward(&mut self) -> Result<LossParts, RuntimeError> {
        self.run_prologue()?;
        self.state.iter_mut().for_each(|s| s.fill(0.0));
        let mut loss_step = [0.0f32];
        let mut task = 0.0f64;
        for t in 0..self.steps {
            let readable = Readable {
                params: &self.params,
                hoisted: &self.hoisted,
                state: &self.state,
                inputs: &self.inputs,
                target: row(&self.targets, t, self.steps),
                steps: self.steps,
                t,
                ..Readable::default()
            };
            let writable = Writable {
                state: Takeable::whole(&mut self.next_state),
                tape: Takeable::row(&mut self.tape, t, self.steps),
                records: Takeable::row(&mut self.records, t, self.steps),
                prediction: Some(row_mut(&mut self.predictions, t, self.steps)),
                loss: Some(&mut loss_step),
                ..Writable::default()
            };
            self.forward.call(readable, writable)?;
            task += loss_step[0] as f64;
            std::mem::swap(&mut self.state, &mut self.next_state);
        }
        self.grads.iter_mut().for_each(|g| g.fill(0.0));
        let mut penalty = [0.0f32];
        {
            let readable = Readable {
                params: &self.params,
                ..Readable::default()
            };
            let writable = Writable {
                grads: Takeable::whole(&mut self.grads),
                loss: Some(&mut penalty),
                ..Writable::default()
            };
            self.param_loss.call(readable, writable)?;
        }
        self.last_loss = LossParts {
            task: task as f32,
            penalty: penalty[0],
        };
        Ok(self.last_loss)
    }

    fn run_prologue(&mut self) -> Result<(), RuntimeError> {
        let readable = Readable {
            params: &self.params,
            ..Readable::default()
        };
        let writable = Writable {
            hoisted: Takeable::whole(&mut self.hoisted),
            ..Writable::default()
        };
        self.prologue.call(readable, writable)
    }

    /// Back-propagates through time from the last `forward`, adding every
    /// step's parameter-gradient contribution to `grads`.
    pub fn backward(&mut self) -> Result<(), RuntimeError> {
        self.adjoint.iter_mut().for_each(|a| a.fill(0.0));
        for t in (0..self.steps).rev() {
            let readable = Readable {
                params: &self.params,
                hoisted: &self.hoisted,
                tape: &self.tape,
                adjoint: &self.adjoint,
                inputs: &self.inputs,
                target: row(&self.targets, t, self.steps),
                steps: self.steps,
                t,
                ..Readable::default()
            };
            let writable = Writable {
                adjoint: Takeable::whole(&mut self.next_adjoint),
                grads: Takeable::whole(&mut self.grads),
                ..Writable::default()
            };
            self.backward.call(readable, writable)?;
            std::mem::swap(&mut self.adjoint, &mut self.next_adjoint);
        }
        Ok(())
    }

    pub fn last_loss(&self) -> LossParts {
        self.last_loss
    }

    /// The predictions of the last forward pass, batch-major `(B, T, ...)`.
    pub fn predictions(&self) -> Vec<f32> {
        let batch = batch_of(&self.programs.prediction);
        to_batch_major(&self.predictions, batch, self.steps)
    }

    /// Record `slot` of the last forward pass, batch-major `(B, T, ...)`.
    pub fn record(&self, slot: usize) -> Option<Vec<f32>> {
        let info = self.programs.records.get(slot)?;
        let batch = batch_of(&info.shape);
        Some(to_batch_major(&self.records[slot], batch, self.steps))
    }

    /// The record named `name`, batch-major.
    pub fn record_named(&self, name: &str) -> Option<Vec<f32>> {
        let slot = self.programs.records.iter().position(|s| s.name == name)?;
        self.record(slot)
    }

    /// The state at the end of the last forward pass, by slot.
    pub fn final_state(&self) -> &[Vec<f32>] {
        &self.state
    }
}

/// One time-major buffer per input slot, shaped from the programs' `Input`
/// arguments (slot 0 is the network input).
fn input_buffers(programs: &TrainingPrograms, steps: usize) -> Vec<Vec<f32>> {
    let mut sizes = vec![programs.input.numel()];
    for graph in [&programs.forward, &programs.backward] {
        for arg in graph.args().iter().filter(|a| a.kind == ArgKind::Input) {
            if sizes.len() <= arg.slot {
                sizes.resize(arg.slot + 1, 0);
            }
            sizes[arg.slot] = arg.shape.numel();
        }
    }
    sizes.into_iter().map(|n| vec![0.0; n * steps]).collect()
}

fn row_mut(buffer: &mut [f32], t: usize, rows: usize) -> &mut [f32] {
    let n = buffer.len() / rows.max(1);
    &mut buffer[t * n..(t + 1) * n]
}

/// The batch size of a per-step value: its leading dimension (1 for scalars).
fn batch_of(shape: &neurojit_compiler::ir::Shape) -> usize {
    shape.dims().first().copied().unwrap_or(1)
}

/// `(B, T, n)` → `(T, B, n)`.
fn to_time_major(
    src: &[f32],
    dst: &mut [f32],
    batch: usize,
    steps: usize,
    what: &str,
) -> Result<(), RuntimeError> {
    if src.len() != dst.len() {
        return Err(RuntimeError::Length {
            what: what.to_string(),
            expected: dst.len(),
            got: src.len(),
        });
    }
    let n = dst.len() / (batch * steps).max(1);
    for b in 0..batch {
        for t in 0..steps {
            let from = (b * steps + t) * n;
            let to = (t * batch + b) * n;
            dst[to..to + n].copy_from_slice(&src[from..from + n]);
        }
    }
    Ok(())
}

/// `(T, B, n)` → `(B, T, n)`.
fn to_batch_major(src: &[f32], batch: usize, steps: usize) -> Vec<f32> {
    let mut dst = vec![0.0; src.len()];
    let n = src.len() / (batch * steps).max(1);
    for b in 0..batch {
        for t in 0..steps {
            let from = (t * batch + b) * n;
            let to = (b * steps + t) * n;
            dst[to..to + n].copy_from_slice(&src[from..from + n]);
        }
    }
    dst
}
