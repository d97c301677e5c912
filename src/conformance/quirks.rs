//! Where Rockpool's two backends differ from each other, the reference
//! numbers follow the backend that produced them; neurojit has one
//! convention, and this file maps each backend's quirks onto it:
//!
//! - **Class names**: `LinearJax`/`LinearTorch` → `Linear`, `LIFJax`/
//!   `LIFTorch` → `LIF`, `JaxSequential`/`TorchSequential` → `Sequential`,
//!   `JaxResidual`/`TorchResidual` → `Residual`. Sub-module names are taken
//!   from the case (`0_LinearTorch`), so paths compare exactly.
//! - **Threshold family**: jax calls it `"threshold"`, torch and neurojit
//!   `"thresholds"`. A jax query for `"threshold"` asks neurojit for
//!   `"thresholds"`; a jax query for `"thresholds"` matches nothing.
//! - **make_bounds key order**: jax sorts keys at every level; neurojit
//!   keeps parameter order (like torch). Bounds trees are compared after
//!   sorting ours for jax cases; `set_matching` keeps whatever order it is
//!   given, so the same applies to every step.
//! - **Pairing of bounds with parameters**: torch's `bounds_cost` pairs
//!   leaves by position, jax (and neurojit) by key. For torch cases the
//!   bounds leaves are re-keyed by position onto the parameter paths.
//! - **`w_rec` placeholder**: `LIFJax` always has a `w_rec` attribute (zeros
//!   when not recurrent), so jax's `attributes_named("w_rec")` lists
//!   non-recurrent LIFs too; neurojit has no such attribute, so those
//!   paths are dropped from the expected list.

use super::ConformanceError;
use crate::bounds::Bound;
use crate::nn::Module;
use crate::tree::{Path, Tensor, Tree};

/// The Rockpool backend that produced a case.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Jax,
    Torch,
}

impl Backend {
    pub fn parse(name: &str) -> Result<Backend, ConformanceError> {
        match name {
            "jax" => Ok(Backend::Jax),
            "torch" => Ok(Backend::Torch),
            other => Err(ConformanceError::Format(format!(
                "unknown backend `{other}`"
            ))),
        }
    }
}

/// The neurojit family a Rockpool family query corresponds to, or `None`
/// when it matches nothing in that backend's naming.
pub fn family_query(backend: Backend, rockpool: &str) -> Option<&str> {
    match (backend, rockpool) {
        (Backend::Jax, "threshold") => Some("thresholds"),
        (Backend::Jax, "thresholds") => None,
        (_, other) => Some(other),
    }
}

/// The name Rockpool gives a neurojit family in `backend`.
pub fn rockpool_family(backend: Backend, ours: &str) -> String {
    match (backend, ours) {
        (Backend::Jax, "thresholds") => "threshold".to_string(),
        (_, other) => other.to_string(),
    }
}

/// neurojit's class name for a Rockpool class.
pub fn neurojit_class(rockpool: &str) -> String {
    let stripped = rockpool
        .strip_prefix("Jax")
        .or_else(|| rockpool.strip_prefix("Torch"))
        .or_else(|| rockpool.strip_suffix("Jax"))
        .or_else(|| rockpool.strip_suffix("Torch"))
        .unwrap_or(rockpool);
    stripped.to_string()
}

/// A bounds tree in the key order Rockpool's `make_bounds` would give.
pub fn in_backend_order(backend: Backend, bounds: &Tree<Bound>) -> Tree<Bound> {
    match backend {
        Backend::Jax => bounds.sorted(),
        Backend::Torch => bounds.clone(),
    }
}

/// Bounds keyed the way the backend pairs them with `params`: unchanged
/// for jax (by key), re-keyed by position for torch.
pub fn paired_bounds(
    backend: Backend,
    params: &Tree<Tensor>,
    bounds: Tree<Bound>,
) -> Result<Tree<Bound>, ConformanceError> {
    match backend {
        Backend::Jax => Ok(bounds),
        Backend::Torch => {
            let leaves: Vec<Bound> = bounds.leaf_values().into_iter().cloned().collect();
            Tree::unflatten(&params.structure(), leaves).map_err(|e| {
                ConformanceError::Format(format!("torch bounds pair by position: {e}"))
            })
        }
    }
}

/// The expected `attributes_named(name)` paths with jax's `w_rec`
/// placeholders (on non-recurrent LIFs) removed.
pub fn expected_attributes(
    backend: Backend,
    name: &str,
    expected: Vec<Path>,
    network: &dyn Module,
) -> Vec<Path> {
    if backend != Backend::Jax || name != "w_rec" {
        return expected;
    }
    let params = network.parameters();
    expected
        .into_iter()
        .filter(|p| params.get_nested(p).is_ok())
        .collect()
}
