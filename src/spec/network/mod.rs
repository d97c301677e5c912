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
//!
//! This file holds the types and the list of parameters a network will
//! have; the conversion lives beside it: `convert`
//! (the network, its containers and Linear layers), `convert_lif` (a LIF
//! layer and the initial values of its parameters) and `table_keys` (which
//! keys each layer type accepts).

mod convert;
mod convert_lif;
mod table_keys;

pub(crate) use convert::convert_network;

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
