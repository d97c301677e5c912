//! The `[loss]`, `[optimizer]`, `[training]` and `[data]` sections: plain
//! settings with defaults for absent keys and range checks for present
//! ones. A key that does not apply (e.g. `b1` with `kind = "sgd"`) is an
//! error rather than silently ignored.

use super::error::{Source, SpecError};
use super::number::{show, show_with_f32};
use super::raw::{
    RawBackend, RawData, RawLoss, RawLossKind, RawOptimizer, RawOptimizerKind, RawTraining,
};
use std::path::PathBuf;
use toml::Spanned;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LossKind {
    /// Mean squared error between the network output and `targets`.
    Mse,
    /// Cross-entropy between the output and integer `labels`.
    CrossEntropy,
}

/// `[loss]`: task loss + `bounds_weight` x bounds_cost.
#[derive(Clone, Debug, PartialEq)]
pub struct LossSpec {
    pub kind: LossKind,
    pub bounds_weight: f32,
}

impl Default for LossSpec {
    fn default() -> Self {
        LossSpec {
            kind: LossKind::Mse,
            bounds_weight: 1.0,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptimizerKind {
    Adam,
    Sgd,
}

/// `[optimizer]`. `b1`, `b2`, `eps` are Adam's (optax defaults).
#[derive(Clone, Debug, PartialEq)]
pub struct OptimizerSpec {
    pub kind: OptimizerKind,
    pub lr: f32,
    pub b1: f32,
    pub b2: f32,
    pub eps: f32,
    /// After each step, project every parameter into its bounds.
    pub bounds_clip: bool,
}

impl Default for OptimizerSpec {
    fn default() -> Self {
        OptimizerSpec {
            kind: OptimizerKind::Adam,
            lr: 1e-3,
            b1: 0.9,
            b2: 0.999,
            eps: 1e-8,
            bounds_clip: false,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// Cranelift-compiled kernels.
    Jit,
    /// The reference interpreter.
    Interp,
}

/// `[training]`.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainingSpec {
    /// Samples per optimiser step.
    pub batch: usize,
    /// Timesteps per sample (`T` in the file).
    pub t: usize,
    pub epochs: usize,
    pub seed: u64,
    pub backend: Backend,
    pub threads: usize,
}

impl Default for TrainingSpec {
    fn default() -> Self {
        TrainingSpec {
            batch: 8,
            t: 100,
            epochs: 100,
            seed: 0,
            backend: Backend::Jit,
            threads: 1,
        }
    }
}

/// Default spike probability per input channel and timestep of the
/// built-in tutorial task.
pub const DEFAULT_INPUT_PROB: f32 = 0.05;

/// `[data]`: where the samples come from.
#[derive(Clone, Debug, PartialEq)]
pub enum DataSpec {
    /// An `.npz` file (relative paths are relative to the spec file when it
    /// was loaded with `load_spec`).
    File(PathBuf),
    /// The built-in tutorial task (frozen noise -> smooth signal).
    Tutorial(TutorialTaskSpec),
}

/// Options of the built-in tutorial task; sizes come from the network and
/// `[training]`.
#[derive(Clone, Debug, PartialEq)]
pub struct TutorialTaskSpec {
    /// Number of samples (default: the batch size).
    pub samples: usize,
    /// Spike probability per input channel and timestep, in [0, 1].
    pub input_prob: f32,
}

/// Reads `v` as the f32 training runs in, checking `valid` on that value
/// (`b1 = 0.99999999999` is 1 in f32, `lr = 1e-50` is 0).
fn in_range(
    src: &Source,
    v: &Spanned<f64>,
    key: &str,
    valid: impl Fn(f32) -> bool,
    expected: &str,
) -> Result<f32, SpecError> {
    let value = *v.get_ref();
    let rounded = value as f32;
    let shown = show_with_f32(value);
    if !rounded.is_finite() {
        Err(src.error(
            v.span(),
            format!("`{key}` is {shown}: expected a finite number ({expected})"),
        ))
    } else if valid(rounded) {
        Ok(rounded)
    } else {
        // Say so when rounding changed the number visibly (0.99999999999
        // is 1 in f32); zero and infinity are noted by `show_with_f32`.
        let rounded_text = rounded.to_string();
        let shown = if rounded != 0.0 && rounded_text != show(value) {
            format!("{shown} ({rounded_text} in f32)")
        } else {
            shown
        };
        Err(src.error(v.span(), format!("`{key}` is {shown}: expected {expected}")))
    }
}

fn at_least_one(src: &Source, v: &Spanned<usize>, key: &str) -> Result<usize, SpecError> {
    if *v.get_ref() >= 1 {
        Ok(*v.get_ref())
    } else {
        Err(src.error(v.span(), format!("`{key}` is 0: expected at least 1")))
    }
}

pub(crate) fn convert_loss(
    src: &Source,
    raw: Option<&Spanned<RawLoss>>,
) -> Result<LossSpec, SpecError> {
    let mut spec = LossSpec::default();
    let Some(raw) = raw else { return Ok(spec) };
    let raw = raw.get_ref();
    if let Some(kind) = &raw.kind {
        spec.kind = match kind.get_ref() {
            RawLossKind::Mse => LossKind::Mse,
            RawLossKind::CrossEntropy => LossKind::CrossEntropy,
        };
    }
    if let Some(w) = &raw.bounds_weight {
        spec.bounds_weight = in_range(src, w, "bounds_weight", |x| x >= 0.0, "a number >= 0")?;
    }
    Ok(spec)
}

pub(crate) fn convert_optimizer(
    src: &Source,
    raw: Option<&Spanned<RawOptimizer>>,
) -> Result<OptimizerSpec, SpecError> {
    let mut spec = OptimizerSpec::default();
    let Some(raw) = raw else { return Ok(spec) };
    let raw = raw.get_ref();
    if let Some(kind) = &raw.kind {
        spec.kind = match kind.get_ref() {
            RawOptimizerKind::Adam => OptimizerKind::Adam,
            RawOptimizerKind::Sgd => OptimizerKind::Sgd,
        };
    }
    if spec.kind == OptimizerKind::Sgd {
        for (key, value) in [("b1", &raw.b1), ("b2", &raw.b2), ("eps", &raw.eps)] {
            if let Some(v) = value {
                return Err(src.error(
                    v.span(),
                    format!("`{key}` is an Adam setting, but kind = \"sgd\": expected no `{key}`"),
                ));
            }
        }
    }
    if let Some(lr) = &raw.lr {
        spec.lr = in_range(src, lr, "lr", |x| x > 0.0, "a positive learning rate")?;
    }
    for (key, value, slot) in [("b1", &raw.b1, &mut spec.b1), ("b2", &raw.b2, &mut spec.b2)] {
        if let Some(v) = value {
            let in_unit = |x: f32| (0.0..1.0).contains(&x);
            *slot = in_range(src, v, key, in_unit, "a number in [0, 1)")?;
        }
    }
    if let Some(eps) = &raw.eps {
        spec.eps = in_range(src, eps, "eps", |x| x > 0.0, "a positive number")?;
    }
    if let Some(clip) = &raw.bounds_clip {
        spec.bounds_clip = *clip.get_ref();
    }
    Ok(spec)
}

pub(crate) fn convert_training(
    src: &Source,
    raw: Option<&Spanned<RawTraining>>,
) -> Result<TrainingSpec, SpecError> {
    let mut spec = TrainingSpec::default();
    let Some(raw) = raw else { return Ok(spec) };
    let raw = raw.get_ref();
    if let Some(v) = &raw.batch {
        spec.batch = at_least_one(src, v, "batch")?;
    }
    if let Some(v) = &raw.t {
        spec.t = at_least_one(src, v, "T")?;
    }
    if let Some(v) = &raw.epochs {
        spec.epochs = at_least_one(src, v, "epochs")?;
    }
    if let Some(v) = &raw.threads {
        spec.threads = at_least_one(src, v, "threads")?;
    }
    if let Some(v) = &raw.seed {
        spec.seed = *v.get_ref();
    }
    if let Some(v) = &raw.backend {
        spec.backend = match v.get_ref() {
            RawBackend::Jit => Backend::Jit,
            RawBackend::Interp => Backend::Interp,
        };
    }
    Ok(spec)
}

pub(crate) fn convert_data(
    src: &Source,
    raw: Option<&Spanned<RawData>>,
    training: &TrainingSpec,
) -> Result<DataSpec, SpecError> {
    let default_task = TutorialTaskSpec {
        samples: training.batch,
        input_prob: DEFAULT_INPUT_PROB,
    };
    let Some(spanned) = raw else {
        return Ok(DataSpec::Tutorial(default_task));
    };
    let raw = spanned.get_ref();
    match (&raw.path, &raw.builtin) {
        (Some(path), None) => {
            for (key, span) in [
                ("samples", raw.samples.as_ref().map(|s| s.span())),
                ("input_prob", raw.input_prob.as_ref().map(|s| s.span())),
            ] {
                if let Some(span) = span {
                    return Err(src.error(
                        span,
                        format!(
                            "`{key}` configures the built-in task, but this [data] reads a file: \
                             expected no `{key}` with `path`"
                        ),
                    ));
                }
            }
            if path.get_ref().is_empty() {
                return Err(src.error(path.span(), "expected a file path, got an empty string"));
            }
            Ok(DataSpec::File(PathBuf::from(path.get_ref())))
        }
        (None, Some(_)) => {
            let mut task = default_task;
            if let Some(v) = &raw.samples {
                task.samples = at_least_one(src, v, "samples")?;
            }
            if let Some(v) = &raw.input_prob {
                task.input_prob = in_range(
                    src,
                    v,
                    "input_prob",
                    |x| (0.0..=1.0).contains(&x),
                    "a probability in [0, 1]",
                )?;
            }
            Ok(DataSpec::Tutorial(task))
        }
        (Some(_), Some(b)) => Err(src.error(
            b.span(),
            "[data] has both `path` and `builtin`: expected one of them",
        )),
        (None, None) => Err(src.error(
            spanned.span(),
            "[data] needs a source: expected `path = \"FILE.npz\"` or `builtin = \"tutorial\"`",
        )),
    }
}
