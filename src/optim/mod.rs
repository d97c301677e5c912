//! Optimisers as graphs, so the update is compiled like the network.
//!
//! An update program reads, for every parameter `p` (slots as in the
//! training programs): `Param(p)`, `Grad(p)`, and for Adam `Moment(2p)`
//! (first moment) and `Moment(2p + 1)` (second moment); plus `Scalar(k)`
//! arguments holding step-dependent scalars that the runtime computes each
//! step with [`Optimizer::step_scalars`] (Adam's bias corrections). It
//! writes `Param(p)` and `Moment(m)` outputs. An optional projection clips
//! every updated parameter into its bounds ([`crate::bounds::ClipRange`]).
//!
//! ```
//! use neurojit::optim::{Adam, Optimizer};
//! use neurojit_compiler::program::Slot;
//! use neurojit_compiler::ir::Shape;
//! let params = vec![Slot { slot: 0, name: "w".into(), shape: Shape::from([3]) }];
//! let adam = Adam::new(1e-3);
//! let update = adam.update_graph(&params, None).unwrap();
//! assert_eq!(update.outputs().len(), 3); // w, its two moments
//! assert_eq!(adam.step_scalars(1).len(), 2);
//! ```

mod adam;
mod sgd;

pub use adam::{Adam, AdamVariant};
pub use sgd::Sgd;

use crate::bounds::ClipRange;
use neurojit_compiler::ir::{Graph, GraphError, Value};
use neurojit_compiler::program::Slot;
use thiserror::Error;

/// A first-order optimiser whose update is a graph.
pub trait Optimizer: std::fmt::Debug + Send + Sync {
    fn name(&self) -> &'static str;

    /// The optimiser's kind as specs and checkpoints write it (`adam`,
    /// `sgd`), without a variant.
    fn kind(&self) -> &'static str;

    /// Moment buffers per parameter (Adam: 2, SGD: 0).
    fn moments_per_parameter(&self) -> usize;

    /// The update program for `params` (in slot order), optionally clipping
    /// each updated parameter into `clip[p]`.
    fn update_graph(
        &self,
        params: &[Slot],
        clip: Option<&[ClipRange]>,
    ) -> Result<Graph, OptimError>;

    /// The `Scalar(k)` arguments for update number `step` (counted from 1).
    fn step_scalars(&self, step: u64) -> Vec<f32>;
}

#[derive(Debug, Error, Clone, PartialEq)]
pub enum OptimError {
    #[error("{expected} parameters but {got} clip ranges")]
    ClipCount { expected: usize, got: usize },
    #[error("parameter slots must be numbered 0..{count} in order, found slot {found} at position {position}")]
    Slots {
        count: usize,
        position: usize,
        found: usize,
    },
    #[error("building the update graph: {0}")]
    Graph(#[from] GraphError),
}

/// Checks slot numbering and the clip list length.
fn check_signature(params: &[Slot], clip: Option<&[ClipRange]>) -> Result<(), OptimError> {
    for (position, s) in params.iter().enumerate() {
        if s.slot != position {
            return Err(OptimError::Slots {
                count: params.len(),
                position,
                found: s.slot,
            });
        }
    }
    match clip {
        Some(c) if c.len() != params.len() => Err(OptimError::ClipCount {
            expected: params.len(),
            got: c.len(),
        }),
        _ => Ok(()),
    }
}

/// `min(max(p, lower), upper)`, skipping infinite ends.
fn project(g: &mut Graph, p: Value, range: Option<&ClipRange>) -> Result<Value, GraphError> {
    let Some(range) = range else { return Ok(p) };
    let mut p = p;
    if range.lower != f32::NEG_INFINITY {
        let lo = g.scalar(range.lower);
        p = g.max(p, lo)?;
    }
    if range.upper != f32::INFINITY {
        let hi = g.scalar(range.upper);
        p = g.min(p, hi)?;
    }
    Ok(p)
}
