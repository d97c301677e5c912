//! `Lif`: a layer of leaky integrate-and-fire neurons with `n_syn`
//! synapses per neuron, exactly as Rockpool's `LIFJax` / `LIFTorch` step:
//!
//! 1. input channel `i` feeds neuron `i / n_syn`, synapse `i % n_syn`;
//! 2. `isyn += x_t + reshape(s_prev @ w_rec)` (the recurrent term only when
//!    the layer is recurrent);
//! 3. `vmem *= alpha`, then `isyn *= beta`;
//! 4. `vmem += sum_k isyn + bias` (plus `noise_std * sqrt(dt) * N(0, 1)`
//!    when noise is on);
//! 5. `s = spike(vmem, threshold)`: `floor(vmem / threshold)` where
//!    `vmem >= threshold`, capped at `max_spikes_per_dt`, with the
//!    piecewise-linear surrogate gradient of absolute window
//!    `learning_window`;
//! 6. `vmem -= s * threshold` (subtractive reset).
//!
//! In `taus` mode `alpha = exp(-dt / tau_mem)` and `beta = exp(-dt /
//! tau_syn)`, computed by true division as jax does (torch multiplies by
//! the reciprocal; the difference is within the last bit).

use super::linear::kaiming_uniform;
use super::{family, simulation_scalar, Attribute, Module, ModuleError, StepContext};
use crate::tree::{Path, Tensor};
use neurojit_compiler::ir::{Shape, Value};
use rand::RngCore;
use serde::{Deserialize, Serialize};

/// How the leak is parameterised.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LeakMode {
    /// Time constants `tau_mem (N,)`, `tau_syn (N, n_syn)` in seconds,
    /// family `"taus"`.
    #[default]
    Taus,
    /// Decay factors `alpha (N,)`, `beta (N, n_syn)` trained directly,
    /// family `"decays"`.
    Decays,
}

/// Default time constant (s) and decay factor.
const DEFAULT_TAU: f32 = 0.02;
const DEFAULT_DECAY: f32 = 0.5;
const DEFAULT_DT: f32 = 1e-3;
const DEFAULT_WINDOW: f32 = 0.5;
const DEFAULT_MAX_SPIKES: f32 = 65536.0;

/// A LIF layer of shape `(n_out * n_syn, n_out)`.
///
/// Parameters, in order: `w_rec` (if recurrent, `(N, n_in)`, `"weights"`),
/// `tau_mem`, `tau_syn` (or `alpha`, `beta`), `bias` (`(N,)`, `"bias"`),
/// `threshold` (`(N,)`, `"thresholds"`). States: `vmem (N,)`,
/// `isyn (N, n_syn)`, `spikes (N,)`. Simulation parameters: `dt`,
/// `noise_std`, `learning_window`, `max_spikes_per_dt`.
///
/// ```
/// use neurojit::nn::{LeakMode, Lif, Module};
/// let lif = Lif::new(3).leak_mode(LeakMode::Decays);
/// assert_eq!(lif.parameters().keys().collect::<Vec<_>>(), vec!["alpha", "beta", "bias", "threshold"]);
/// ```
#[derive(Clone, Debug)]
pub struct Lif {
    n_out: usize,
    n_syn: usize,
    leak_mode: LeakMode,
    attributes: Vec<Attribute>,
}

impl Lif {
    /// `n` neurons with one synapse each, leak mode `taus`, Rockpool's
    /// defaults (taus 20 ms, bias 0, threshold 1, dt 1 ms).
    ///
    /// # Panics
    /// When `n` floats cannot be allocated; [`Lif::from_shape`] checks the
    /// size first (at most 2^28 floats per parameter) and returns an error.
    pub fn new(n: usize) -> Lif {
        Lif::with_synapses(n, 1)
    }

    /// `n_out` neurons with `n_syn` synapses each: shape `(n_out * n_syn, n_out)`.
    ///
    /// # Panics
    /// As [`Lif::new`], when `n_out * n_syn` floats cannot be allocated.
    pub fn with_synapses(n_out: usize, n_syn: usize) -> Lif {
        let mut lif = Lif {
            n_out,
            n_syn,
            leak_mode: LeakMode::Taus,
            attributes: Vec::new(),
        };
        lif.rebuild(None);
        lif
    }

    /// A layer of shape `(n_in, n_out)`; `n_in` must be a positive multiple
    /// of `n_out` (the number of synapses per neuron), and at most what one
    /// buffer holds (its per-synapse parameters have `n_in` floats).
    pub fn from_shape(n_in: usize, n_out: usize) -> Result<Lif, ModuleError> {
        if n_out == 0 || n_in == 0 || !n_in.is_multiple_of(n_out) {
            return Err(ModuleError::Config {
                module: Path::root(),
                message: format!("a LIF of shape ({n_in}, {n_out}) needs n_in to be a positive multiple of n_out"),
            });
        }
        super::check_matrix(n_in, 1).map_err(|reason| ModuleError::Config {
            module: Path::root(),
            message: format!("a LIF of shape ({n_in}, {n_out}): its parameters of {reason}"),
        })?;
        Ok(Lif::with_synapses(n_out, n_in / n_out))
    }

    /// Switches the leak parameterisation (parameters get their defaults).
    pub fn leak_mode(mut self, mode: LeakMode) -> Lif {
        self.leak_mode = mode;
        self.rebuild(None);
        self
    }

    /// Adds recurrent weights `w_rec (N, n_in)`, Kaiming-uniform from `rng`.
    pub fn recurrent(mut self, rng: &mut dyn RngCore) -> Lif {
        if !self.is_recurrent() {
            let w = kaiming_uniform(self.n_out, self.n_out * self.n_syn, rng);
            self.rebuild(Some(w));
        }
        self
    }

    /// Sets the timestep (s).
    pub fn dt(mut self, dt: f32) -> Lif {
        self.set_simulation("dt", dt);
        self
    }

    /// Sets the membrane noise standard deviation (0 disables noise).
    pub fn noise_std(mut self, noise_std: f32) -> Lif {
        self.set_simulation("noise_std", noise_std);
        self
    }

    pub fn is_recurrent(&self) -> bool {
        self.attributes.iter().any(|a| a.name == "w_rec")
    }

    pub fn n_synapses(&self) -> usize {
        self.n_syn
    }

    pub fn get_leak_mode(&self) -> LeakMode {
        self.leak_mode
    }

    pub fn boxed(self) -> Box<dyn Module> {
        Box::new(self)
    }

    fn set_simulation(&mut self, name: &str, value: f32) {
        if let Some(a) = self.attributes.iter_mut().find(|a| a.name == name) {
            a.value = Tensor::scalar(value);
        }
    }

    fn sim(&self, name: &str, default: f32) -> f32 {
        simulation_scalar(&self.attributes, name, default)
    }

    /// Lays the attributes out for the current configuration, keeping the
    /// values of attributes that still exist with the same shape.
    fn rebuild(&mut self, new_w_rec: Option<Tensor>) {
        let old = std::mem::take(&mut self.attributes);
        let keep = |name: &str, default: Tensor| {
            old.iter()
                .find(|a| a.name == name && a.value.shape() == default.shape())
                .map(|a| a.value.clone())
                .unwrap_or(default)
        };
        let (n, k) = (self.n_out, self.n_syn);
        let mut attrs = Vec::new();
        let w_rec = new_w_rec.or_else(|| {
            old.iter()
                .find(|a| a.name == "w_rec")
                .map(|a| a.value.clone())
        });
        if let Some(w) = w_rec {
            attrs.push(Attribute::parameter("w_rec", family::WEIGHTS, w));
        }
        match self.leak_mode {
            LeakMode::Taus => {
                attrs.push(Attribute::parameter(
                    "tau_mem",
                    family::TAUS,
                    keep("tau_mem", Tensor::full([n], DEFAULT_TAU)),
                ));
                attrs.push(Attribute::parameter(
                    "tau_syn",
                    family::TAUS,
                    keep("tau_syn", Tensor::full([n, k], DEFAULT_TAU)),
                ));
            }
            LeakMode::Decays => {
                attrs.push(Attribute::parameter(
                    "alpha",
                    family::DECAYS,
                    keep("alpha", Tensor::full([n], DEFAULT_DECAY)),
                ));
                attrs.push(Attribute::parameter(
                    "beta",
                    family::DECAYS,
                    keep("beta", Tensor::full([n, k], DEFAULT_DECAY)),
                ));
            }
        }
        attrs.push(Attribute::parameter(
            "bias",
            family::BIAS,
            keep("bias", Tensor::zeros([n])),
        ));
        attrs.push(Attribute::parameter(
            "threshold",
            family::THRESHOLDS,
            keep("threshold", Tensor::full([n], 1.0)),
        ));
        attrs.push(Attribute::state("vmem", Tensor::zeros([n])));
        attrs.push(Attribute::state("isyn", Tensor::zeros([n, k])));
        attrs.push(Attribute::state("spikes", Tensor::zeros([n])));
        let sim = [
            ("dt", DEFAULT_DT),
            ("noise_std", 0.0),
            ("learning_window", DEFAULT_WINDOW),
            ("max_spikes_per_dt", DEFAULT_MAX_SPIKES),
        ];
        for (name, default) in sim {
            attrs.push(Attribute::simulation_parameter(
                name,
                keep(name, Tensor::scalar(default)),
            ));
        }
        self.attributes = attrs;
    }

    /// In `taus` mode every stored time constant must be positive and
    /// finite (the dynamics are undefined otherwise).
    fn check_time_constants(&self, path: &Path) -> Result<(), ModuleError> {
        for name in ["tau_mem", "tau_syn"] {
            let Some(a) = self.attributes.iter().find(|a| a.name == name) else {
                continue;
            };
            if let Some((i, &tau)) = a
                .value
                .data()
                .iter()
                .enumerate()
                .find(|(_, t)| !(t.is_finite() && **t > 0.0))
            {
                return Err(ModuleError::Config {
                    module: path.clone(),
                    message: format!(
                        "`{name}` (element {i}) is {tau}: expected a positive time constant"
                    ),
                });
            }
        }
        Ok(())
    }

    /// `(alpha, beta)` as graph values for the current leak mode.
    fn decays(&self, ctx: &mut StepContext<'_>) -> Result<(Value, Value), ModuleError> {
        match self.leak_mode {
            LeakMode::Decays => Ok((ctx.param("alpha")?, ctx.param("beta")?)),
            LeakMode::Taus => {
                let tau_mem = ctx.param("tau_mem")?;
                let tau_syn = ctx.param("tau_syn")?;
                let dt = self.sim("dt", DEFAULT_DT);
                ctx.build(|g| {
                    let neg_dt = g.scalar(-dt);
                    let a = g.div(neg_dt, tau_mem)?;
                    let b = g.div(neg_dt, tau_syn)?;
                    Ok((g.exp(a), g.exp(b)))
                })
            }
        }
    }
}

impl Module for Lif {
    fn class_name(&self) -> &str {
        "LIF"
    }

    fn shape(&self) -> (usize, usize) {
        (self.n_out * self.n_syn, self.n_out)
    }

    fn attributes(&self) -> &[Attribute] {
        &self.attributes
    }

    fn attributes_mut(&mut self) -> &mut [Attribute] {
        &mut self.attributes
    }

    fn step(&self, ctx: &mut StepContext<'_>, input: Value) -> Result<Value, ModuleError> {
        let dt = self.sim("dt", DEFAULT_DT);
        if dt.is_nan() || dt <= 0.0 {
            return Err(ModuleError::Config {
                module: ctx.path().clone(),
                message: format!("dt must be positive, got {dt}"),
            });
        }
        self.check_time_constants(ctx.path())?;
        let (b, n, k) = (ctx.batch(), self.n_out, self.n_syn);
        let syn_shape = Shape::from([b, n, k]);
        let (alpha, beta) = self.decays(ctx)?;
        let bias = ctx.param("bias")?;
        let threshold = ctx.param("threshold")?;
        let vmem_prev = ctx.state("vmem")?;
        let isyn_prev = ctx.state("isyn")?;
        let recurrent = if self.is_recurrent() {
            Some((ctx.param("w_rec")?, ctx.state("spikes")?))
        } else {
            None
        };
        let noise_std = self.sim("noise_std", 0.0);
        let noise = if noise_std != 0.0 {
            Some(ctx.standard_normal("noise", Shape::from([b, n]))?)
        } else {
            None
        };
        let window = self.sim("learning_window", DEFAULT_WINDOW);
        let max_spikes = self.sim("max_spikes_per_dt", DEFAULT_MAX_SPIKES);

        let (spikes, vmem, isyn, irec) = ctx.build(|g| {
            let x = g.reshape(input, &syn_shape)?;
            let (drive, irec) = match recurrent {
                Some((w_rec, s_prev)) => {
                    let r = g.matmul(s_prev, w_rec)?;
                    let irec = g.reshape(r, &syn_shape)?;
                    (g.add(x, irec)?, irec)
                }
                None => (x, g.constant(0.0, syn_shape.clone())),
            };
            let isyn = g.add(isyn_prev, drive)?;
            let vmem = g.mul(vmem_prev, alpha)?;
            let isyn = g.mul(isyn, beta)?;
            let mut current = g.reduce_sum(isyn, 2)?;
            if let Some(noise) = noise {
                let scaled = g.scale(noise, noise_std * dt.sqrt());
                current = g.add(current, scaled)?;
            }
            let current = g.add(current, bias)?;
            let vmem = g.add(vmem, current)?;
            let spikes = g.spike(vmem, threshold, window, max_spikes)?;
            let reset = g.mul(spikes, threshold)?;
            let vmem = g.sub(vmem, reset)?;
            Ok((spikes, vmem, isyn, irec))
        })?;

        ctx.set_state("vmem", vmem)?;
        ctx.set_state("isyn", isyn)?;
        if recurrent.is_some() {
            ctx.set_state("spikes", spikes)?;
        }
        ctx.record("vmem", vmem);
        ctx.record("isyn", isyn);
        ctx.record("irec", irec);
        Ok(spikes)
    }
}
