//! The two ways the conformance runner can execute a network case:
//!
//! - [`Engine::Unrolled`]: the whole run traced into one graph
//!   ([`crate::trace::unroll`]), differentiated as a whole and run by the
//!   interpreter. Needs only the front end and the compiler.
//! - [`Engine::Runtime`]: the per-step program ([`crate::trace::trace`])
//!   compiled into training programs and run by the runtime's `Session`
//!   on the chosen backend, with the runtime's optimiser.
//!
//! Both produce a [`RunResult`] with every array batch-major `(B, T, ...)`.

use super::evaluate::{gradients, Feed, Runner};
use super::ConformanceError;
use crate::nn::{Module, RecordOptions};
use crate::optim::{Adam, Optimizer};
use crate::trace::{
    record_name, trace, unroll, BoundsPenalty, StepLoss, TraceOptions, TracedNetwork,
};
use crate::tree::Path;
use neurojit_compiler::ir::{ArgKind, OutKind, Value};
use neurojit_compiler::program::compile_training;
use neurojit_runtime::{BackendKind, Session};
use std::collections::HashMap;

/// How network cases are executed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    /// One unrolled graph, interpreted (front end + compiler only).
    Unrolled,
    /// Training programs run by the runtime on a backend.
    Runtime(BackendKind),
}

/// Everything one forward + backward pass produced.
#[derive(Clone, Debug, Default)]
pub(super) struct RunResult {
    pub mse: f32,
    pub bounds: f32,
    pub total: f32,
    /// Per parameter slot.
    pub grads: Vec<Vec<f32>>,
    /// `(B, T, n_out)`.
    pub output: Vec<f32>,
    /// `(module, name)` → `(B, T, ...)`.
    pub records: HashMap<(Path, String), Vec<f32>>,
    /// State path → value after the last step `(B, ...)`.
    pub final_states: HashMap<Path, Vec<f32>>,
}

/// The data of one case: batch-major inputs and targets.
pub(super) struct CaseData {
    pub input: Vec<f32>,
    pub target: Vec<f32>,
    pub batch: usize,
    pub steps: usize,
}

/// An engine prepared for one network.
pub(super) trait NetworkRunner {
    /// Sets the parameters (by slot), runs forward and backward.
    fn run(&mut self, params: &[Vec<f32>]) -> Result<RunResult, ConformanceError>;
    /// Applies update number `k` (from 1) of `adam` to the parameters and
    /// gradients of the last run; returns the new parameters.
    fn adam_step(&mut self, adam: &Adam, k: u64) -> Result<Vec<Vec<f32>>, ConformanceError>;
}

pub(super) fn prepare(
    engine: Engine,
    network: &dyn Module,
    data: &CaseData,
    bounds: BoundsPenalty,
) -> Result<Box<dyn NetworkRunner>, ConformanceError> {
    let options = TraceOptions {
        batch: data.batch,
        timesteps: data.steps,
        loss: StepLoss::Mse,
        bounds: Some(bounds),
        penalties: Vec::new(),
        record: RecordOptions::all(),
    };
    match engine {
        Engine::Unrolled => Ok(Box::new(UnrolledRunner::new(network, &options, data)?)),
        Engine::Runtime(kind) => Ok(Box::new(SessionRunner::new(network, &options, data, kind)?)),
    }
}

/// `(T, B, m)` per-step buffers (one per step) → `(B, T, m)`.
fn stack_time(per_step: &[&[f32]], batch: usize) -> Vec<f32> {
    let steps = per_step.len();
    let m = per_step.first().map_or(0, |s| s.len() / batch.max(1));
    let mut out = vec![0.0; batch * steps * m];
    for (t, step) in per_step.iter().enumerate() {
        for b in 0..batch {
            out[(b * steps + t) * m..(b * steps + t + 1) * m]
                .copy_from_slice(&step[b * m..(b + 1) * m]);
        }
    }
    out
}

/// `(B, T, m)` → the `(B, m)` slice of step `t`.
fn step_slice(data: &[f32], batch: usize, steps: usize, t: usize) -> Vec<f32> {
    let m = data.len() / (batch * steps).max(1);
    let mut out = Vec::with_capacity(batch * m);
    for b in 0..batch {
        out.extend_from_slice(&data[(b * steps + t) * m..(b * steps + t + 1) * m]);
    }
    out
}

// ----- unrolled -----------------------------------------------------------------

struct UnrolledRunner {
    runner: Runner,
    feed: Feed,
    batch: usize,
    param_count: usize,
    /// Output indices.
    grads_at: usize,
    outputs_at: usize,
    steps: usize,
    records: Vec<(Path, String, usize)>,
    finals: Vec<(Path, usize)>,
    last_params: Vec<Vec<f32>>,
    last_grads: Vec<Vec<f32>>,
    moments: Vec<Vec<f32>>,
    param_shapes: Vec<neurojit_compiler::program::Slot>,
}

impl UnrolledRunner {
    fn new(
        network: &dyn Module,
        options: &TraceOptions,
        data: &CaseData,
    ) -> Result<UnrolledRunner, ConformanceError> {
        let mut un = unroll(network, options)?;
        let wrt: Vec<Value> = un
            .param_values
            .leaves()
            .into_iter()
            .map(|(_, &v)| v)
            .collect();
        let grads = gradients(&mut un.graph, un.loss, &wrt)?;
        let g = &mut un.graph;
        g.output(OutKind::Loss, 0, "loss", un.loss);
        g.output(OutKind::Loss, 1, "mse", un.target_loss);
        g.output(OutKind::Loss, 2, "bounds", un.param_loss);
        let grads_at = g.outputs().len();
        for (i, &d) in grads.iter().enumerate() {
            g.output(OutKind::ParamGrad, i, &un.params[i].name, d);
        }
        let outputs_at = g.outputs().len();
        for (t, &y) in un.outputs.iter().enumerate() {
            g.output(OutKind::Prediction, t, "prediction", y);
        }
        let mut records = Vec::new();
        for (module, name, values) in &un.records {
            records.push((module.clone(), name.clone(), g.outputs().len()));
            for (t, &v) in values.iter().enumerate() {
                g.output(
                    OutKind::Record,
                    records.len() * data.steps + t,
                    &record_name(module, name),
                    v,
                );
            }
        }
        let mut finals = Vec::new();
        for (i, (path, v)) in un.final_states.iter().enumerate() {
            finals.push((path.clone(), g.outputs().len()));
            g.output(OutKind::State, i, &path.joined(), *v);
        }
        let mut feed = Feed::default();
        for f in &un.fixed {
            feed.set(ArgKind::Fixed, f.slot.slot, f.values.clone());
        }
        for t in 0..data.steps {
            feed.set(
                ArgKind::Input,
                t,
                step_slice(&data.input, data.batch, data.steps, t),
            );
            feed.set(
                ArgKind::Target,
                t,
                step_slice(&data.target, data.batch, data.steps, t),
            );
        }
        Ok(UnrolledRunner {
            runner: Runner::new(un.graph)?,
            feed,
            batch: data.batch,
            param_count: un.params.len(),
            grads_at,
            outputs_at,
            steps: data.steps,
            records,
            finals,
            last_params: Vec::new(),
            last_grads: Vec::new(),
            moments: un
                .params
                .iter()
                .flat_map(|s| [vec![0.0; s.shape.numel()], vec![0.0; s.shape.numel()]])
                .collect(),
            param_shapes: un.params,
        })
    }
}

impl NetworkRunner for UnrolledRunner {
    fn run(&mut self, params: &[Vec<f32>]) -> Result<RunResult, ConformanceError> {
        for (p, data) in params.iter().enumerate() {
            self.feed.set(ArgKind::Param, p, data.clone());
        }
        let out = self.runner.run(&self.feed)?;
        let per_step = |at: usize| -> Vec<&[f32]> {
            (0..self.steps).map(|t| out[at + t].as_slice()).collect()
        };
        let grads: Vec<Vec<f32>> = out[self.grads_at..self.grads_at + self.param_count].to_vec();
        let result = RunResult {
            total: out[0][0],
            mse: out[1][0],
            bounds: out[2][0],
            grads: grads.clone(),
            output: stack_time(&per_step(self.outputs_at), self.batch),
            records: self
                .records
                .iter()
                .map(|(m, n, at)| {
                    (
                        (m.clone(), n.clone()),
                        stack_time(&per_step(*at), self.batch),
                    )
                })
                .collect(),
            final_states: self
                .finals
                .iter()
                .map(|(p, at)| (p.clone(), out[*at].clone()))
                .collect(),
        };
        self.last_params = params.to_vec();
        self.last_grads = grads;
        Ok(result)
    }

    fn adam_step(&mut self, adam: &Adam, k: u64) -> Result<Vec<Vec<f32>>, ConformanceError> {
        let update = adam.update_graph(&self.param_shapes, None)?;
        let mut feed = Feed::default();
        for p in 0..self.param_count {
            feed.set(ArgKind::Param, p, self.last_params[p].clone());
            feed.set(ArgKind::Grad, p, self.last_grads[p].clone());
        }
        for (m, data) in self.moments.iter().enumerate() {
            feed.set(ArgKind::Moment, m, data.clone());
        }
        for (k_slot, s) in adam.step_scalars(k).into_iter().enumerate() {
            feed.set(ArgKind::Scalar, k_slot, vec![s]);
        }
        let outputs = update.outputs().to_vec();
        let results = Runner::new(update)?.run(&feed)?;
        let mut params = self.last_params.clone();
        for (o, data) in outputs.iter().zip(results) {
            match o.kind {
                OutKind::Param => params[o.slot] = data,
                OutKind::Moment => self.moments[o.slot] = data,
                _ => {}
            }
        }
        Ok(params)
    }
}

// ----- runtime ------------------------------------------------------------------------

struct SessionRunner {
    session: Session,
    traced: TracedNetwork,
    kind: BackendKind,
    optimizer: Option<neurojit_runtime::Optimizer>,
}

impl SessionRunner {
    fn new(
        network: &dyn Module,
        options: &TraceOptions,
        data: &CaseData,
        kind: BackendKind,
    ) -> Result<SessionRunner, ConformanceError> {
        let traced = trace(network, options)?;
        let programs = compile_training(&traced.program)?;
        let backend = kind.backend();
        let mut session = Session::new(programs, backend.as_ref(), data.steps).map_err(runtime)?;
        session
            .set_data(&data.input, &data.target)
            .map_err(runtime)?;
        Ok(SessionRunner {
            session,
            traced,
            kind,
            optimizer: None,
        })
    }
}

fn runtime(e: neurojit_runtime::RuntimeError) -> ConformanceError {
    ConformanceError::Runtime(e.to_string())
}

impl NetworkRunner for SessionRunner {
    fn run(&mut self, params: &[Vec<f32>]) -> Result<RunResult, ConformanceError> {
        for (slot, data) in params.iter().enumerate() {
            self.session.set_param(slot, data).map_err(runtime)?;
        }
        let loss = self.session.forward().map_err(runtime)?;
        self.session.backward().map_err(runtime)?;
        let mut records = HashMap::new();
        for r in &self.traced.records {
            let name = record_name(&r.module, &r.name);
            let data = self.session.record_named(&name).ok_or_else(|| {
                ConformanceError::Runtime(format!("the session has no record `{name}`"))
            })?;
            records.insert((r.module.clone(), r.name.clone()), data);
        }
        let states = &self.session.programs().states;
        let mut last = self.session.final_state();
        let mut final_states = HashMap::new();
        for path in &self.traced.state_paths {
            let name = path.joined();
            if let Some(i) = states.iter().position(|s| s.name == name) {
                final_states.insert(path.clone(), std::mem::take(&mut last[i]));
            }
        }
        Ok(RunResult {
            mse: loss.task,
            bounds: loss.penalty,
            total: loss.total(),
            grads: self.session.grads().to_vec(),
            output: self.session.predictions(),
            records,
            final_states,
        })
    }

    fn adam_step(&mut self, adam: &Adam, k: u64) -> Result<Vec<Vec<f32>>, ConformanceError> {
        if self.optimizer.is_none() {
            let update = adam.update_graph(&self.session.programs().params, None)?;
            let backend = self.kind.backend();
            self.optimizer = Some(
                neurojit_runtime::Optimizer::new(&update, backend.as_ref(), &self.session)
                    .map_err(runtime)?,
            );
        }
        let optimizer = self.optimizer.as_mut().expect("created above");
        optimizer
            .step(&mut self.session, &adam.step_scalars(k))
            .map_err(runtime)?;
        Ok(self.session.params().to_vec())
    }
}
