//! The `[network]` section: the layer types as plain Rust data
//! ([`LayerSpec`]), their conversion from the raw file with every check a
//! layer needs (shapes that chain, Residual sizes, positive time constants,
//! decays in (0, 1), keys that belong to the layer's type), and the list of
//! parameters a network will have ([`ParamSpec`]), in Rockpool's order.
//!
//! Module keys follow Rockpool: `{index}_{class}` inside each container
//! (`0_Linear`, `1_LIF`, `2_Residual`, ...) unless a layer has a `name`.
//! The top-level `[network]` is a Sequential whose layers sit at the root
//! of the parameter tree, so paths read `2_Residual/1_LIF/alpha`.

use super::error::{Source, SpecError};
use super::number::show_with_f32;
use super::raw::{LayerType, RawLayer, RawLeakMode, RawNetwork};
use super::values::{BiasValue, NumberArray};
use crate::checkpoint::OPTIMIZER_PREFIX;
use crate::nn::check_matrix;
use std::collections::HashSet;
use std::ops::Range;
use toml::Spanned;

/// Rockpool's default time constant (s) for `tau_mem` and `tau_syn`.
pub const DEFAULT_TAU: f64 = 0.02;
/// Rockpool's default decay for `alpha` and `beta` (leak mode "decays").
pub const DEFAULT_DECAY: f64 = 0.5;
/// Rockpool's default timestep (s).
pub const DEFAULT_DT: f64 = 1e-3;
/// Rockpool's default cap on spikes per neuron and timestep (2^16).
pub const DEFAULT_MAX_SPIKES_PER_DT: u32 = 65536;

/// The network: the layers of the top-level Sequential.
#[derive(Clone, Debug, PartialEq)]
pub struct NetworkSpec {
    pub layers: Vec<LayerSpec>,
}

/// One layer (or container of layers) of a network.
// A spec is built once per run: the size of the LIF variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum LayerSpec {
    Linear(LinearSpec),
    Lif(LifSpec),
    Sequential(ContainerSpec),
    Residual(ContainerSpec),
}

/// `y = x @ weight (+ bias)`, weight of shape `(n_in, n_out)`.
#[derive(Clone, Debug, PartialEq)]
pub struct LinearSpec {
    pub name: Option<String>,
    pub n_in: usize,
    pub n_out: usize,
    /// Whether the layer has a bias (family "biases").
    pub bias: bool,
}

/// A layer of `n_out` LIF neurons with `n_in / n_out` synapses each.
#[derive(Clone, Debug, PartialEq)]
pub struct LifSpec {
    pub name: Option<String>,
    pub n_in: usize,
    pub n_out: usize,
    /// Leak parameterisation with the initial values of its parameters.
    pub leak: LeakSpec,
    /// Whether the layer has recurrent weights `w_rec (n_out, n_in)`.
    pub recurrent: bool,
    /// Timestep (s), > 0.
    pub dt: f32,
    /// Initial bias, shape `(n_out,)`.
    pub bias: InitValue,
    /// Initial threshold, shape `(n_out,)`, > 0.
    pub threshold: InitValue,
    /// Standard deviation of the membrane noise, >= 0.
    pub noise_std: f32,
    /// Cap on spikes per neuron and timestep, >= 1.
    pub max_spikes_per_dt: u32,
}

impl LifSpec {
    /// Synapses per neuron (`n_in / n_out`).
    pub fn n_synapses(&self) -> usize {
        self.n_in / self.n_out
    }
}

/// The leak mode of a LIF layer and the initial values of its two leak
/// parameters.
#[derive(Clone, Debug, PartialEq)]
pub enum LeakSpec {
    /// Time constants (s): `tau_mem (n_out,)`, `tau_syn (n_out, n_syn)`.
    Taus {
        tau_mem: InitValue,
        tau_syn: InitValue,
    },
    /// Decay factors in (0, 1): `alpha (n_out,)`, `beta (n_out, n_syn)`.
    Decays { alpha: InitValue, beta: InitValue },
}

/// The layers of a Sequential or Residual.
#[derive(Clone, Debug, PartialEq)]
pub struct ContainerSpec {
    pub name: Option<String>,
    pub layers: Vec<LayerSpec>,
}

/// The initial value of a parameter: one number for every element
/// (`shape` empty) or one per element (`shape` is the parameter's shape,
/// data row-major).
#[derive(Clone, Debug, PartialEq)]
pub struct InitValue {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

impl InitValue {
    pub fn scalar(value: f32) -> InitValue {
        InitValue {
            shape: Vec::new(),
            data: vec![value],
        }
    }

    pub fn is_scalar(&self) -> bool {
        self.shape.is_empty()
    }

    /// The value of every element of a parameter with `count` elements.
    pub fn to_elements(&self, count: usize) -> Vec<f32> {
        if self.is_scalar() {
            vec![self.data[0]; count]
        } else {
            self.data.clone()
        }
    }
}

/// One trainable parameter a network spec implies.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamSpec {
    /// Tree path, keys joined by `/`, e.g. `2_Residual/1_LIF/alpha`.
    pub path: String,
    /// The attribute name (last key), e.g. `alpha`.
    pub attribute: &'static str,
    pub shape: Vec<usize>,
    /// Rockpool family: weights, biases, bias, taus, decays or thresholds.
    pub family: &'static str,
}

impl ParamSpec {
    pub fn element_count(&self) -> usize {
        self.shape.iter().product()
    }
}

impl NetworkSpec {
    /// Input channels of the network.
    pub fn n_in(&self) -> usize {
        self.layers.first().map_or(0, LayerSpec::n_in)
    }

    /// Output channels of the network.
    pub fn n_out(&self) -> usize {
        self.layers.last().map_or(0, LayerSpec::n_out)
    }

    /// Every trainable parameter, in Rockpool's order (module by module,
    /// depth first; inside a LIF: w_rec, tau_mem/alpha, tau_syn/beta,
    /// bias, threshold; inside a Linear: weight, bias).
    pub fn parameters(&self) -> Vec<ParamSpec> {
        let mut out = Vec::new();
        for (i, layer) in self.layers.iter().enumerate() {
            layer.collect_parameters(&layer.key(i), &mut out);
        }
        out
    }

    /// Every LIF layer with its module path, depth first.
    pub fn lif_layers(&self) -> Vec<(String, &LifSpec)> {
        let mut out = Vec::new();
        for (i, layer) in self.layers.iter().enumerate() {
            layer.collect_lifs(&layer.key(i), &mut out);
        }
        out
    }
}

impl LayerSpec {
    /// Rockpool class name used in automatic keys.
    pub fn class_name(&self) -> &'static str {
        match self {
            LayerSpec::Linear(_) => "Linear",
            LayerSpec::Lif(_) => "LIF",
            LayerSpec::Sequential(_) => "Sequential",
            LayerSpec::Residual(_) => "Residual",
        }
    }

    /// The explicit `name`, if given.
    pub fn name(&self) -> Option<&str> {
        match self {
            LayerSpec::Linear(l) => l.name.as_deref(),
            LayerSpec::Lif(l) => l.name.as_deref(),
            LayerSpec::Sequential(c) | LayerSpec::Residual(c) => c.name.as_deref(),
        }
    }

    /// The key of this layer as the `index`-th child of its container.
    pub fn key(&self, index: usize) -> String {
        match self.name() {
            Some(name) => name.to_string(),
            None => format!("{index}_{}", self.class_name()),
        }
    }

    pub fn n_in(&self) -> usize {
        match self {
            LayerSpec::Linear(l) => l.n_in,
            LayerSpec::Lif(l) => l.n_in,
            LayerSpec::Sequential(c) | LayerSpec::Residual(c) => {
                c.layers.first().map_or(0, LayerSpec::n_in)
            }
        }
    }

    pub fn n_out(&self) -> usize {
        match self {
            LayerSpec::Linear(l) => l.n_out,
            LayerSpec::Lif(l) => l.n_out,
            LayerSpec::Sequential(c) | LayerSpec::Residual(c) => {
                c.layers.last().map_or(0, LayerSpec::n_out)
            }
        }
    }

    fn collect_parameters(&self, path: &str, out: &mut Vec<ParamSpec>) {
        let mut push = |attribute: &'static str, shape: Vec<usize>, family: &'static str| {
            out.push(ParamSpec {
                path: format!("{path}/{attribute}"),
                attribute,
                shape,
                family,
            })
        };
        match self {
            LayerSpec::Linear(l) => {
                push("weight", vec![l.n_in, l.n_out], "weights");
                if l.bias {
                    push("bias", vec![l.n_out], "biases");
                }
            }
            LayerSpec::Lif(l) => {
                let (n, k) = (l.n_out, l.n_synapses());
                if l.recurrent {
                    push("w_rec", vec![n, l.n_in], "weights");
                }
                match l.leak {
                    LeakSpec::Taus { .. } => {
                        push("tau_mem", vec![n], "taus");
                        push("tau_syn", vec![n, k], "taus");
                    }
                    LeakSpec::Decays { .. } => {
                        push("alpha", vec![n], "decays");
                        push("beta", vec![n, k], "decays");
                    }
                }
                push("bias", vec![n], "bias");
                push("threshold", vec![n], "thresholds");
            }
            LayerSpec::Sequential(c) | LayerSpec::Residual(c) => {
                for (i, child) in c.layers.iter().enumerate() {
                    child.collect_parameters(&format!("{path}/{}", child.key(i)), out);
                }
            }
        }
    }

    fn collect_lifs<'s>(&'s self, path: &str, out: &mut Vec<(String, &'s LifSpec)>) {
        match self {
            LayerSpec::Linear(_) => {}
            LayerSpec::Lif(l) => out.push((path.to_string(), l)),
            LayerSpec::Sequential(c) | LayerSpec::Residual(c) => {
                for (i, child) in c.layers.iter().enumerate() {
                    child.collect_lifs(&format!("{path}/{}", child.key(i)), out);
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Conversion from the raw file, with validation.

pub(crate) fn convert_network(
    src: &Source,
    raw: &Spanned<RawNetwork>,
) -> Result<NetworkSpec, SpecError> {
    let layers = convert_children(src, &raw.get_ref().layers, None)?;
    Ok(NetworkSpec { layers })
}

/// Converts the layers of a container and checks that they chain
/// (each layer's input size is the previous layer's output size).
fn convert_children(
    src: &Source,
    raw: &Spanned<Vec<Spanned<RawLayer>>>,
    parent: Option<&str>,
) -> Result<Vec<LayerSpec>, SpecError> {
    if raw.get_ref().is_empty() {
        return Err(src.error(
            raw.span(),
            format!(
                "{} has no layers: expected at least one",
                container_label(parent)
            ),
        ));
    }
    let mut layers: Vec<LayerSpec> = Vec::new();
    let mut keys: Vec<String> = Vec::new();
    let mut seen = HashSet::new();
    for (index, raw_layer) in raw.get_ref().iter().enumerate() {
        let key = layer_key(src, raw_layer, index)?;
        if !seen.insert(key.clone()) {
            return Err(src.error(
                raw_layer.span(),
                format!(
                    "two layers in {} have the key `{key}`: expected unique names",
                    container_label(parent)
                ),
            ));
        }
        let path = match parent {
            Some(p) => format!("{p}/{key}"),
            None => key.clone(),
        };
        if format!("{path}/").starts_with(OPTIMIZER_PREFIX) {
            let span = raw_layer
                .get_ref()
                .name
                .as_ref()
                .map_or(raw_layer.span(), |n| n.span());
            return Err(src.error(
                span,
                format!(
                    "a top-level layer named `{key}`: expected another name (checkpoints keep the \
                     optimiser's state under `{OPTIMIZER_PREFIX}`)"
                ),
            ));
        }
        let layer = convert_layer(src, raw_layer, &path)?;
        if let (Some(prev), Some(prev_key)) = (layers.last(), keys.last()) {
            if prev.n_out() != layer.n_in() {
                return Err(src.error(
                    raw_layer.span(),
                    format!(
                        "layer `{path}` takes {} inputs, but the layer before it (`{prev_key}`) gives {} outputs",
                        layer.n_in(),
                        prev.n_out()
                    ),
                ));
            }
        }
        layers.push(layer);
        keys.push(key);
    }
    Ok(layers)
}

fn container_label(parent: Option<&str>) -> String {
    match parent {
        Some(p) => format!("container `{p}`"),
        None => "[network]".to_string(),
    }
}

/// The key a layer gets: its `name`, or `{index}_{class}`.
fn layer_key(src: &Source, raw: &Spanned<RawLayer>, index: usize) -> Result<String, SpecError> {
    let layer = raw.get_ref();
    if let Some(name) = &layer.name {
        let text = name.get_ref();
        if text.is_empty() || text.contains('/') {
            return Err(src.error(
                name.span(),
                "expected a non-empty name without `/` (it becomes a key of the parameter tree)",
            ));
        }
        return Ok(text.clone());
    }
    let class = match *layer.kind.get_ref() {
        LayerType::Linear => "Linear",
        LayerType::Lif => "LIF",
        LayerType::Sequential => "Sequential",
        LayerType::Residual => "Residual",
    };
    Ok(format!("{index}_{class}"))
}

/// The keys a layer table of `kind` accepts (for error messages).
fn accepted_keys(kind: LayerType) -> &'static str {
    match kind {
        LayerType::Linear => "type, name, shape, bias",
        LayerType::Lif => {
            "type, name, shape or n, leak_mode, recurrent, dt, tau_mem, tau_syn, alpha, beta, \
             threshold, bias, noise_std, max_spikes_per_dt"
        }
        LayerType::Sequential | LayerType::Residual => "type, name, layers",
    }
}

fn type_word(kind: LayerType) -> &'static str {
    match kind {
        LayerType::Linear => "linear",
        LayerType::Lif => "lif",
        LayerType::Sequential => "sequential",
        LayerType::Residual => "residual",
    }
}

/// Rejects keys present in `raw` that a layer of its type does not take.
fn check_keys(src: &Source, raw: &RawLayer, path: &str) -> Result<(), SpecError> {
    let kind = *raw.kind.get_ref();
    let is = |k: &[LayerType]| k.contains(&kind);
    use LayerType::*;
    let present: [(&str, Option<Range<usize>>, bool); 14] = [
        (
            "shape",
            raw.shape.as_ref().map(|s| s.span()),
            is(&[Linear, Lif]),
        ),
        (
            "bias",
            raw.bias.as_ref().map(|s| s.span()),
            is(&[Linear, Lif]),
        ),
        ("n", raw.n.as_ref().map(|s| s.span()), is(&[Lif])),
        (
            "leak_mode",
            raw.leak_mode.as_ref().map(|s| s.span()),
            is(&[Lif]),
        ),
        (
            "recurrent",
            raw.recurrent.as_ref().map(|s| s.span()),
            is(&[Lif]),
        ),
        ("dt", raw.dt.as_ref().map(|s| s.span()), is(&[Lif])),
        (
            "tau_mem",
            raw.tau_mem.as_ref().map(|s| s.span()),
            is(&[Lif]),
        ),
        (
            "tau_syn",
            raw.tau_syn.as_ref().map(|s| s.span()),
            is(&[Lif]),
        ),
        ("alpha", raw.alpha.as_ref().map(|s| s.span()), is(&[Lif])),
        ("beta", raw.beta.as_ref().map(|s| s.span()), is(&[Lif])),
        (
            "threshold",
            raw.threshold.as_ref().map(|s| s.span()),
            is(&[Lif]),
        ),
        (
            "noise_std",
            raw.noise_std.as_ref().map(|s| s.span()),
            is(&[Lif]),
        ),
        (
            "max_spikes_per_dt",
            raw.max_spikes_per_dt.as_ref().map(|s| s.span()),
            is(&[Lif]),
        ),
        (
            "layers",
            raw.layers.as_ref().map(|s| s.span()),
            is(&[Sequential, Residual]),
        ),
    ];
    for (key, span, allowed) in present {
        if let (Some(span), false) = (span, allowed) {
            return Err(src.error(
                span,
                format!(
                    "`{key}` is not a key of a {} layer (layer `{path}`); expected one of: {}",
                    type_word(kind),
                    accepted_keys(kind)
                ),
            ));
        }
    }
    Ok(())
}

fn convert_layer(
    src: &Source,
    raw: &Spanned<RawLayer>,
    path: &str,
) -> Result<LayerSpec, SpecError> {
    let layer = raw.get_ref();
    check_keys(src, layer, path)?;
    let name = layer.name.as_ref().map(|n| n.get_ref().clone());
    match *layer.kind.get_ref() {
        LayerType::Linear => convert_linear(src, raw, path, name).map(LayerSpec::Linear),
        LayerType::Lif => convert_lif(src, raw, path, name).map(LayerSpec::Lif),
        LayerType::Sequential => {
            let layers = container_layers(src, raw, path)?;
            Ok(LayerSpec::Sequential(ContainerSpec { name, layers }))
        }
        LayerType::Residual => {
            let layers = container_layers(src, raw, path)?;
            let container = ContainerSpec { name, layers };
            let (n_in, n_out) = (
                container.layers[0].n_in(),
                container.layers[container.layers.len() - 1].n_out(),
            );
            if n_in != n_out {
                return Err(src.error(
                    raw.span(),
                    format!(
                        "residual `{path}` maps {n_in} inputs to {n_out} outputs; \
                         expected equal sizes (its output is added to its input)"
                    ),
                ));
            }
            Ok(LayerSpec::Residual(container))
        }
    }
}

fn container_layers(
    src: &Source,
    raw: &Spanned<RawLayer>,
    path: &str,
) -> Result<Vec<LayerSpec>, SpecError> {
    match &raw.get_ref().layers {
        Some(layers) => convert_children(src, layers, Some(path)),
        None => Err(src.error(
            raw.span(),
            format!("container `{path}` needs `layers = [...]`: missing key `layers`"),
        )),
    }
}

/// Reads `shape = [n_in, n_out]` with both sizes positive.
fn read_shape(
    src: &Source,
    shape: &Spanned<Vec<usize>>,
    path: &str,
) -> Result<(usize, usize), SpecError> {
    match shape.get_ref().as_slice() {
        [n_in, n_out] if *n_in > 0 && *n_out > 0 => Ok((*n_in, *n_out)),
        [_, _] => Err(src.error(
            shape.span(),
            format!("layer `{path}`: expected positive sizes in `shape = [n_in, n_out]`"),
        )),
        other => Err(src.error(
            shape.span(),
            format!(
                "layer `{path}`: expected `shape = [n_in, n_out]` (2 sizes), got {} sizes",
                other.len()
            ),
        )),
    }
}

fn convert_linear(
    src: &Source,
    raw: &Spanned<RawLayer>,
    path: &str,
    name: Option<String>,
) -> Result<LinearSpec, SpecError> {
    let layer = raw.get_ref();
    let Some(shape) = &layer.shape else {
        return Err(src.error(
            raw.span(),
            format!("linear layer `{path}` needs `shape = [n_in, n_out]`: missing key `shape`"),
        ));
    };
    let (n_in, n_out) = read_shape(src, shape, path)?;
    check_matrix(n_in, n_out).map_err(|reason| {
        src.error(
            shape.span(),
            format!("linear layer `{path}` has weights of {reason}"),
        )
    })?;
    let bias = match &layer.bias {
        None => false,
        Some(b) => match b.get_ref() {
            BiasValue::Flag(flag) => *flag,
            BiasValue::Values(_) => {
                return Err(src.error(
                    b.span(),
                    format!(
                        "on linear layer `{path}`, `bias` says whether the layer has a bias: \
                         expected true or false"
                    ),
                ))
            }
        },
    };
    Ok(LinearSpec {
        name,
        n_in,
        n_out,
        bias,
    })
}

fn convert_lif(
    src: &Source,
    raw: &Spanned<RawLayer>,
    path: &str,
    name: Option<String>,
) -> Result<LifSpec, SpecError> {
    let layer = raw.get_ref();
    let (n_in, n_out) = match (&layer.shape, &layer.n) {
        (Some(shape), None) => {
            let (n_in, n_out) = read_shape(src, shape, path)?;
            if n_in % n_out != 0 {
                return Err(src.error(
                    shape.span(),
                    format!(
                        "LIF layer `{path}` has shape [{n_in}, {n_out}]: expected n_in to be a \
                         multiple of n_out (n_in = n_out x synapses per neuron)"
                    ),
                ));
            }
            (n_in, n_out)
        }
        (None, Some(n)) => {
            if *n.get_ref() == 0 {
                return Err(src.error(n.span(), format!("LIF layer `{path}`: expected n >= 1")));
            }
            (*n.get_ref(), *n.get_ref())
        }
        (Some(_), Some(n)) => {
            return Err(src.error(
                n.span(),
                format!("LIF layer `{path}` has both `shape` and `n`: expected one of them"),
            ))
        }
        (None, None) => {
            return Err(src.error(
                raw.span(),
                format!(
                "LIF layer `{path}` needs its size: missing key `n` (or `shape = [n_in, n_out]`)"
            ),
            ))
        }
    };
    let recurrent = layer.recurrent.as_ref().is_some_and(|r| *r.get_ref());
    // `w_rec` holds n_out x n_in floats, the per-synapse parameters n_in.
    let (rows, cols, what) = if recurrent {
        (n_out, n_in, "recurrent weights")
    } else {
        (n_in, 1, "per-synapse parameters")
    };
    check_matrix(rows, cols).map_err(|reason| {
        src.error(
            raw.span(),
            format!("LIF layer `{path}` has {what} of {reason}"),
        )
    })?;
    let n_syn = n_in / n_out;
    let mode = layer
        .leak_mode
        .as_ref()
        .map_or(RawLeakMode::Taus, |m| *m.get_ref());

    let positive = |x: f64| x > 0.0 && x.is_finite();
    let leak = match mode {
        RawLeakMode::Taus => {
            for (key, value) in [("alpha", &layer.alpha), ("beta", &layer.beta)] {
                if let Some(v) = value {
                    return Err(src.error(
                        v.span(),
                        format!(
                            "`{key}` is a decay, used with leak_mode = \"decays\"; layer `{path}` \
                             uses leak_mode = \"taus\": expected `tau_mem` / `tau_syn`"
                        ),
                    ));
                }
            }
            LeakSpec::Taus {
                tau_mem: init_value(
                    src,
                    layer.tau_mem.as_ref(),
                    DEFAULT_TAU,
                    &[n_out],
                    &format!("{path}/tau_mem"),
                    positive,
                    "a positive time constant (s)",
                )?,
                tau_syn: init_value(
                    src,
                    layer.tau_syn.as_ref(),
                    DEFAULT_TAU,
                    &[n_out, n_syn],
                    &format!("{path}/tau_syn"),
                    positive,
                    "a positive time constant (s)",
                )?,
            }
        }
        RawLeakMode::Decays => {
            for (key, value) in [("tau_mem", &layer.tau_mem), ("tau_syn", &layer.tau_syn)] {
                if let Some(v) = value {
                    return Err(src.error(
                        v.span(),
                        format!(
                            "`{key}` is a time constant, used with leak_mode = \"taus\"; layer \
                             `{path}` uses leak_mode = \"decays\": expected `alpha` / `beta`"
                        ),
                    ));
                }
            }
            let in_unit = |x: f64| x > 0.0 && x < 1.0;
            LeakSpec::Decays {
                alpha: init_value(
                    src,
                    layer.alpha.as_ref(),
                    DEFAULT_DECAY,
                    &[n_out],
                    &format!("{path}/alpha"),
                    in_unit,
                    "a decay strictly between 0 and 1",
                )?,
                beta: init_value(
                    src,
                    layer.beta.as_ref(),
                    DEFAULT_DECAY,
                    &[n_out, n_syn],
                    &format!("{path}/beta"),
                    in_unit,
                    "a decay strictly between 0 and 1",
                )?,
            }
        }
    };

    let dt = match &layer.dt {
        None => DEFAULT_DT,
        Some(dt) if positive(*dt.get_ref() as f32 as f64) => *dt.get_ref(),
        Some(dt) => {
            return Err(src.error(
                dt.span(),
                format!(
                    "layer `{path}`: expected a positive timestep `dt` (s), got {}",
                    show_with_f32(*dt.get_ref())
                ),
            ))
        }
    };
    let bias_raw = match &layer.bias {
        None => None,
        Some(b) => match b.get_ref() {
            BiasValue::Values(values) => Some((values, b.span())),
            BiasValue::Flag(_) => {
                return Err(src.error(
                    b.span(),
                    format!(
                        "on LIF layer `{path}`, `bias` is the initial bias: expected a number or \
                         an array of {n_out} numbers"
                    ),
                ))
            }
        },
    };
    let bias = init_value_from(
        src,
        bias_raw,
        0.0,
        &[n_out],
        &format!("{path}/bias"),
        f64::is_finite,
        "a finite number",
    )?;
    let threshold = init_value(
        src,
        layer.threshold.as_ref(),
        1.0,
        &[n_out],
        &format!("{path}/threshold"),
        positive,
        "a positive threshold",
    )?;
    let noise_std = match &layer.noise_std {
        None => 0.0,
        Some(v) if (*v.get_ref() as f32).is_finite() && *v.get_ref() >= 0.0 => *v.get_ref(),
        Some(v) => {
            return Err(src.error(
                v.span(),
                format!(
                    "layer `{path}`: expected a finite `noise_std` >= 0, got {}",
                    show_with_f32(*v.get_ref())
                ),
            ))
        }
    };
    let max_spikes_per_dt = match &layer.max_spikes_per_dt {
        None => DEFAULT_MAX_SPIKES_PER_DT,
        Some(v) if *v.get_ref() >= 1 => *v.get_ref(),
        Some(v) => {
            return Err(src.error(
                v.span(),
                format!("layer `{path}`: expected `max_spikes_per_dt` >= 1"),
            ))
        }
    };
    Ok(LifSpec {
        name,
        n_in,
        n_out,
        leak,
        recurrent,
        dt: dt as f32,
        bias,
        threshold,
        noise_std: noise_std as f32,
        max_spikes_per_dt,
    })
}

/// Reads the initial value of a parameter of shape `param_shape`: absent
/// (the default), a number, or an array with the parameter's shape (or a
/// flat array with as many elements). Every element must pass `valid`.
fn init_value(
    src: &Source,
    raw: Option<&Spanned<NumberArray>>,
    default: f64,
    param_shape: &[usize],
    param_path: &str,
    valid: impl Fn(f64) -> bool,
    expectation: &str,
) -> Result<InitValue, SpecError> {
    init_value_from(
        src,
        raw.map(|r| (r.get_ref(), r.span())),
        default,
        param_shape,
        param_path,
        valid,
        expectation,
    )
}

fn init_value_from(
    src: &Source,
    raw: Option<(&NumberArray, Range<usize>)>,
    default: f64,
    param_shape: &[usize],
    param_path: &str,
    valid: impl Fn(f64) -> bool,
    expectation: &str,
) -> Result<InitValue, SpecError> {
    let Some((array, span)) = raw else {
        return Ok(InitValue::scalar(default as f32));
    };
    let count: usize = param_shape.iter().product();
    if !array.is_scalar() && array.data.len() != count {
        return Err(src.error(
            span,
            format!(
                "`{param_path}` has shape {param_shape:?} ({count} elements): expected a number \
                 or {count} numbers, got an array of shape {:?}",
                array.shape
            ),
        ));
    }
    // Checked after rounding to f32, the precision the network runs in.
    if let Some((i, bad)) = array
        .data
        .iter()
        .enumerate()
        .find(|(_, x)| !valid(**x as f32 as f64))
    {
        let which = if array.is_scalar() {
            String::new()
        } else {
            format!(" (element {i})")
        };
        return Err(src.error(
            span,
            format!(
                "`{param_path}`{which} is {}: expected {expectation}",
                show_with_f32(*bad)
            ),
        ));
    }
    Ok(InitValue {
        shape: if array.is_scalar() {
            Vec::new()
        } else {
            param_shape.to_vec()
        },
        data: array.data.iter().map(|&x| x as f32).collect(),
    })
}
