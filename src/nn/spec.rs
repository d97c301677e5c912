//! `ModuleSpec`: a network described as data (JSON / TOML), the same
//! recursive form the Rockpool reference cases use:
//!
//! ```json
//! {"type": "Sequential", "modules": [
//!     {"type": "Linear", "shape": [2, 3], "has_bias": false},
//!     {"type": "LIF", "shape": [3, 3], "n_synapses": 1, "leak_mode": "decays", "has_rec": false, "dt": 0.001}
//! ]}
//! ```
//!
//! Unknown fields (such as Rockpool's `class`) are ignored. A `name` field
//! overrides the automatic `{index}_{class}` sub-module name.

use super::{
    auto_name, check_matrix, LeakMode, Lif, Linear, Module, ModuleError, Residual, Sequential,
    Submodule,
};
use crate::tree::Path;
use rand::RngCore;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum ModuleSpec {
    Linear {
        shape: [usize; 2],
        #[serde(default)]
        has_bias: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
    #[serde(rename = "LIF")]
    Lif {
        shape: [usize; 2],
        #[serde(default, skip_serializing_if = "Option::is_none")]
        n_synapses: Option<usize>,
        #[serde(default)]
        leak_mode: LeakMode,
        #[serde(default)]
        has_rec: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        dt: Option<f32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
    Sequential {
        modules: Vec<ModuleSpec>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        shape: Option<[usize; 2]>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
    Residual {
        modules: Vec<ModuleSpec>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        shape: Option<[usize; 2]>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
}

impl ModuleSpec {
    /// The explicit name, if the spec gives one.
    pub fn name(&self) -> Option<&str> {
        match self {
            ModuleSpec::Linear { name, .. }
            | ModuleSpec::Lif { name, .. }
            | ModuleSpec::Sequential { name, .. }
            | ModuleSpec::Residual { name, .. } => name.as_deref(),
        }
    }

    /// Builds the module; random initial weights come from `rng`.
    pub fn build(&self, rng: &mut dyn RngCore) -> Result<Box<dyn Module>, ModuleError> {
        match self {
            ModuleSpec::Linear {
                shape, has_bias, ..
            } => {
                check_size("weights", shape[0], shape[1])?;
                let lin = Linear::new(shape[0], shape[1], rng);
                Ok(if *has_bias { lin.with_bias(rng) } else { lin }.boxed())
            }
            ModuleSpec::Lif {
                shape,
                n_synapses,
                leak_mode,
                has_rec,
                dt,
                ..
            } => {
                check_size("per-synapse parameters", shape[0], 1)?;
                if *has_rec {
                    check_size("recurrent weights", shape[1], shape[0])?;
                }
                let mut lif = Lif::from_shape(shape[0], shape[1])?.leak_mode(*leak_mode);
                if let Some(k) = n_synapses {
                    if *k != lif.n_synapses() {
                        return Err(ModuleError::Config {
                            module: Path::root(),
                            message: format!(
                                "shape ({}, {}) implies {} synapses per neuron, but n_synapses is {k}",
                                shape[0],
                                shape[1],
                                lif.n_synapses()
                            ),
                        });
                    }
                }
                if *has_rec {
                    lif = lif.recurrent(rng);
                }
                if let Some(dt) = dt {
                    lif = lif.dt(*dt);
                }
                Ok(lif.boxed())
            }
            ModuleSpec::Sequential { modules, shape, .. } => {
                let module = Sequential::from_submodules(build_children(modules, rng)?)?;
                check_declared_shape(&module, *shape)?;
                Ok(module.boxed())
            }
            ModuleSpec::Residual { modules, shape, .. } => {
                let module = Residual::from_submodules(build_children(modules, rng)?)?;
                check_declared_shape(&module, *shape)?;
                Ok(module.boxed())
            }
        }
    }
}

/// `what`, `rows x cols` floats, can be built (see `size.rs`).
fn check_size(what: &str, rows: usize, cols: usize) -> Result<(), ModuleError> {
    check_matrix(rows, cols).map_err(|reason| ModuleError::Config {
        module: Path::root(),
        message: format!("{what} of {reason}"),
    })
}

fn build_children(
    specs: &[ModuleSpec],
    rng: &mut dyn RngCore,
) -> Result<Vec<Submodule>, ModuleError> {
    let mut subs = Vec::with_capacity(specs.len());
    for (i, spec) in specs.iter().enumerate() {
        let module = spec.build(rng);
        let module = match module {
            Ok(m) => m,
            Err(e) => {
                let name = spec
                    .name()
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("{i}"));
                return Err(e.within(&name));
            }
        };
        let name = match spec.name() {
            Some(n) => n.to_string(),
            None => auto_name(i, module.class_name()),
        };
        subs.push(Submodule { name, module });
    }
    Ok(subs)
}

fn check_declared_shape(
    module: &dyn Module,
    declared: Option<[usize; 2]>,
) -> Result<(), ModuleError> {
    match declared {
        Some([n_in, n_out]) if (n_in, n_out) != module.shape() => Err(ModuleError::Config {
            module: Path::root(),
            message: format!(
                "declared shape ({n_in}, {n_out}) but its modules give {:?}",
                module.shape()
            ),
        }),
        _ => Ok(()),
    }
}
