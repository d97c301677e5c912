//! The trainer: owns the compiled session (split across threads when
//! asked), the optimiser's compiled update, and the noise inputs of noisy
//! LIF layers. Every step checks that the loss, the gradients and the
//! updated parameters are finite and stops with an error naming the step and
//! the first offending parameter otherwise.

use crate::bounds::ClipRange;
use crate::nn::Module;
use crate::optim::{OptimError, Optimizer};
use crate::trace::{trace, TraceError, TraceOptions, TracedNetwork};
use crate::tree::{Path, Tensor, Tree};
use neurojit_compiler::ir::GraphError;
use neurojit_compiler::program::{batch_over_time, compile_training, Slot};
use neurojit_runtime::{BackendKind, LossParts, RuntimeError, ShardedSession};
use rand::rngs::StdRng;
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use std::time::Instant;
use thiserror::Error;

/// How to run training.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainerOptions {
    pub backend: BackendKind,
    /// Worker threads: the batch is split into equal shards, as many as
    /// the batch allows up to this number.
    pub threads: usize,
    /// Seed of the noise fed to noisy LIF layers.
    pub noise_seed: u64,
    /// Stop with an error when the loss, a gradient or an updated parameter
    /// is not finite. Only benchmarks turn this off, to time steps of a
    /// diverging network exactly as other frameworks run them.
    pub check_finite: bool,
}

impl Default for TrainerOptions {
    fn default() -> TrainerOptions {
        TrainerOptions {
            backend: BackendKind::Jit,
            threads: 1,
            noise_seed: 0,
            check_finite: true,
        }
    }
}

#[derive(Debug, Error)]
pub enum TrainError {
    #[error("{0}")]
    Trace(#[from] TraceError),
    #[error("compiling the training programs: {0}")]
    Compile(#[from] GraphError),
    #[error("{0}")]
    Runtime(#[from] RuntimeError),
    #[error("{0}")]
    Optimizer(#[from] OptimError),
    #[error("step {step}: {what} is not finite")]
    NonFinite { step: u64, what: String },
    #[error("parameter `{path}`: expected {expected} values, got {got}")]
    ParamLength {
        path: String,
        expected: usize,
        got: usize,
    },
    #[error("parameter `{path}` (element {index}) is {value}: expected a finite number")]
    NonFiniteParam {
        path: String,
        index: usize,
        value: f32,
    },
    #[error("{what}: expected {expected} values {layout}, got {got}")]
    DataLength {
        what: &'static str,
        expected: usize,
        layout: String,
        got: usize,
    },
    #[error("{what} at (sample {sample}, step {step}, channel {channel}) is {value}: expected a finite number")]
    NonFiniteData {
        what: &'static str,
        sample: usize,
        step: usize,
        channel: usize,
        value: f32,
    },
    #[error("no data to run on: call `set_data` before `step` or `evaluate`")]
    NoData,
    #[error(
        "{expected} parameters, got {got} (`set_params` replaces every parameter, in slot order)"
    )]
    ParamCount { expected: usize, got: usize },
}

pub struct Trainer {
    traced: TracedNetwork,
    session: ShardedSession,
    update: neurojit_runtime::Optimizer,
    optimizer: Box<dyn Optimizer>,
    noise_seed: u64,
    check_finite: bool,
    batch: usize,
    steps: usize,
    has_data: bool,
    compile_seconds: f64,
}

impl Trainer {
    /// Traces `network` with `options` (whose `batch` is the full batch),
    /// compiles the training programs and the optimiser update on the
    /// chosen backend, and loads the network's current parameters.
    /// `clip` projects every parameter into its range after each update.
    pub fn new(
        network: &dyn Module,
        options: &TraceOptions,
        optimizer: Box<dyn Optimizer>,
        clip: Option<Vec<ClipRange>>,
        run: &TrainerOptions,
    ) -> Result<Trainer, TrainError> {
        // The batch is split into equal shards, one per thread: as many as
        // the batch allows (a batch of 1 runs on one thread whatever the
        // setting; 12 samples on 8 threads run as 6 shards of 2).
        let threads = (1..=run.threads.max(1).min(options.batch.max(1)))
            .rev()
            .find(|n| options.batch.is_multiple_of(*n))
            .unwrap_or(1);
        let started = Instant::now();
        let mut shard_options = options.clone();
        shard_options.batch = options.batch / threads;
        let traced = trace(network, &shard_options)?;
        let programs = batch_over_time(compile_training(&traced.program)?, options.timesteps)?;
        let backend = run.backend.backend();
        let update_graph = optimizer.update_graph(&programs.params, clip.as_deref())?;
        let mut session =
            ShardedSession::new(programs, backend.as_ref(), options.timesteps, threads)?;
        let update =
            neurojit_runtime::Optimizer::new(&update_graph, backend.as_ref(), session.primary())?;
        let params = network.parameters();
        for (slot, path) in traced.param_paths.iter().enumerate() {
            let tensor = params.get_nested(path).map_err(|e| {
                TraceError::Graph(GraphError::Missing {
                    what: e.to_string(),
                })
            })?;
            check_finite_param(path, tensor.data())?;
            session.set_param(slot, tensor.data())?;
        }
        Ok(Trainer {
            traced,
            session,
            update,
            optimizer,
            noise_seed: run.noise_seed,
            check_finite: run.check_finite,
            batch: options.batch,
            steps: options.timesteps,
            has_data: false,
            compile_seconds: started.elapsed().as_secs_f64(),
        })
    }

    /// Seconds spent tracing, differentiating, simplifying and compiling.
    pub fn compile_seconds(&self) -> f64 {
        self.compile_seconds
    }

    /// Threads (batch shards) the trainer runs on.
    pub fn threads(&self) -> usize {
        self.session.threads()
    }

    /// Bytes the tape stores per timestep (of one shard).
    pub fn tape_bytes_per_step(&self) -> usize {
        self.session.primary().programs().tape_bytes_per_step()
    }

    pub fn traced(&self) -> &TracedNetwork {
        &self.traced
    }

    pub fn param_slots(&self) -> &[Slot] {
        &self.session.primary().programs().params
    }

    pub fn params(&self) -> &[Vec<f32>] {
        self.session.primary().params()
    }

    /// Gradients of the last step (full-batch means).
    pub fn grads(&self) -> &[Vec<f32>] {
        self.session.primary().grads()
    }

    /// Updates taken so far.
    pub fn steps_taken(&self) -> u64 {
        self.update.steps_taken()
    }

    /// The parameters as a tree keyed by module path.
    pub fn param_tree(&self) -> Tree<Tensor> {
        let mut tree = Tree::new();
        for (slot, path) in self.traced.param_paths.iter().enumerate() {
            let shape = self.param_slots()[slot].shape.clone();
            let tensor = Tensor::new(shape, self.params()[slot].clone())
                .expect("a session buffer matches its slot's shape");
            tree.insert_at(path, tensor)
                .expect("parameter paths are distinct leaves");
        }
        tree
    }

    /// Replaces the parameter at `path`.
    pub fn set_param(&mut self, path: &Path, values: &[f32]) -> Result<(), TrainError> {
        let slot = self
            .traced
            .param_paths
            .iter()
            .position(|p| p == path)
            .ok_or_else(|| RuntimeError::UnknownParam(path.joined()))?;
        let expected = self.params()[slot].len();
        if values.len() != expected {
            return Err(TrainError::ParamLength {
                path: path.joined(),
                expected,
                got: values.len(),
            });
        }
        check_finite_param(path, values)?;
        self.session.set_param(slot, values)?;
        Ok(())
    }

    /// Replaces every parameter, in slot order.
    pub fn set_params(&mut self, params: &[Vec<f32>]) -> Result<(), TrainError> {
        let expected = self.param_slots().len();
        if params.len() != expected {
            return Err(TrainError::ParamCount {
                expected,
                got: params.len(),
            });
        }
        for (slot, values) in params.iter().enumerate() {
            check_finite_param(&self.traced.param_paths[slot], values)?;
            self.session.set_param(slot, values)?;
        }
        Ok(())
    }

    /// The optimiser's kind as checkpoints record it: `adam` or `sgd`.
    pub fn optimizer_kind(&self) -> &'static str {
        self.optimizer.kind()
    }

    /// The optimiser's moments and step counter (for checkpoints).
    pub fn optimizer_state(&self) -> (&[Vec<f32>], u64) {
        (self.update.moments(), self.update.steps_taken())
    }

    pub fn restore_optimizer_state(
        &mut self,
        moments: Vec<Vec<f32>>,
        steps_taken: u64,
    ) -> Result<(), TrainError> {
        Ok(self.update.set_moments(moments, steps_taken)?)
    }

    /// Sets the training data, batch-major: inputs `(B, T, n_in)`, targets
    /// `(B, T, n_out)`.
    pub fn set_data(&mut self, inputs: &[f32], targets: &[f32]) -> Result<(), TrainError> {
        let program = &self.traced.program;
        for (what, data, shape) in [
            ("inputs", inputs, &program.input),
            ("targets", targets, &program.target),
        ] {
            // Per sample and step: the shard's step shape over its batch.
            let shard_batch = shape.dims().first().copied().unwrap_or(1).max(1);
            let channels = shape.numel() / shard_batch;
            let expected = self.batch * self.steps * channels;
            if data.len() != expected {
                return Err(TrainError::DataLength {
                    what,
                    expected,
                    layout: format!("(B, T, n) = ({}, {}, {channels})", self.batch, self.steps),
                    got: data.len(),
                });
            }
            if let Some(i) = data.iter().position(|x| !x.is_finite()) {
                let per_sample = self.steps * channels.max(1);
                return Err(TrainError::NonFiniteData {
                    what,
                    sample: i / per_sample,
                    step: i % per_sample / channels.max(1),
                    channel: i % channels.max(1),
                    value: data[i],
                });
            }
        }
        self.session.set_data(inputs, targets)?;
        self.has_data = true;
        Ok(())
    }

    /// Draws fresh noise for every noisy LIF layer. The noise of a step
    /// depends only on the seed and the step number, so a resumed run sees
    /// the same noise as an uninterrupted one.
    fn refresh_noise(&mut self) -> Result<(), TrainError> {
        let step = self.update.steps_taken();
        let mut rng =
            StdRng::seed_from_u64(self.noise_seed ^ step.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        for noise in &self.traced.noise {
            // The noise shape is one shard's step, batch first.
            let shard_batch = noise.shape.dims().first().copied().unwrap_or(1).max(1);
            let count = noise.shape.numel() / shard_batch * self.batch * self.steps;
            let values: Vec<f32> = (0..count)
                .map(|_| StandardNormal.sample(&mut rng))
                .collect();
            self.session.set_extra_input(noise.slot, &values)?;
        }
        Ok(())
    }

    /// The loss at the current parameters, without updating them.
    pub fn evaluate(&mut self) -> Result<LossParts, TrainError> {
        if !self.has_data {
            return Err(TrainError::NoData);
        }
        self.refresh_noise()?;
        Ok(self.session.forward()?)
    }

    /// One training step: forward, backward through time, optimiser update.
    /// Returns the loss before the update.
    pub fn step(&mut self) -> Result<LossParts, TrainError> {
        if !self.has_data {
            return Err(TrainError::NoData);
        }
        let step = self.update.steps_taken() + 1;
        self.refresh_noise()?;
        let loss = self.session.forward_backward()?;
        if self.check_finite {
            if !loss.total().is_finite() {
                return Err(TrainError::NonFinite {
                    step,
                    what: format!("the loss ({})", loss.total()),
                });
            }
            if let Some(slot) = first_non_finite(self.grads()) {
                return Err(TrainError::NonFinite {
                    step,
                    what: format!("the gradient of `{}`", self.param_slots()[slot].name),
                });
            }
        }
        let scalars = self.optimizer.step_scalars(step);
        self.update.step(self.session.primary_mut(), &scalars)?;
        if self.check_finite {
            if let Some(slot) = first_non_finite(self.params()) {
                return Err(TrainError::NonFinite {
                    step,
                    what: format!(
                        "parameter `{}` after the update",
                        self.param_slots()[slot].name
                    ),
                });
            }
        }
        self.session.sync_params()?;
        Ok(loss)
    }

    /// Predictions of the last forward pass, batch-major `(B, T, n_out)`.
    pub fn predictions(&self) -> Vec<f32> {
        self.session.predictions()
    }

    /// A record of the last forward pass (`1_LIF/vmem`, ...), batch-major.
    pub fn record(&self, name: &str) -> Option<Vec<f32>> {
        self.session.record_named(name)
    }
}

fn first_non_finite(buffers: &[Vec<f32>]) -> Option<usize> {
    buffers
        .iter()
        .position(|b| b.iter().any(|x| !x.is_finite()))
}

/// Refuses a parameter value that is NaN or infinite: the first step would
/// report it as some gradient's non-finite value, often another
/// parameter's.
fn check_finite_param(path: &Path, values: &[f32]) -> Result<(), TrainError> {
    match values.iter().position(|x| !x.is_finite()) {
        Some(index) => Err(TrainError::NonFiniteParam {
            path: path.joined(),
            index,
            value: values[index],
        }),
        None => Ok(()),
    }
}
