//! From a spec file to everything training needs: the network (with the
//! spec's initial values), the bounds trees, the trace options (loss and
//! penalty), the optimiser and how to run.

use crate::bounds::{clip_ranges, make_bounds, Bound, BoundsError, ClipRange};
use crate::nn::{LeakMode, Lif, Linear, Module, ModuleError, Residual, Sequential, Submodule};
use crate::optim::{Adam, Optimizer, Sgd};
use crate::spec::{
    BoundValue, InitValue, LayerSpec, LeakSpec, LifSpec, LossKind, OptimizerKind, Spec,
};
use crate::trace::{BoundsPenalty, StepLoss, TraceOptions};
use crate::tree::{Path, Tensor, Tree, TreeError};
use neurojit_runtime::BackendKind;
use rand::rngs::StdRng;
use rand::SeedableRng;
use thiserror::Error;

use super::TrainerOptions;

/// A spec turned into objects.
pub struct Experiment {
    pub network: Box<dyn Module>,
    pub lower: Tree<Bound>,
    pub upper: Tree<Bound>,
    pub trace: TraceOptions,
    pub optimizer: Box<dyn Optimizer>,
    pub clip: Option<Vec<ClipRange>>,
    pub run: TrainerOptions,
    pub epochs: usize,
}

#[derive(Debug, Error)]
pub enum SetupError {
    #[error("{0}")]
    Module(#[from] ModuleError),
    #[error("{0}")]
    Bounds(#[from] BoundsError),
    #[error("bounds of `{path}`: {source}")]
    Tree { path: String, source: TreeError },
    #[error("{path}: {message}")]
    Value { path: String, message: String },
}

/// Builds the experiment a spec describes. Weights are drawn from the
/// spec's seed.
pub fn experiment(spec: &Spec) -> Result<Experiment, SetupError> {
    let mut rng = StdRng::seed_from_u64(spec.training.seed);
    let network = build_network(&spec.network.layers, &mut rng)?;
    let (lower, upper) = bounds_trees(spec, &network.parameters())?;
    let mut trace = TraceOptions::new(spec.training.batch, spec.training.t);
    trace.loss = match spec.loss.kind {
        LossKind::Mse => StepLoss::Mse,
        LossKind::CrossEntropy => StepLoss::CrossEntropy,
    };
    trace.bounds = Some(BoundsPenalty {
        lower: lower.clone(),
        upper: upper.clone(),
        weight: spec.loss.bounds_weight,
    });
    let o = &spec.optimizer;
    let optimizer: Box<dyn Optimizer> = match o.kind {
        OptimizerKind::Adam => Box::new(Adam {
            b1: o.b1 as f64,
            b2: o.b2 as f64,
            eps: o.eps as f64,
            ..Adam::new(o.lr as f64)
        }),
        OptimizerKind::Sgd => Box::new(Sgd::new(o.lr as f64)),
    };
    let clip = if o.bounds_clip {
        Some(clip_ranges(&network.parameters(), &lower, &upper)?)
    } else {
        None
    };
    let run = TrainerOptions {
        backend: match spec.training.backend {
            crate::spec::Backend::Jit => BackendKind::Jit,
            crate::spec::Backend::Interp => BackendKind::Interp,
        },
        threads: spec.training.threads,
        noise_seed: spec.training.seed,
        check_finite: true,
    };
    Ok(Experiment {
        network,
        lower,
        upper,
        trace,
        optimizer,
        clip,
        run,
        epochs: spec.training.epochs,
    })
}

/// The top-level Sequential of `layers`.
pub fn build_network(
    layers: &[LayerSpec],
    rng: &mut StdRng,
) -> Result<Box<dyn Module>, ModuleError> {
    Ok(Sequential::from_submodules(build_children(layers, rng)?)?.boxed())
}

fn build_children(layers: &[LayerSpec], rng: &mut StdRng) -> Result<Vec<Submodule>, ModuleError> {
    layers
        .iter()
        .enumerate()
        .map(|(i, layer)| {
            Ok(Submodule {
                name: layer.key(i),
                module: build_layer(layer, rng)?,
            })
        })
        .collect()
}

fn build_layer(layer: &LayerSpec, rng: &mut StdRng) -> Result<Box<dyn Module>, ModuleError> {
    Ok(match layer {
        LayerSpec::Linear(l) => {
            let linear = Linear::new(l.n_in, l.n_out, rng);
            if l.bias {
                linear.with_bias(rng)
            } else {
                linear
            }
            .boxed()
        }
        LayerSpec::Lif(l) => build_lif(l, rng)?,
        LayerSpec::Sequential(c) => {
            Sequential::from_submodules(build_children(&c.layers, rng)?)?.boxed()
        }
        LayerSpec::Residual(c) => {
            Residual::from_submodules(build_children(&c.layers, rng)?)?.boxed()
        }
    })
}

fn build_lif(l: &LifSpec, rng: &mut StdRng) -> Result<Box<dyn Module>, ModuleError> {
    let n_syn = l.n_synapses();
    let mode = match l.leak {
        LeakSpec::Taus { .. } => LeakMode::Taus,
        LeakSpec::Decays { .. } => LeakMode::Decays,
    };
    let mut lif = Lif::with_synapses(l.n_out, n_syn)
        .leak_mode(mode)
        .dt(l.dt)
        .noise_std(l.noise_std);
    if l.recurrent {
        lif = lif.recurrent(rng);
    }
    let mut lif = lif.boxed();
    let n = l.n_out;
    let (leak_names, leak_values) = match &l.leak {
        LeakSpec::Taus { tau_mem, tau_syn } => (["tau_mem", "tau_syn"], [tau_mem, tau_syn]),
        LeakSpec::Decays { alpha, beta } => (["alpha", "beta"], [alpha, beta]),
    };
    let mut values = Tree::new();
    let mut set = |name: &str, shape: &[usize], init: &InitValue| {
        let count = shape.iter().product();
        let tensor = Tensor::new(shape, init.to_elements(count))
            .expect("spec validation checked per-element sizes");
        values.insert_leaf(name, tensor);
    };
    set(leak_names[0], &[n], leak_values[0]);
    set(leak_names[1], &[n, n_syn], leak_values[1]);
    set("bias", &[n], &l.bias);
    set("threshold", &[n], &l.threshold);
    set(
        "max_spikes_per_dt",
        &[],
        &InitValue::scalar(l.max_spikes_per_dt as f32),
    );
    lif.set_attributes(&values)?;
    Ok(lif)
}

/// Lower and upper bounds trees shaped like `params`, from the spec's
/// per-parameter bounds (infinite where the spec sets none).
pub fn bounds_trees(
    spec: &Spec,
    params: &Tree<Tensor>,
) -> Result<(Tree<Bound>, Tree<Bound>), SetupError> {
    let (mut lower, mut upper) = make_bounds(params);
    for b in &spec.param_bounds {
        let path = Path::parse(&b.path);
        for (tree, value) in [(&mut lower, &b.lower), (&mut upper, &b.upper)] {
            let bound = match value {
                BoundValue::Scalar(x) => Bound::Scalar(*x),
                BoundValue::PerElement(v) => {
                    Bound::Array(Tensor::new(b.shape.as_slice(), v.clone()).map_err(|e| {
                        SetupError::Value {
                            path: b.path.clone(),
                            message: e.to_string(),
                        }
                    })?)
                }
            };
            tree.set_nested(&path, bound)
                .map_err(|source| SetupError::Tree {
                    path: b.path.clone(),
                    source,
                })?;
        }
    }
    Ok((lower, upper))
}
