//! The spec file exactly as written: serde structs that mirror the TOML
//! tables, every value wrapped in `Spanned` so that validation can point at
//! it. Unknown keys are rejected by `deny_unknown_fields`; missing keys are
//! `None` here and get their defaults (or an error) in `convert`.
//!
//! A layer is one flat struct holding the keys of every layer type; which
//! keys a given `type` accepts is checked in `convert`, where the span of
//! a misplaced key is known.

use super::values::{BiasValue, NumberArray};
use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSpec {
    pub network: Spanned<RawNetwork>,
    #[serde(default)]
    pub bounds: Vec<Spanned<RawBound>>,
    pub loss: Option<Spanned<RawLoss>>,
    pub optimizer: Option<Spanned<RawOptimizer>>,
    pub training: Option<Spanned<RawTraining>>,
    pub data: Option<Spanned<RawData>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNetwork {
    pub layers: Spanned<Vec<Spanned<RawLayer>>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LayerType {
    Linear,
    Lif,
    Sequential,
    Residual,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RawLeakMode {
    Taus,
    Decays,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLayer {
    #[serde(rename = "type")]
    pub kind: Spanned<LayerType>,
    pub name: Option<Spanned<String>>,
    // linear and lif
    pub shape: Option<Spanned<Vec<usize>>>,
    pub bias: Option<Spanned<BiasValue>>,
    // lif
    pub n: Option<Spanned<usize>>,
    pub leak_mode: Option<Spanned<RawLeakMode>>,
    pub recurrent: Option<Spanned<bool>>,
    pub dt: Option<Spanned<f64>>,
    pub tau_mem: Option<Spanned<NumberArray>>,
    pub tau_syn: Option<Spanned<NumberArray>>,
    pub alpha: Option<Spanned<NumberArray>>,
    pub beta: Option<Spanned<NumberArray>>,
    pub threshold: Option<Spanned<NumberArray>>,
    pub noise_std: Option<Spanned<f64>>,
    pub max_spikes_per_dt: Option<Spanned<u32>>,
    // sequential and residual
    pub layers: Option<Spanned<Vec<Spanned<RawLayer>>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBound {
    pub family: Option<Spanned<String>>,
    pub attribute: Option<Spanned<String>>,
    pub path: Option<Spanned<String>>,
    pub lower: Option<Spanned<NumberArray>>,
    pub upper: Option<Spanned<NumberArray>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RawLossKind {
    Mse,
    CrossEntropy,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLoss {
    pub kind: Option<Spanned<RawLossKind>>,
    pub bounds_weight: Option<Spanned<f64>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RawOptimizerKind {
    Adam,
    Sgd,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOptimizer {
    pub kind: Option<Spanned<RawOptimizerKind>>,
    pub lr: Option<Spanned<f64>>,
    pub b1: Option<Spanned<f64>>,
    pub b2: Option<Spanned<f64>>,
    pub eps: Option<Spanned<f64>>,
    pub bounds_clip: Option<Spanned<bool>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RawBackend {
    Jit,
    Interp,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTraining {
    pub batch: Option<Spanned<usize>>,
    #[serde(rename = "T")]
    pub t: Option<Spanned<usize>>,
    pub epochs: Option<Spanned<usize>>,
    pub seed: Option<Spanned<u64>>,
    pub backend: Option<Spanned<RawBackend>>,
    pub threads: Option<Spanned<usize>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RawBuiltin {
    Tutorial,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawData {
    pub path: Option<Spanned<String>>,
    pub builtin: Option<Spanned<RawBuiltin>>,
    pub samples: Option<Spanned<usize>>,
    pub input_prob: Option<Spanned<f64>>,
}
