//! Loss functions as graphs: each takes `&mut Graph` and graph values and
//! returns the loss value, so losses are differentiated, simplified and
//! compiled together with the network.
//!
//! Semantics follow `rockpool.training.jax_loss`:
//! - [`mse`] is the mean over **all** elements, batch included; [`sse`]
//!   the sum. [`mse_step_term`] is one timestep's share of the mse of a
//!   whole run, so that summing it over the `T` steps gives `mse`.
//! - [`l2sqr_norm`] is the mean over leaves of each leaf's mean square;
//!   [`l0_norm_approx`] the mean over leaves of the mean of
//!   `p^4 / (p^4 + sigma)`. Both ignore NaN elements (and NaN leaves), like
//!   `nanmean`.
//! - [`softmax`] / [`logsoftmax`] take the max and the sum over **all**
//!   elements of `x`, not per row. [`cross_entropy`] is per row (torch's
//!   `CrossEntropyLoss` with probability targets, averaged over rows).
//! - [`bounds_cost`] is re-exported from [`crate::bounds`].

mod norms;
mod regression;
mod softmax;

pub use crate::bounds::bounds_cost;
pub use norms::{l0_norm_approx, l2sqr_norm, DEFAULT_L0_SIGMA};
pub use regression::{mse, mse_step_term, sse};
pub use softmax::{cross_entropy, logsoftmax, softmax};

use neurojit_compiler::ir::{GraphError, Shape};
use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq)]
pub enum LossError {
    #[error("{what}: expected shape {expected}, got {got}")]
    Shape {
        what: &'static str,
        expected: Shape,
        got: Shape,
    },
    #[error("{what} must be {requirement}, got {got}")]
    Argument {
        what: &'static str,
        requirement: &'static str,
        got: f32,
    },
    #[error("{0}")]
    Graph(#[from] GraphError),
}
