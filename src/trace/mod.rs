//! Tracing: a network plus its loss becomes a
//! [`StepProgram`](neurojit_compiler::program::StepProgram), the one-timestep
//! graph the compiler differentiates and compiles and the runtime loops.
//!
//! Signature of the traced step (see `StepProgram`):
//! - `Param(p)`: every parameter, in `parameters()` order, named by its
//!   full path (`2_Residual/1_LIF/tau_mem`);
//! - `State(s)`: every state the step touches, in `state()` order, with
//!   the batch dimension first (`1_LIF/vmem : [B, N]`);
//! - `Input(0)`: `x_t (B, n_in)`; `Target(0)`: `target_t (B, n_out)`;
//!   `Input(1..)`: standard-normal noise for noisy LIF layers
//!   ([`TracedNetwork::noise`]);
//! - outputs `State(s)`, `Prediction(0) = y_t (B, n_out)`, `Loss(0)` (the
//!   per-step loss term; for mse `sum((y_t - target_t)^2) / (B T N)`, so
//!   the sum over `T` steps is Rockpool's `mse`) and, when asked,
//!   `Record(r)` ([`TracedNetwork::records`]).
//!
//! `param_loss` has `Param(p)` arguments and one `Loss(0)` output:
//! `bounds weight * bounds_cost(params, lower, upper)` plus any
//! [`ParamPenalty`]; a constant 0 when there is none.
//!
//! [`unroll`] traces all `T` steps into one graph instead (used to check
//! the front end against Rockpool with the interpreter alone).

mod penalty;
mod unrolled;

pub use penalty::{BoundsPenalty, ParamPenalty};
pub use unrolled::{unroll, UnrolledNetwork};

use crate::bounds::BoundsError;
use crate::loss::{cross_entropy, mse_step_term, sse, LossError};
use crate::nn::{InitialState, Module, ModuleError, NoiseInput, RecordOptions, StepContext};
use crate::tree::{Path, Tree};
use neurojit_compiler::ir::{ArgKind, Graph, GraphError, OutKind, Shape, Value};
use neurojit_compiler::program::{Slot, StepProgram};
use neurojit_runtime::{fits_in_buffer, MAX_BUFFER_ELEMENTS};
use std::collections::HashMap;
use thiserror::Error;

/// The per-timestep loss against the target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum StepLoss {
    /// Mean squared error over the whole run (batch, time and channels).
    #[default]
    Mse,
    /// Sum of squared errors over the whole run.
    Sse,
    /// Cross-entropy of each step's output (as logits) against the target
    /// class probabilities (one-hot labels), averaged over batch and time.
    CrossEntropy,
    /// No target term (only the parameter penalties).
    None,
}

/// What to trace.
#[derive(Clone, Debug, PartialEq)]
pub struct TraceOptions {
    pub batch: usize,
    /// Steps per run; scales the per-step mse term.
    pub timesteps: usize,
    pub loss: StepLoss,
    pub bounds: Option<BoundsPenalty>,
    pub penalties: Vec<ParamPenalty>,
    pub record: RecordOptions,
}

impl TraceOptions {
    /// Mse loss, no penalties, no records.
    pub fn new(batch: usize, timesteps: usize) -> TraceOptions {
        TraceOptions {
            batch,
            timesteps,
            loss: StepLoss::Mse,
            bounds: None,
            penalties: Vec::new(),
            record: RecordOptions::default(),
        }
    }
}

/// A `Record(slot)` output: `name` of the module at `module`
/// (`"output"`, `"vmem"`, `"isyn"`, `"irec"`), shape with batch first.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordSlot {
    pub slot: usize,
    pub module: Path,
    pub name: String,
    pub shape: Shape,
}

/// A traced network: the step program and what its slots mean.
#[derive(Clone, Debug)]
pub struct TracedNetwork {
    pub program: StepProgram,
    /// `params[p]` is the path of `Param(p)` (`parameters()` order).
    pub param_paths: Vec<Path>,
    /// `state_paths[s]` is the path of `State(s)`.
    pub state_paths: Vec<Path>,
    pub records: Vec<RecordSlot>,
    pub noise: Vec<NoiseInput>,
}

#[derive(Debug, Error, Clone, PartialEq)]
pub enum TraceError {
    #[error("{0}")]
    Module(#[from] ModuleError),
    #[error("{0}")]
    Bounds(#[from] BoundsError),
    #[error("{0}")]
    Loss(#[from] LossError),
    #[error("{0}")]
    Graph(#[from] GraphError),
    #[error("{what} must be at least 1")]
    Size { what: &'static str },
    #[error(
        "{what} = {value}: expected at most {MAX_BUFFER_ELEMENTS} (the floats one buffer holds)"
    )]
    Limit { what: &'static str, value: usize },
    #[error(
        "batch = {batch}: one timestep computes a value of shape {shape}, over \
         {MAX_BUFFER_ELEMENTS} floats (1 GiB); use a smaller batch or narrower layers"
    )]
    StepTooLarge { batch: usize, shape: Shape },
    #[error(
        "state `{name}`: no argument for it in the step graph; expected the module to read its \
         state through StepContext::state, not to declare State arguments itself"
    )]
    StateArgument { name: String },
}

/// Traces one timestep of `network` with its loss.
pub fn trace(network: &dyn Module, options: &TraceOptions) -> Result<TracedNetwork, TraceError> {
    check_sizes(options.batch, options.timesteps)?;
    crate::nn::check_names(network, &Path::root())?;
    let b = options.batch;
    let (n_in, n_out) = network.shape();

    let mut step = Graph::new();
    let (params, param_values) = declare_params(&mut step, network);
    let x = step.arg(ArgKind::Input, 0, "input", Shape::from([b, n_in]));
    let target = step.arg(ArgKind::Target, 0, "target", Shape::from([b, n_out]));
    let mut ctx = StepContext::new(
        &mut step,
        b,
        path_map(&param_values),
        Vec::new(),
        InitialState::Arguments,
        options.record,
    );
    let y = ctx.run(network, x)?;
    let outcome = ctx.finish()?;
    check_step_values(&step, b)?;

    // State slots in state-tree order (the context numbered them by first use).
    let order: HashMap<Path, usize> = network
        .state()
        .branches()
        .into_iter()
        .enumerate()
        .map(|(i, p)| (p, i))
        .collect();
    let mut touched = outcome.states.clone();
    touched.sort_by_key(|s| order.get(&s.path).copied().unwrap_or(usize::MAX));
    let mut args = step.args().to_vec();
    let mut states = Vec::new();
    let mut state_paths = Vec::new();
    for (slot, update) in touched.iter().enumerate() {
        let name = update.path.joined();
        // A state read through `StepContext::state` has its argument; a
        // module that declared a `State` argument of its own does not.
        let arg = args
            .iter_mut()
            .find(|a| a.kind == ArgKind::State && a.name == name)
            .ok_or_else(|| TraceError::StateArgument { name: name.clone() })?;
        arg.slot = slot;
        states.push(Slot {
            slot,
            name: name.clone(),
            shape: arg.shape.clone(),
        });
        state_paths.push(update.path.clone());
    }
    step.set_args(args);
    for (slot, update) in touched.iter().enumerate() {
        step.output(OutKind::State, slot, &update.path.joined(), update.after);
    }

    step.output(OutKind::Prediction, 0, "prediction", y);
    let loss = match options.loss {
        StepLoss::Mse => mse_step_term(&mut step, y, target, options.timesteps)?,
        StepLoss::Sse => sse(&mut step, y, target)?,
        StepLoss::CrossEntropy => {
            let ce = cross_entropy(&mut step, y, target)?;
            step.scale(ce, 1.0 / options.timesteps.max(1) as f32)
        }
        StepLoss::None => step.scalar(0.0),
    };
    step.output(OutKind::Loss, 0, "loss", loss);

    let mut records = Vec::new();
    for (slot, r) in outcome.records.iter().enumerate() {
        let name = record_name(&r.module, &r.name);
        step.output(OutKind::Record, slot, &name, r.value);
        records.push(RecordSlot {
            slot,
            module: r.module.clone(),
            name: r.name.clone(),
            shape: step.shape(r.value).clone(),
        });
    }

    let mut param_loss = Graph::new();
    let (_, values) = declare_params(&mut param_loss, network);
    let mut fixed = Vec::new();
    let total = penalty::parameter_loss(
        &mut param_loss,
        &values,
        options.bounds.as_ref(),
        &options.penalties,
        &mut fixed,
    )?;
    let total = total.unwrap_or_else(|| param_loss.scalar(0.0));
    param_loss.output(OutKind::Loss, 0, "param_loss", total);

    Ok(TracedNetwork {
        param_paths: params.iter().map(|s| Path::parse(&s.name)).collect(),
        program: StepProgram {
            step,
            param_loss,
            params,
            states,
            input: Shape::from([b, n_in]),
            target: Shape::from([b, n_out]),
            fixed,
        },
        state_paths,
        records,
        noise: outcome.noise,
    })
}

/// `module/name`, or just `name` for the top-level module.
pub fn record_name(module: &Path, name: &str) -> String {
    if module.is_root() {
        name.to_string()
    } else {
        format!("{}/{name}", module.joined())
    }
}

/// Checks the batch and step count before tracing. Each is at most what
/// one buffer holds (inputs hold `batch` rows, the losses one float per
/// step), so that the shapes built while tracing (`batch` times a layer's
/// width, itself within that limit) cannot overflow when multiplied out.
fn check_sizes(batch: usize, timesteps: usize) -> Result<(), TraceError> {
    for (what, value) in [("batch", batch), ("timesteps", timesteps)] {
        if value == 0 {
            return Err(TraceError::Size { what });
        }
        if value > MAX_BUFFER_ELEMENTS {
            return Err(TraceError::Limit { what, value });
        }
    }
    Ok(())
}

/// Refuses a step whose values would not fit in a buffer (their sizes
/// come from user files), before programs and buffers are built for them.
fn check_step_values(step: &Graph, batch: usize) -> Result<(), TraceError> {
    match step
        .nodes()
        .iter()
        .find(|n| !fits_in_buffer(n.shape.dims()))
    {
        Some(node) => Err(TraceError::StepTooLarge {
            batch,
            shape: node.shape.clone(),
        }),
        None => Ok(()),
    }
}

/// Declares `Param(p)` for every parameter in `parameters()` order; returns
/// the slots and the parameter tree of graph values.
fn declare_params(g: &mut Graph, network: &dyn Module) -> (Vec<Slot>, Tree<Value>) {
    let mut slots = Vec::new();
    let values = network.parameters().map_with_path(&mut |path, t| {
        let slot = slots.len();
        let name = path.joined();
        slots.push(Slot {
            slot,
            name: name.clone(),
            shape: t.shape().clone(),
        });
        g.arg(ArgKind::Param, slot, &name, t.shape().clone())
    });
    (slots, values)
}

fn path_map(values: &Tree<Value>) -> HashMap<Path, Value> {
    values.leaves().into_iter().map(|(p, &v)| (p, v)).collect()
}
