//! Network modules: the [`Module`] trait, [`Linear`], [`Lif`],
//! [`Sequential`] and [`Residual`], and building networks from a
//! [`ModuleSpec`].
//!
//! Conventions (Rockpool's, made Rust-idiomatic):
//! - Shapes are `(n_in, n_out)`. Inputs, outputs and states carry the batch
//!   dimension first while tracing; stored states do not.
//! - Sub-modules of a container are named `{index}_{class}` (`0_Linear`,
//!   `1_LIF`, `2_Residual`) unless given explicit names.
//! - A parameter's path is the chain of sub-module names plus its own name:
//!   `2_Residual/1_LIF/tau_mem`. Graph arguments carry that path as name.
//! - Families: `"weights"` (Linear `weight`, LIF `w_rec`), `"biases"`
//!   (Linear `bias`), `"bias"` (LIF `bias`), `"taus"` (`tau_mem`,
//!   `tau_syn`), `"decays"` (`alpha`, `beta`) and `"thresholds"` (LIF
//!   `threshold`). neurojit has one name for the threshold family,
//!   Rockpool torch's `"thresholds"`; Rockpool jax calls it `"threshold"`
//!   (the conformance runner maps it).
//! - Errors name the module path and the expected and actual shapes.

mod context;
mod lif;
mod linear;
mod module;
mod naming;
mod residual;
mod sequential;
mod size;
mod spec;

pub use context::{
    InitialState, NoiseInput, Record, RecordOptions, StateUpdate, StepContext, StepOutcome,
};
pub use lif::{LeakMode, Lif};
pub use linear::Linear;
pub use module::{
    describe, simulation_scalar, Attribute, AttributeKind, Module, ParameterInfo, Submodule,
};
pub use naming::{auto_name, check_names, name_modules};
pub use residual::Residual;
pub use sequential::Sequential;
pub use size::check_matrix;
pub use spec::ModuleSpec;

use crate::tree::Path;
use neurojit_compiler::ir::{GraphError, Shape};
use thiserror::Error;

/// Parameter family names (see the module docs).
pub mod family {
    pub const WEIGHTS: &str = "weights";
    pub const BIASES: &str = "biases";
    pub const BIAS: &str = "bias";
    pub const TAUS: &str = "taus";
    pub const DECAYS: &str = "decays";
    pub const THRESHOLDS: &str = "thresholds";
}

/// Building or tracing a module failed. Every variant names the module
/// path (`(root)` for the top-level module).
#[derive(Debug, Error, Clone, PartialEq)]
pub enum ModuleError {
    #[error("{module}: expected input of shape {expected}, got {got}")]
    InputShape {
        module: Path,
        expected: Shape,
        got: Shape,
    },
    #[error("{module}: step produced shape {got}, expected {expected}")]
    OutputShape {
        module: Path,
        expected: Shape,
        got: Shape,
    },
    #[error("{module}: {source}")]
    Graph {
        module: Path,
        source: Box<GraphError>,
    },
    #[error("{module}: no parameter `{name}`")]
    MissingParameter { module: Path, name: String },
    #[error("{module}: no state `{name}`")]
    MissingState { module: Path, name: String },
    #[error("state `{state}` must have shape {expected}, got {got}")]
    StateShape {
        state: Path,
        expected: Shape,
        got: Shape,
    },
    #[error("{module}: state `{name}` was read but given no new value")]
    StateNotSet { module: Path, name: String },
    #[error("`{path}` is not an attribute or sub-module")]
    UnknownAttribute { path: Path },
    #[error("`{path}` must have shape {expected}, got {got}")]
    AttributeShape {
        path: Path,
        expected: Shape,
        got: Shape,
    },
    #[error("{module}: {message}")]
    Config { module: Path, message: String },
    #[error("{module}: {what} is not supported")]
    Unsupported { module: Path, what: String },
}

impl ModuleError {
    /// The same error seen from a container: `name` is prepended to the
    /// path it reports.
    pub fn within(self, name: &str) -> ModuleError {
        let prefix = |p: Path| {
            let mut keys = vec![name.to_string()];
            keys.extend(p.keys().iter().cloned());
            Path::from(keys)
        };
        match self {
            ModuleError::InputShape {
                module,
                expected,
                got,
            } => ModuleError::InputShape {
                module: prefix(module),
                expected,
                got,
            },
            ModuleError::OutputShape {
                module,
                expected,
                got,
            } => ModuleError::OutputShape {
                module: prefix(module),
                expected,
                got,
            },
            ModuleError::Graph { module, source } => ModuleError::Graph {
                module: prefix(module),
                source,
            },
            ModuleError::MissingParameter { module, name: n } => ModuleError::MissingParameter {
                module: prefix(module),
                name: n,
            },
            ModuleError::MissingState { module, name: n } => ModuleError::MissingState {
                module: prefix(module),
                name: n,
            },
            ModuleError::StateShape {
                state,
                expected,
                got,
            } => ModuleError::StateShape {
                state: prefix(state),
                expected,
                got,
            },
            ModuleError::StateNotSet { module, name: n } => ModuleError::StateNotSet {
                module: prefix(module),
                name: n,
            },
            ModuleError::UnknownAttribute { path } => {
                ModuleError::UnknownAttribute { path: prefix(path) }
            }
            ModuleError::AttributeShape {
                path,
                expected,
                got,
            } => ModuleError::AttributeShape {
                path: prefix(path),
                expected,
                got,
            },
            ModuleError::Config { module, message } => ModuleError::Config {
                module: prefix(module),
                message,
            },
            ModuleError::Unsupported { module, what } => ModuleError::Unsupported {
                module: prefix(module),
                what,
            },
        }
    }
}
