//! Parameter bounds, as in Rockpool's constrained-optimisation API:
//! [`make_bounds`] builds unconstrained lower / upper trees shaped like the
//! parameters, `tree::set_matching` constrains chosen families or names,
//! and [`bounds_cost`] turns the bounds into a penalty graph to add to the
//! loss (or [`clip_ranges`] into a projection after each optimiser step).
//!
//! ```
//! use neurojit::bounds::{make_bounds, Bound};
//! use neurojit::nn::{Lif, Module};
//! use neurojit::tree::set_matching;
//! let net = Lif::new(1);
//! let (lb, ub) = make_bounds(&net.parameters());
//! let lb = set_matching(&lb, &net.parameters_of(&["taus"]), Bound::from(0.0)).unwrap();
//! let ub = set_matching(&ub, &net.attributes_named(&["tau_syn"]), Bound::from(0.5)).unwrap();
//! assert_eq!(lb.to_string(), "{'tau_mem': 0.0, 'tau_syn': 0.0, 'bias': -inf, 'threshold': -inf}");
//! assert_eq!(ub.to_string(), "{'tau_mem': inf, 'tau_syn': 0.5, 'bias': inf, 'threshold': inf}");
//! ```
//!
//! Conventions: `make_bounds` keeps the parameter order (Rockpool torch's
//! behaviour; Rockpool jax sorts keys, which the conformance runner maps).
//! Trees are always paired by path, never by position, and a bounds tree
//! with a missing or extra branch is an error naming it.

mod clip;
mod cost;

/// Re-exported from [`crate::tree`]: how bounds trees are configured.
pub use crate::tree::{set_matching, set_matching_select};
pub use clip::{clip_ranges, ClipRange};
pub use cost::{bound_values, bounds_cost, bounds_cost_values};

use crate::tree::{Path, Tensor, Tree, TreeError};
use neurojit_compiler::ir::{GraphError, Shape};
use std::fmt;
use thiserror::Error;

/// A bound on one parameter: one value for every element, or one per
/// element (an array shaped like the parameter).
#[derive(Clone, Debug, PartialEq)]
pub enum Bound {
    Scalar(f32),
    Array(Tensor),
}

impl Bound {
    /// True when the bound can never be violated (an infinite scalar of the
    /// given direction: `-inf` for a lower bound, `+inf` for an upper one).
    pub fn is_unbounded(&self, infinity: f32) -> bool {
        matches!(self, Bound::Scalar(x) if *x == infinity)
    }

    /// The single value of a scalar bound or of a uniform array.
    pub fn uniform_value(&self) -> Option<f32> {
        match self {
            Bound::Scalar(x) => Some(*x),
            Bound::Array(t) => t.uniform_value(),
        }
    }
}

impl From<f32> for Bound {
    fn from(x: f32) -> Bound {
        Bound::Scalar(x)
    }
}

impl From<Tensor> for Bound {
    fn from(t: Tensor) -> Bound {
        Bound::Array(t)
    }
}

impl fmt::Display for Bound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Bound::Scalar(x) => write!(f, "{x:?}"),
            Bound::Array(t) => write!(f, "{t}"),
        }
    }
}

/// Unconstrained lower (`-inf`) and upper (`+inf`) bounds with the
/// structure and order of `params`.
pub fn make_bounds<L>(params: &Tree<L>) -> (Tree<Bound>, Tree<Bound>) {
    (
        params.map(|_| Bound::Scalar(f32::NEG_INFINITY)),
        params.map(|_| Bound::Scalar(f32::INFINITY)),
    )
}

/// Bounds that do not fit the parameters they constrain.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum BoundsError {
    #[error("{which} bounds do not match the parameters: {source}")]
    Structure {
        which: &'static str,
        source: TreeError,
    },
    #[error("{which} bound for `{path}` has shape {got}, expected a scalar or {expected}")]
    Shape {
        which: &'static str,
        path: Path,
        expected: Shape,
        got: Shape,
    },
    #[error("{which} bound for `{path}` varies per element; {context} takes uniform bounds only")]
    NotUniform {
        which: &'static str,
        path: Path,
        context: &'static str,
    },
    #[error("clipping `{path}` into [{lower}, {upper}]: expected lower <= upper")]
    EmptyRange { path: Path, lower: f32, upper: f32 },
    #[error("building the bounds graph: {0}")]
    Graph(#[from] GraphError),
}
