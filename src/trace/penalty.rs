//! The parameter-only part of the loss (terms that do not depend on time):
//! the weighted bounds penalty and optional norm penalties. Shared by the
//! step-program tracer and the unrolled tracer.

use super::TraceError;
use crate::bounds::{bounds_cost, Bound};
use crate::loss::{l0_norm_approx, l2sqr_norm};
use crate::tree::Tree;
use neurojit_compiler::ir::{ArgKind, Graph, Value};
use neurojit_compiler::program::{FixedTensor, Slot};

/// `weight * bounds_cost(params, lower, upper)`.
#[derive(Clone, Debug, PartialEq)]
pub struct BoundsPenalty {
    pub lower: Tree<Bound>,
    pub upper: Tree<Bound>,
    pub weight: f32,
}

/// Further parameter penalties added to the loss.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ParamPenalty {
    /// `weight * l2sqr_norm(params)`.
    L2sqr { weight: f32 },
    /// `weight * l0_norm_approx(params, sigma)`.
    L0Approx { weight: f32, sigma: f32 },
}

/// Builds the parameter-only loss, or `None` when there is no term.
/// Per-element bounds that are not uniform become `Fixed` arguments, their
/// values appended to `fixed`.
pub(super) fn parameter_loss(
    g: &mut Graph,
    params: &Tree<Value>,
    bounds: Option<&BoundsPenalty>,
    penalties: &[ParamPenalty],
    fixed: &mut Vec<FixedTensor>,
) -> Result<Option<Value>, TraceError> {
    let mut terms = Vec::new();
    if let Some(b) = bounds {
        let cost = bounds_cost(g, params, &b.lower, &b.upper, &mut |g, path, tensor| {
            let slot = Slot {
                slot: fixed.len(),
                name: format!("bound of {}", path.joined()),
                shape: tensor.shape().clone(),
            };
            let value = g.arg(ArgKind::Fixed, slot.slot, &slot.name, slot.shape.clone());
            fixed.push(FixedTensor {
                slot,
                values: tensor.data().to_vec(),
            });
            Ok(value)
        })?;
        terms.push(weighted(g, cost, b.weight));
    }
    for penalty in penalties {
        let term = match *penalty {
            ParamPenalty::L2sqr { weight } => {
                let v = l2sqr_norm(g, params)?;
                weighted(g, v, weight)
            }
            ParamPenalty::L0Approx { weight, sigma } => {
                let v = l0_norm_approx(g, params, sigma)?;
                weighted(g, v, weight)
            }
        };
        terms.push(term);
    }
    let mut total: Option<Value> = None;
    for term in terms {
        total = Some(match total {
            Some(t) => g.add(t, term)?,
            None => term,
        });
    }
    Ok(total)
}

fn weighted(g: &mut Graph, v: Value, weight: f32) -> Value {
    if weight == 1.0 {
        v
    } else {
        g.scale(v, weight)
    }
}
